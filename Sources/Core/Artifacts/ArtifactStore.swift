import Foundation

/// Named, versioned step outputs with metadata and lineage (`platform.artifacts`). Small payloads live
/// in Postgres; larger ones in the ``ObjectStore``.
public struct ArtifactStore: Sendable {
    public let namespace: String
    public let objects: (any BlobStore)?
    public let maxInlineBytes: Int

    public init(namespace: String, objects: (any BlobStore)?, maxInlineBytes: Int) {
        self.namespace = namespace
        self.objects = objects
        self.maxInlineBytes = maxInlineBytes
    }

    /// One artifact version.
    public struct Artifact: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var version: Int
        public var type: String
        public var metadata: JSONValue
        public var tags: [String]
        public var uri: String?
        public var size_bytes: Int
        public var sha256: String
        public var run_id: String?
        public var step: String?
        public var inputs: [String]
        public var created_at: String
    }

    /// Stores a new version of `name` inside the caller's transaction; returns its id and version.
    func create(name: String, type: String, value: JSONValue, metadata: JSONValue, runID: String?, step: String?,
                inputs: [String], on pg: PGConnection) throws -> (id: String, version: Int) {
        let text = value.jsonText
        let bytes = Array(text.utf8)
        let sha = SHA256.hash(bytes).hexString
        var payload: String? = text
        var uri: String?
        if bytes.count > maxInlineBytes {
            guard let objects else {
                throw TwinError.invalidInput("artifact \(name) is \(bytes.count) bytes, over the inline limit of \(maxInlineBytes) (TWIN_ARTIFACT_INLINE_BYTES), and no object store is configured")
            }
            uri = try objects.put(bytes).uri
            payload = nil
        }
        try pg.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["artifact:\(namespace):\(name)"])
        let version = try pg.query("SELECT coalesce(max(version), 0) + 1 AS v FROM platform.artifacts WHERE namespace = $1 AND name = $2",
                                   [namespace, name]).first?.int("v") ?? 1
        let id = UUIDv7.make()
        try pg.query("""
            INSERT INTO platform.artifacts (id, namespace, name, version, type, metadata, payload, uri, size_bytes, sha256, run_id, step, inputs)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11::uuid, $12, $13::uuid[])
            """, [id, namespace, name, version, type, metadata.jsonText, payload, uri, bytes.count, sha, runID, step,
                  "{" + inputs.joined(separator: ",") + "}"])
        return (id, version)
    }

    static let columns = """
        SELECT id, name, version, type, metadata::text AS metadata, tags, uri, size_bytes, sha256, run_id, step,
               inputs, created_at FROM platform.artifacts
        """

    static func artifact(_ r: PGRow) throws -> Artifact {
        func array(_ s: String?) -> [String] {
            guard let s, s.count > 2 else { return [] }
            return s.dropFirst().dropLast().split(separator: ",").map(String.init)
        }
        return Artifact(id: try r.string("id"), name: try r.string("name"), version: try r.int("version"), type: try r.string("type"),
                        metadata: try JSONValue.parse(try r.string("metadata")), tags: array(try r.optionalString("tags")),
                        uri: try r.optionalString("uri"), size_bytes: try r.int("size_bytes"), sha256: try r.string("sha256"),
                        run_id: try r.optionalString("run_id"), step: try r.optionalString("step"),
                        inputs: array(try r.optionalString("inputs")), created_at: Clock.iso(try r.date("created_at")))
    }

    /// Resolves `name`, `name:latest` or `name:3`. - Throws: ``TwinError/notFound(_:)``.
    func resolve(_ reference: String, on pg: PGConnection) throws -> Artifact {
        var name = reference, version: Int?
        if let colon = reference.lastIndex(of: ":") {
            name = String(reference[..<colon])
            let v = String(reference[reference.index(after: colon)...])
            if v != "latest" {
                guard let n = Int(v), n > 0 else { throw TwinError.invalidInput("artifact version must be a number or latest, got \"\(v)\"") }
                version = n
            }
        }
        let rows = version == nil
            ? try pg.query(Self.columns + " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1", [namespace, name])
            : try pg.query(Self.columns + " WHERE namespace = $1 AND name = $2 AND version = $3", [namespace, name, version!])
        guard let row = rows.first else { throw TwinError.notFound("no artifact \(reference)") }
        return try Self.artifact(row)
    }

    /// By id.
    func get(id: String, on pg: PGConnection) throws -> Artifact {
        guard let row = try pg.query(Self.columns + " WHERE namespace = $1 AND id = $2", [namespace, id]).first else {
            throw TwinError.notFound("no artifact with id \(id)")
        }
        return try Self.artifact(row)
    }

    /// The artifact's content.
    func value(of artifact: Artifact, on pg: PGConnection) throws -> JSONValue {
        if let uri = artifact.uri {
            guard let objects else { throw TwinError.io("artifact \(artifact.name):\(artifact.version) lives in an object store that is not configured") }
            return try JSONValue.parse(String(decoding: try objects.get(uri), as: UTF8.self))
        }
        let row = try pg.query("SELECT payload::text AS p FROM platform.artifacts WHERE id = $1", [artifact.id]).first
        return try JSONValue.parse(try row?.string("p") ?? "null")
    }

    /// Versions, newest first, optionally of one name.
    func list(name: String?, limit: Int, on pg: PGConnection) throws -> [Artifact] {
        let rows = name == nil
            ? try pg.query(Self.columns + " WHERE namespace = $1 ORDER BY created_at DESC LIMIT $2", [namespace, limit])
            : try pg.query(Self.columns + " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT $3", [namespace, name!, limit])
        return try rows.rows.map(Self.artifact)
    }
}
