import Foundation
import Neural

/// Dataset artifacts for training (type `dataset`): `{"format": "sft"|"dpo", "splits": {"train": [rows],
/// "test": [rows]}}`, versioned like every pipeline artifact. An import replaces one split and carries the
/// others over from the latest version; importing identical content returns the existing version.
public struct TrainingDatasets: Sendable {
    /// The artifact type of dataset artifacts.
    public static let artifactType = "dataset"

    public let postgres: PostgresClient
    public let artifacts: ArtifactStore

    public init(postgres: PostgresClient, artifacts: ArtifactStore) {
        self.postgres = postgres
        self.artifacts = artifacts
    }

    /// The store a configuration describes (namespace = queue key prefix, as the pipelines use).
    public init(configuration: TwinConfiguration, postgres: PostgresClient) throws {
        self.init(postgres: postgres,
                  artifacts: ArtifactStore(namespace: configuration.queue.keyPrefix, objects: try configuration.artifacts.blobStore(),
                                           maxInlineBytes: configuration.artifacts.maxInlineBytes))
    }

    /// What an import did.
    public struct ImportReport: Sendable, Codable, Equatable {
        /// The artifact, `name:version`.
        public var artifact: String
        public var id: String
        public var version: Int
        public var format: TrainingDatasetFormat
        public var split: String
        /// Rows per split in this version.
        public var rows: [String: Int]
        /// False when identical content was already the latest version (nothing written).
        public var created: Bool
    }

    /// A dataset as training reads it.
    public struct Loaded: Sendable {
        public var artifact: ArtifactStore.Artifact
        public var format: TrainingDatasetFormat
        public var train: [[String: String]]
        public var test: [[String: String]]
    }

    /// Imports JSONL `files` as split `split` of dataset `name`.
    public func importFiles(_ files: [String], name: String, split: String = "train") async throws -> ImportReport {
        guard !files.isEmpty else { throw TwinError.invalidInput("datasets import: give at least one JSONL file") }
        guard JobQueue.isName(name) else {
            throw TwinError.invalidInput("dataset name must be ASCII letters, digits, '-', '_' or '.', got \"\(name)\"")
        }
        guard ["train", "test"].contains(split) else { throw TwinError.invalidInput("--split must be train or test, got \"\(split)\"") }
        var format: TrainingDatasetFormat?
        var rows: [[String: String]] = []
        for file in files {
            let parsed = try TrainingDatasetFile.read(path: file, expected: format)
            format = parsed.format
            rows += parsed.rows
        }
        return try await store(rows: rows, format: format!, name: name, split: split, sources: files)
    }

    /// Stores parsed rows as split `split` of `name` (a new version unless nothing changed).
    public func store(rows: [[String: String]], format: TrainingDatasetFormat, name: String, split: String,
                      sources: [String]) async throws -> ImportReport {
        let store = artifacts
        return try await postgres.withTransaction { pg in
            try pg.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["dataset:\(store.namespace):\(name)"])
            var splits: [String: JSONValue] = [:]
            var previous: ArtifactStore.Artifact?
            var latest: ArtifactStore.Artifact?
            do { latest = try store.resolve(name, on: pg) } catch let e as TwinError where e.isNotFound { latest = nil }
            if let latest {
                guard latest.type == Self.artifactType else {
                    throw TwinError.invalidInput("artifact \(name) exists and is a \(latest.type), not a dataset")
                }
                let value = try store.value(of: latest, on: pg)
                if let f = value["format"]?.stringValue, f != format.rawValue {
                    throw TwinError.invalidInput("dataset \(name) holds \(f) rows (\(TrainingDatasetFormat(rawValue: f)?.requiredColumns.joined(separator: ", ") ?? "?")); these files are \(format.rawValue)")
                }
                splits = value["splits"]?.objectValue ?? [:]
                previous = latest
            }
            splits[split] = .array(rows.map { .object($0.mapValues { .string($0) }) })
            let content = JSONValue.object(["format": .string(format.rawValue), "splits": .object(splits)])
            let counts = splits.mapValues { v -> Int in if case .array(let a) = v { return a.count } else { return 0 } }
            if let previous, previous.sha256 == SHA256.hash(Array(content.jsonText.utf8)).hexString {
                return ImportReport(artifact: "\(name):\(previous.version)", id: previous.id, version: previous.version,
                                    format: format, split: split, rows: counts, created: false)
            }
            let metadata = JSONValue.object([
                "format": .string(format.rawValue),
                "columns": .array(format.requiredColumns.map(JSONValue.string)),
                "rows": .object(counts.mapValues { JSONValue.number(Double($0)) }),
                "imported_split": .string(split),
                "sources": .array(sources.map { .string(($0 as NSString).lastPathComponent) }),
            ])
            let made = try store.create(name: name, type: Self.artifactType, value: content, metadata: metadata, runID: nil,
                                        step: nil, inputs: previous.map { [$0.id] } ?? [], on: pg)
            return ImportReport(artifact: "\(name):\(made.version)", id: made.id, version: made.version, format: format,
                                split: split, rows: counts, created: true)
        }
    }

    /// Loads `name[:version]`. - Throws: ``TwinError/notFound(_:)`` naming the reference.
    public func load(_ reference: String) async throws -> Loaded {
        let store = artifacts
        let (artifact, value) = try await postgres.withConnection { pg in
            let a: ArtifactStore.Artifact
            do { a = try store.resolve(reference, on: pg) } catch let e as TwinError where e.isNotFound {
                throw TwinError.notFound("dataset \(reference) not found (import one with: twin datasets import FILE --name NAME)")
            }
            return (a, try store.value(of: a, on: pg))
        }
        guard artifact.type == Self.artifactType else {
            throw TwinError.invalidInput("artifact \(artifact.name):\(artifact.version) is a \(artifact.type), not a dataset")
        }
        guard let f = value["format"]?.stringValue, let format = TrainingDatasetFormat(rawValue: f) else {
            throw TwinError.invalidInput("dataset \(artifact.name):\(artifact.version) has no format (sft or dpo)")
        }
        func rows(_ split: String) throws -> [[String: String]] {
            guard let v = value["splits"]?[split] else { return [] }
            guard case .array(let items) = v else { throw TwinError.invalidInput("dataset \(artifact.name): split \(split) is not a list") }
            return try items.enumerated().map { i, item in
                guard let o = item.objectValue else { throw TwinError.invalidInput("dataset \(artifact.name): \(split) row \(i) is not an object") }
                return o.compactMapValues(\.stringValue)
            }
        }
        return Loaded(artifact: artifact, format: format, train: try rows("train"), test: try rows("test"))
    }

    /// Every version of dataset artifacts (or of one name), newest first.
    public func list(name: String? = nil, limit: Int = 50) async throws -> [ArtifactStore.Artifact] {
        let store = artifacts
        return try await postgres.withConnection { pg in try store.list(name: name, limit: limit, on: pg) }
            .filter { $0.type == Self.artifactType }
    }
}
