import Foundation

/// The model registry (`platform.models`): every trained model with its lineage (base model, dataset
/// artifact version, config hash, code version), metrics, artifacts and a stage. Stages move
/// `candidate → staging → production`, one step at a time; promoting a model to production archives the
/// one it replaces, and `rollback` gives production back to the model it replaced.
public struct ModelRegistry: Sendable {
    /// The stages in promotion order (`archived` is where replaced models go).
    public static let stages = ["candidate", "staging", "production"]

    public let postgres: PostgresClient
    /// Separates installations sharing one database (the queue key prefix).
    public let namespace: String

    public init(postgres: PostgresClient, namespace: String) {
        self.postgres = postgres
        self.namespace = namespace
    }

    /// One registered model version.
    public struct Entry: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var version: Int
        public var stage: String
        public var base_model: String
        /// The dataset artifact, `name:version`.
        public var dataset: String
        public var dataset_id: String?
        public var config_hash: String
        public var code_version: String
        public var job_id: String?
        public var config: JSONValue
        public var metrics: JSONValue
        public var artifacts: JSONValue
        public var created_at: String
        public var updated_at: String
    }

    /// What a new entry records.
    public struct Registration: Sendable {
        public var name: String
        public var baseModel: String
        public var dataset: String
        public var datasetID: String?
        public var config: JSONValue
        public var jobID: String?
        public var metrics: JSONValue
        public var artifacts: JSONValue

        public init(name: String, baseModel: String, dataset: String, datasetID: String?, config: JSONValue, jobID: String?,
                    metrics: JSONValue, artifacts: JSONValue) {
            self.name = name; self.baseModel = baseModel; self.dataset = dataset; self.datasetID = datasetID
            self.config = config; self.jobID = jobID; self.metrics = metrics; self.artifacts = artifacts
        }
    }

    /// SHA-256 of the config's canonical JSON (sorted keys), so equal configs hash equally.
    public static func configHash(_ config: JSONValue) -> String { SHA256.hash(Array(config.jsonText.utf8)).hexString }

    /// Registers a new version of `name` as a candidate. A job that already registered (a retry after a
    /// crash between registration and acknowledgement) gets its existing entry back.
    public func register(_ r: Registration) async throws -> Entry {
        let ns = namespace
        return try await postgres.withTransaction { pg in
            if let job = r.jobID, let row = try pg.query(Self.columns + " WHERE namespace = $1 AND job_id = $2::uuid", [ns, job]).first {
                return try Self.entry(row)
            }
            try pg.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["model:\(ns):\(r.name)"])
            let version = try pg.query("SELECT coalesce(max(version), 0) + 1 AS v FROM platform.models WHERE namespace = $1 AND name = $2",
                                       [ns, r.name]).first?.int("v") ?? 1
            let id = UUIDv7.make()
            try pg.query("""
                INSERT INTO platform.models (id, namespace, name, version, stage, base_model, dataset, dataset_id, config_hash,
                                             code_version, job_id, config, metrics, artifacts)
                VALUES ($1, $2, $3, $4, 'candidate', $5, $6, $7::uuid, $8, $9, $10::uuid, $11::jsonb, $12::jsonb, $13::jsonb)
                """, [id, ns, r.name, version, r.baseModel, r.dataset, r.datasetID, Self.configHash(r.config), TwinVersion.current,
                      r.jobID, r.config.jsonText, r.metrics.jsonText, r.artifacts.jsonText])
            return try Self.entry(try pg.query(Self.columns + " WHERE id = $1", [id]).first!)
        }
    }

    /// Models, newest first (optionally of one name or stage).
    public func list(name: String? = nil, stage: String? = nil, limit: Int = 50) async throws -> [Entry] {
        if let stage, !(Self.stages + ["archived"]).contains(stage) {
            throw TwinError.invalidInput("stage must be one of candidate, staging, production, archived, got \"\(stage)\"")
        }
        let rows = try await postgres.query(Self.columns + """
             WHERE namespace = $1 AND ($2::text IS NULL OR name = $2) AND ($3::text IS NULL OR stage = $3)
             ORDER BY created_at DESC, version DESC LIMIT $4
            """, [namespace, name, stage, limit])
        return try rows.rows.map(Self.entry)
    }

    /// `name:version`, `name` (its latest version), `name:production` (its production model) or a model id.
    public func show(_ reference: String) async throws -> Entry {
        let ns = namespace
        return try await postgres.withConnection { pg in try Self.resolve(reference, namespace: ns, on: pg) }
    }

    /// Moves a model one stage up: candidate → staging, staging → production (the current production
    /// model is archived). Skipping a stage or promoting past production is refused.
    public func promote(_ reference: String, to target: String? = nil) async throws -> Entry {
        let ns = namespace
        return try await postgres.withTransaction { pg in
            let model = try Self.resolve(reference, namespace: ns, on: pg)
            try pg.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["model:\(ns):\(model.name)"])
            let current = try Self.resolve(model.id, namespace: ns, on: pg)
            guard let index = Self.stages.firstIndex(of: current.stage) else {
                throw TwinError.invalidInput("\(current.name):\(current.version) is archived; only candidate and staging models can be promoted")
            }
            guard index + 1 < Self.stages.count else {
                throw TwinError.invalidInput("\(current.name):\(current.version) is already in production")
            }
            let next = Self.stages[index + 1]
            if let target, target != next {
                guard Self.stages.contains(target) else {
                    throw TwinError.invalidInput("stage must be staging or production, got \"\(target)\"")
                }
                throw TwinError.invalidInput("\(current.name):\(current.version) is \(current.stage): it can only move to \(next), not \(target) (candidate → staging → production)")
            }
            if next == "production" {
                for row in try pg.query("SELECT id FROM platform.models WHERE namespace = $1 AND name = $2 AND stage = 'production'",
                                        [ns, current.name]).rows {
                    try Self.move(try row.string("id"), from: "production", to: "archived", reason: "superseded", on: pg)
                }
            }
            try Self.move(current.id, from: current.stage, to: next, reason: "promoted", on: pg)
            return try Self.resolve(current.id, namespace: ns, on: pg)
        }
    }

    /// Returns production of `name` to the model it replaced: the current production model is archived and
    /// the most recently superseded one (not already restored) is production again.
    public func rollback(_ name: String) async throws -> (restored: Entry, retired: Entry) {
        let ns = namespace
        return try await postgres.withTransaction { pg in
            try pg.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["model:\(ns):\(name)"])
            guard let row = try pg.query(Self.columns + " WHERE namespace = $1 AND name = $2 AND stage = 'production'", [ns, name]).first else {
                if try pg.query("SELECT 1 FROM platform.models WHERE namespace = $1 AND name = $2", [ns, name]).first == nil {
                    throw TwinError.notFound("no model named \(name)")
                }
                throw TwinError.invalidInput("\(name) has no production model to roll back")
            }
            let current = try Self.entry(row)
            // The newest "superseded" event of another model with no later "restored" event: a stack of
            // earlier production models, so repeated rollbacks walk back in order.
            guard let prev = try pg.query("""
                SELECT e.model_id::text AS id FROM platform.model_stage_events e JOIN platform.models m ON m.id = e.model_id
                WHERE m.namespace = $1 AND m.name = $2 AND e.reason = 'superseded' AND e.model_id <> $3::uuid
                  AND m.stage = 'archived'
                  AND NOT EXISTS (SELECT 1 FROM platform.model_stage_events r
                                  WHERE r.model_id = e.model_id AND r.reason = 'restored' AND r.id > e.id)
                ORDER BY e.id DESC LIMIT 1
                """, [ns, name, current.id]).first else {
                throw TwinError.invalidInput("\(name):\(current.version) is the first production model of \(name): there is nothing to roll back to")
            }
            try Self.move(current.id, from: "production", to: "archived", reason: "rolled back", on: pg)
            let restoredID = try prev.string("id")
            try Self.move(restoredID, from: "archived", to: "production", reason: "restored", on: pg)
            return (try Self.resolve(restoredID, namespace: ns, on: pg), try Self.resolve(current.id, namespace: ns, on: pg))
        }
    }

    /// Stage changes of a model, oldest first.
    public func history(_ reference: String) async throws -> [StageEvent] {
        let entry = try await show(reference)
        let rows = try await postgres.query("""
            SELECT from_stage, to_stage, reason, created_at FROM platform.model_stage_events WHERE model_id = $1::uuid ORDER BY id
            """, [entry.id])
        return try rows.rows.map {
            StageEvent(from: try $0.string("from_stage"), to: try $0.string("to_stage"), reason: try $0.string("reason"),
                       at: Clock.iso(try $0.date("created_at")))
        }
    }

    /// One stage change.
    public struct StageEvent: Sendable, Codable, Equatable {
        public var from: String
        public var to: String
        public var reason: String
        public var at: String
    }

    static func move(_ id: String, from: String, to: String, reason: String, on pg: PGConnection) throws {
        try pg.query("UPDATE platform.models SET stage = $2, updated_at = now() WHERE id = $1::uuid", [id, to])
        try pg.query("INSERT INTO platform.model_stage_events (model_id, from_stage, to_stage, reason) VALUES ($1::uuid, $2, $3, $4)",
                     [id, from, to, reason])
    }

    static let columns = """
        SELECT id::text AS id, name, version, stage, base_model, dataset, dataset_id::text AS dataset_id, config_hash, code_version,
               job_id::text AS job_id, config::text AS config, metrics::text AS metrics, artifacts::text AS artifacts,
               created_at, updated_at FROM platform.models
        """

    static func resolve(_ reference: String, namespace: String, on pg: PGConnection) throws -> Entry {
        if UUID(uuidString: reference) != nil, let row = try pg.query(columns + " WHERE namespace = $1 AND id = $2::uuid", [namespace, reference]).first {
            return try entry(row)
        }
        var name = reference
        var rows: PGRows
        if let colon = reference.lastIndex(of: ":") {
            name = String(reference[..<colon])
            let tail = String(reference[reference.index(after: colon)...])
            if let v = Int(tail), v > 0 {
                rows = try pg.query(columns + " WHERE namespace = $1 AND name = $2 AND version = $3", [namespace, name, v])
            } else if tail == "latest" {
                rows = try pg.query(columns + " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1", [namespace, name])
            } else if stages.contains(tail) || tail == "archived" {
                rows = try pg.query(columns + " WHERE namespace = $1 AND name = $2 AND stage = $3 ORDER BY version DESC LIMIT 1",
                                    [namespace, name, tail])
            } else {
                throw TwinError.invalidInput("model reference must be NAME, NAME:VERSION, NAME:STAGE or an id, got \"\(reference)\"")
            }
        } else {
            rows = try pg.query(columns + " WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1", [namespace, name])
        }
        guard let row = rows.first else { throw TwinError.notFound("no model \(reference)") }
        return try entry(row)
    }

    static func entry(_ r: PGRow) throws -> Entry {
        Entry(id: try r.string("id"), name: try r.string("name"), version: try r.int("version"), stage: try r.string("stage"),
              base_model: try r.string("base_model"), dataset: try r.string("dataset"), dataset_id: try r.optionalString("dataset_id"),
              config_hash: try r.string("config_hash"), code_version: try r.string("code_version"), job_id: try r.optionalString("job_id"),
              config: try JSONValue.parse(try r.string("config")), metrics: try JSONValue.parse(try r.string("metrics")),
              artifacts: try JSONValue.parse(try r.string("artifacts")),
              created_at: Clock.iso(try r.date("created_at")), updated_at: Clock.iso(try r.date("updated_at")))
    }
}
