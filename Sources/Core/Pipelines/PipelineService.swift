import Foundation

/// Starting, inspecting, cancelling and retrying pipeline runs; the outbox relay; artifact queries.
public struct PipelineService: Sendable {
    public let queue: JobQueue
    var engine: PipelineEngine { queue.pipelines }
    var namespace: String { queue.settings.keyPrefix }

    public init(queue: JobQueue) {
        self.queue = queue
    }

    /// A run as shown by `twin pipeline show`.
    public struct RunView: Sendable, Codable, Equatable {
        public var id: String
        public var name: String
        public var pipeline: String
        public var state: String
        public var params: JSONValue
        public var error: String?
        public var code_version: String
        public var triggered_by: String
        public var trigger: String
        public var created_at: String
        public var finished_at: String?
        public var steps: [StepView]
    }

    public struct StepView: Sendable, Codable, Equatable {
        public var step: String
        public var kind: String
        public var state: String
        public var cached: Bool
        public var fan_out_total: Int
        public var fan_out_succeeded: Int
        public var fan_out_failed: Int
        public var artifact: String?
        public var error: String?
        public var started_at: String?
        public var finished_at: String?
    }

    /// Validates and starts a run; its first steps are enqueued before this returns.
    /// - Throws: ``TwinError/invalidInput(_:)`` for bad parameters, before anything is written.
    public func start(_ def: PipelineDefinition, overrides: [String: JSONValue] = [:], noCache: Bool = false,
                      triggeredBy: String = NSUserName(), trigger: String = "cli") async throws -> RunView {
        let params = try def.resolveParameters(overrides)
        let paramsText = JSONValue.object(params).jsonText
        if engine.artifacts.objects == nil, paramsText.utf8.count > engine.artifacts.maxInlineBytes {
            throw TwinError.invalidInput("parameters are \(paramsText.utf8.count) bytes, over the artifact limit of \(engine.artifacts.maxInlineBytes) (TWIN_ARTIFACT_INLINE_BYTES) with no object store configured")
        }
        let defText = String(decoding: try JSONEncoder().encode(def), as: UTF8.self)
        let id = UUIDv7.make()
        let stamp = Clock.iso(Date()).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
            .replacingOccurrences(of: "T", with: "_").prefix(15)
        let name = "\(def.name)_run_\(stamp)_\(id.suffix(4))"
        let namespace = self.namespace, engine = self.engine
        try await transition { pg in
            try pg.query("""
                INSERT INTO platform.pipeline_runs (id, namespace, name, pipeline, definition, params, state, no_cache,
                    code_version, triggered_by, trigger)
                VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, 'running', $7, $8, $9, $10)
                """, [id, namespace, name, def.name, defText, paramsText, noCache, TwinVersion.current, triggeredBy, trigger])
            for step in def.steps {
                try pg.query("INSERT INTO platform.step_runs (run_id, step, kind, state) VALUES ($1, $2, $3, 'pending')",
                             [id, step.name, step.kind])
            }
            return try engine.dispatchReady(run: id, on: pg)
        }
        return try await show(id)
    }

    /// A run with its steps. Accepts the id or the readable name.
    public func show(_ run: String) async throws -> RunView {
        let namespace = self.namespace
        return try await queue.postgres.withConnection { pg in
            guard let r = try pg.query("""
                SELECT id, name, pipeline, state, params::text AS params, error, code_version, triggered_by, trigger, created_at, finished_at
                FROM platform.pipeline_runs WHERE namespace = $1 AND (id::text = $2 OR name = $2)
                """, [namespace, run]).first else { throw TwinError.notFound("no pipeline run \(run)") }
            let id = try r.string("id")
            let steps = try pg.query("""
                SELECT s.step, s.kind, s.state, s.cached, s.fan_total, s.fan_succeeded, s.fan_failed, s.error, s.started_at,
                       s.finished_at, a.name || ':' || a.version AS artifact
                FROM platform.step_runs s LEFT JOIN platform.artifacts a ON a.id = s.artifact_id
                WHERE s.run_id = $1
                """, [id]).rows.map { s in
                StepView(step: try s.string("step"), kind: try s.string("kind"), state: try s.string("state"), cached: try s.bool("cached"),
                         fan_out_total: try s.int("fan_total"), fan_out_succeeded: try s.int("fan_succeeded"),
                         fan_out_failed: try s.int("fan_failed"), artifact: try s.optionalString("artifact"), error: try s.optionalString("error"),
                         started_at: try s.optionalDate("started_at").map(Clock.iso), finished_at: try s.optionalDate("finished_at").map(Clock.iso))
            }
            let def = try self.engine.definition(of: id, on: pg)
            let order = Dictionary(uniqueKeysWithValues: def.steps.enumerated().map { ($1.name, $0) })
            return RunView(id: id, name: try r.string("name"), pipeline: try r.string("pipeline"), state: try r.string("state"),
                           params: try JSONValue.parse(try r.string("params")), error: try r.optionalString("error"),
                           code_version: try r.string("code_version"), triggered_by: try r.string("triggered_by"),
                           trigger: try r.string("trigger"), created_at: Clock.iso(try r.date("created_at")),
                           finished_at: try r.optionalDate("finished_at").map(Clock.iso),
                           steps: steps.sorted { (order[$0.step] ?? 0) < (order[$1.step] ?? 0) })
        }
    }

    /// Recent runs, newest first.
    public func runs(limit: Int = 20) async throws -> [RunView] {
        let ids = try await queue.postgres.query("""
            SELECT id FROM platform.pipeline_runs WHERE namespace = $1 ORDER BY created_at DESC LIMIT $2
            """, [namespace, limit]).rows.map { try $0.string("id") }
        var out: [RunView] = []
        for id in ids { out.append(try await show(id)) }
        return out
    }

    /// Cancels a running run: waiting steps are cancelled, queued and running step jobs are cancelled.
    public func cancel(_ run: String) async throws -> RunView {
        let view = try await show(run)
        guard view.state == "running" else { throw TwinError.invalidInput("run \(view.name) is \(view.state), not running") }
        let jobIDs = try await queue.postgres.withTransaction { pg -> [String] in
            try pg.query("UPDATE platform.pipeline_runs SET state = 'cancelled', error = 'cancelled', finished_at = now() WHERE id = $1", [view.id])
            let ids = try pg.query("""
                SELECT unnest(job_ids)::text AS j FROM platform.step_runs WHERE run_id = $1 AND state = 'queued'
                """, [view.id]).rows.map { try $0.string("j") }
            try pg.query("UPDATE platform.step_runs SET state = 'cancelled', finished_at = now() WHERE run_id = $1 AND state IN ('pending', 'queued')", [view.id])
            try pg.query("UPDATE platform.outbox SET dispatched_at = now() WHERE dispatched_at IS NULL AND (spec->>'pipeline') LIKE $1", [view.id + "|%"])
            return ids
        }
        for id in jobIDs { _ = try? await queue.cancel(id: id) }
        return try await show(view.id)
    }

    /// Retries a failed or cancelled run from its failed steps: they and every step after them run again;
    /// succeeded steps keep their outputs.
    public func retry(_ run: String) async throws -> RunView {
        let view = try await show(run)
        guard view.state == "failed" || view.state == "cancelled" else {
            throw TwinError.invalidInput("run \(view.name) is \(view.state); only failed or cancelled runs can be retried")
        }
        let engine = self.engine
        try await transition { pg in
            try pg.query("UPDATE platform.pipeline_runs SET state = 'running', error = NULL, finished_at = NULL WHERE id = $1", [view.id])
            try pg.query("""
                UPDATE platform.step_runs SET state = 'pending', error = NULL, fan_total = 0, fan_succeeded = 0, fan_failed = 0,
                    job_ids = '{}', started_at = NULL, finished_at = NULL WHERE run_id = $1 AND state <> 'succeeded'
                """, [view.id])
            return try engine.dispatchReady(run: view.id, on: pg)
        }
        return try await show(view.id)
    }

    /// Enqueues outbox entries older than `age` that were never dispatched (their committer died between
    /// the Postgres commit and the Redis enqueue). Returns how many.
    @discardableResult
    public func relay(olderThan age: Duration = .seconds(5)) async throws -> Int {
        let namespace = self.namespace, queue = self.queue
        return try await queue.withRedisAndPostgres { conn, pg in
            let rows = try pg.query("""
                SELECT spec::text AS s FROM platform.outbox WHERE namespace = $1 AND dispatched_at IS NULL
                  AND created_at < now() - make_interval(secs => $2) ORDER BY created_at LIMIT 5000
                """, [namespace, Double(JobQueue.ms(age)) / 1000])
            let entries = try rows.rows.map { try JSONDecoder().decode(OutboxEntry.self, from: Data(try $0.string("s").utf8)) }
            try queue.dispatch(entries, redisConn: conn, pg: pg)
            return entries.count
        }
    }

    /// Runs one pipeline transition in a transaction, then enqueues the jobs it decided (its outbox entries).
    private func transition(_ body: @escaping @Sendable (PGConnection) throws -> [OutboxEntry]) async throws {
        let queue = self.queue
        try await queue.withRedisAndPostgres { conn, pg in
            let outbox = try pg.transaction(body)
            try queue.dispatch(outbox, redisConn: conn, pg: pg)
        }
    }

    // MARK: Artifacts

    public func artifacts(name: String? = nil, limit: Int = 50) async throws -> [ArtifactStore.Artifact] {
        let store = engine.artifacts
        return try await queue.postgres.withConnection { pg in try store.list(name: name, limit: limit, on: pg) }
    }

    public func artifact(_ reference: String) async throws -> (ArtifactStore.Artifact, JSONValue) {
        let store = engine.artifacts
        return try await queue.postgres.withConnection { pg in
            let a = try store.resolve(reference, on: pg)
            return (a, try store.value(of: a, on: pg))
        }
    }

    /// Writes `<name>-v<version>.json` (the content) and `<name>-v<version>.meta.json` into `directory`.
    public func export(_ reference: String, to directory: String) async throws -> [String] {
        let (a, value) = try await artifact(reference)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = "\(directory)/\(a.name)-v\(a.version)"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(value).write(to: URL(fileURLWithPath: base + ".json"))
            try encoder.encode(a).write(to: URL(fileURLWithPath: base + ".meta.json"))
        } catch { throw TwinError.io("cannot write \(base).json: \(error.localizedDescription)") }
        return [base + ".json", base + ".meta.json"]
    }

    /// Finds `NAME` as `<pipelines dir>/NAME.yaml` (or takes a path).
    public static func definitionPath(_ name: String, directory: String) -> String {
        if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.contains("/") { return name }
        return "\(directory)/\(name).yaml"
    }
}
