import Foundation
import Logging

/// The reliable job queue: Redis holds what is in flight, Postgres the outcomes.
///
/// Every transition is one Lua script (``QueueScripts``). A leased job carries a fencing token; its outcome
/// is committed in three steps — fence (Redis: the token still owns the job), commit (Postgres, many
/// outcomes per transaction, keyed by job id, final states never overwritten), ack (Redis: remove it) — so a
/// worker whose lease was taken over can neither commit nor acknowledge, and a crash at any point leaves the
/// job in flight for the reaper to finish or requeue.
public final class JobQueue: Sendable {
    public let settings: TwinConfiguration.QueueSettings
    public let redis: RedisClient
    public let postgres: PostgresClient
    public let registry: JobRegistry
    public let events: JobEvents
    let logger = Logger(label: "twin.queue")
    /// Pipeline transitions that ride on outcome commits.
    public let pipelines: PipelineEngine
    var prefix: String { settings.keyPrefix }
    /// How long a `completing` job may wait for its commit before the reaper checks it.
    let commitGrace: Duration

    public init(settings: TwinConfiguration.QueueSettings, redis: RedisClient, postgres: PostgresClient,
                registry: JobRegistry, artifacts: ArtifactSettings = ArtifactSettings()) {
        self.settings = settings
        self.redis = redis
        self.postgres = postgres
        self.registry = registry
        self.events = JobEvents(redis: redis, prefix: settings.keyPrefix)
        self.commitGrace = max(settings.leaseDuration, .seconds(5))
        // Validated at configuration load; an invalid endpoint here means no object store.
        let objects = (try? artifacts.blobStore()) ?? nil
        self.pipelines = PipelineEngine(namespace: settings.keyPrefix,
                                        artifacts: ArtifactStore(namespace: settings.keyPrefix, objects: objects,
                                                                 maxInlineBytes: artifacts.maxInlineBytes))
    }

    static func ms(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    // MARK: Enqueue

    /// Validates a spec without enqueuing it.
    public func validate(_ spec: JobSpec) throws {
        try registry.validate(kind: spec.kind, payload: spec.payload)
        let size = spec.payload.utf8.count
        guard size <= settings.maxPayloadBytes else {
            throw TwinError.invalidInput("payload is \(size) bytes, over the limit of \(settings.maxPayloadBytes) (TWIN_MAX_PAYLOAD_BYTES)")
        }
        guard (0...9).contains(spec.priority) else { throw TwinError.invalidInput("priority must be 0…9, got \(spec.priority)") }
        guard Self.isName(spec.queue) else {
            throw TwinError.invalidInput("queue name must be ASCII letters, digits, '-', '_' or '.', got \"\(spec.queue)\"")
        }
        if let n = spec.maxAttempts, n < 1 || n > 1000 { throw TwinError.invalidInput("max attempts must be 1…1000, got \(n)") }
        if let t = spec.timeout, t <= .zero { throw TwinError.invalidInput("timeout must be positive") }
        if spec.delay < .zero { throw TwinError.invalidInput("delay must not be negative") }
        if let k = spec.idempotencyKey, k.isEmpty || k.utf8.count > 512 {
            throw TwinError.invalidInput("idempotency key must be 1…512 bytes")
        }
    }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f || b == 0x2e
        }
    }

    private func fields(_ spec: JobSpec, id: String) -> [String] {
        [id, spec.kind, spec.queue, spec.payload, String(spec.priority),
         String(spec.maxAttempts ?? settings.defaultMaxAttempts), String(spec.timeout.map(Self.ms) ?? 0),
         String(Self.ms(spec.delay)), spec.idempotencyKey ?? "", spec.tenant ?? "", spec.batch ?? "", spec.pipeline ?? ""]
    }

    /// Enqueues one job and returns its id (or, for a repeated idempotency key, the first job's id).
    /// - Throws: ``TwinError/invalidInput(_:)`` before anything is written; ``TwinError/redis(_:)`` if Redis fails.
    @discardableResult
    public func enqueue(_ spec: JobSpec) async throws -> String {
        try await enqueue([spec])[0]
    }

    /// Enqueues many jobs atomically per call of at most 500 (all validated before any is written).
    public func enqueue(_ specs: [JobSpec]) async throws -> [String] {
        for spec in specs { try validate(spec) }
        let args = specs.map { fields($0, id: $0.presetID ?? UUIDv7.make()) }
        return try await redis.withConnection { conn in try self.enqueueRaw(args, on: conn) }
    }

    /// Enqueues already validated field lists on a connection the caller holds, 500 per script call.
    func enqueueRaw(_ args: [[String]], on conn: RedisConnection) throws -> [String] {
        let header = [prefix, String(Self.ms(settings.uniqueWindow))]
        var ids: [String] = []
        ids.reserveCapacity(args.count)
        var start = 0
        while start < args.count {
            let chunk = args[start..<min(start + 500, args.count)]
            let reply = try conn.eval(QueueScripts.enqueue, args: header + chunk.flatMap { $0 })
            ids += reply.array.compactMap(\.text)
            start += 500
        }
        return ids
    }

    /// Enqueues outbox entries (their ids double as idempotency keys, so a relay racing this is harmless)
    /// and marks them dispatched.
    func dispatch(_ entries: [OutboxEntry], redisConn conn: RedisConnection, pg: PGConnection) throws {
        guard !entries.isEmpty else { return }
        _ = try enqueueRaw(entries.map { fields($0.spec, id: $0.jobID) }, on: conn)
        // Losing this mark in a crash only means a harmless second enqueue (same id and idempotency key),
        // so it need not wait for a disk flush.
        try pg.transaction { pg in
            try pg.execute("SET LOCAL synchronous_commit = off")
            try pg.query("UPDATE platform.outbox SET dispatched_at = now() WHERE job_id = ANY($1::uuid[])",
                         ["{" + entries.map(\.jobID).joined(separator: ",") + "}"])
        }
    }

    /// A batch: its id, its children's ids and the callback job's id.
    public struct Batch: Sendable, Codable {
        public let id: String
        public let children: [String]
        public let callback: String
    }

    /// Enqueues `children` as a batch; when the last child reaches a final state, `callback` is enqueued
    /// with `{"batch": {"id", "total", "failed"}}` merged into its payload.
    public func enqueueBatch(_ children: [JobSpec], callback: JobSpec) async throws -> Batch {
        guard !children.isEmpty else { throw TwinError.invalidInput("a batch needs at least one job") }
        try validate(callback)
        guard case .object = try JSONValue.parse(callback.payload) else {
            throw TwinError.invalidInput("a batch callback's payload must be a JSON object")
        }
        let batchID = UUIDv7.make()
        let callbackID = UUIDv7.make()
        for c in children { try validate(c) }
        _ = try await redis.command(["HSET", "\(prefix):batch:\(batchID)", "total", String(children.count),
                                     "pending", String(children.count), "failed", "0",
                                     "cb_id", callbackID, "cb_kind", callback.kind, "cb_queue", callback.queue,
                                     "cb_payload", callback.payload, "cb_priority", String(callback.priority),
                                     "cb_max_attempts", String(callback.maxAttempts ?? settings.defaultMaxAttempts),
                                     "cb_timeout_ms", String(callback.timeout.map(Self.ms) ?? 0),
                                     "cb_tenant", callback.tenant ?? ""])
        var specs = children
        for i in specs.indices { specs[i].batch = batchID; specs[i].idempotencyKey = nil }
        let ids = try await enqueue(specs)
        return Batch(id: batchID, children: ids, callback: callbackID)
    }

    // MARK: Worker side (synchronous: run on the worker's own Redis lane)

    /// The result of a lease call.
    public struct Lease: Sendable {
        public let jobs: [LeasedJob]
        /// When the earliest delayed job of the served queues becomes due (µs, Redis clock), if any.
        public let nextDueMicros: Int64?
    }

    /// Leases up to `max` jobs from `queues` (in that priority order) for `worker`.
    public func lease(on conn: RedisConnection, queues: [String], worker: String, max: Int) throws -> Lease {
        let reply = try conn.eval(QueueScripts.lease, args: [prefix, String(Self.ms(settings.leaseDuration)), worker, String(max)] + queues)
        let items = reply.array
        let next = items.first?.int ?? -1
        var jobs: [LeasedJob] = []
        var i = 1
        while i + 15 < items.count {
            func s(_ k: Int) -> String { items[i + k].text ?? "" }
            func n(_ k: Int) -> Int { items[i + k].int ?? 0 }
            jobs.append(LeasedJob(id: s(0), token: s(1), queue: s(2), kind: s(3), payload: s(4), priority: n(5),
                                  attempt: n(6), maxAttempts: n(7), timeoutMs: n(8), createdMicros: Int64(n(9)),
                                  startedMicros: Int64(n(10)), batch: s(11), tenant: s(12), crashes: n(13),
                                  idempotencyKey: s(14), pipeline: s(15)))
            i += 16
        }
        return Lease(jobs: jobs, nextDueMicros: next >= 0 ? Int64(next) : nil)
    }

    /// Blocks up to `timeout` for a wake-up on any of `queues`.
    public func waitForWork(on conn: RedisConnection, queues: [String], timeout: Duration) throws {
        let seconds = max(0.01, Double(Self.ms(timeout)) / 1000)
        let reply = try conn.command(["BLPOP"] + queues.map { "\(prefix):wake:\($0)" } + [String(format: "%.3f", seconds)])
        if case .error(let e) = reply { throw TwinError.redis("\(redis.endpoint): BLPOP failed: \(e)") }
    }

    /// Extends the leases of `jobs`; returns the ids whose lease was lost and those asked to cancel.
    public func renew(on conn: RedisConnection, _ jobs: [(id: String, token: String)]) throws -> (lost: [String], cancel: [String]) {
        guard !jobs.isEmpty else { return ([], []) }
        let reply = try conn.eval(QueueScripts.renew, args: [prefix, String(Self.ms(settings.leaseDuration))] + jobs.flatMap { [$0.id, $0.token] })
        var lost: [String] = [], cancel: [String] = []
        for (job, flag) in zip(jobs, reply.array) {
            switch flag.int {
            case 1: lost.append(job.id)
            case 2: cancel.append(job.id)
            default: break
            }
        }
        return (lost, cancel)
    }

    /// Backoff before the next attempt: base · 2^(attempt-1), capped, with ±25 % jitter.
    public func retryDelay(attempt: Int) -> Duration {
        let base = Double(Self.ms(settings.retryBase))
        let capped = min(base * pow(2, Double(max(0, attempt - 1))), Double(Self.ms(settings.retryMax)))
        return .milliseconds(Int(capped * Double.random(in: 0.75...1.25)))
    }

    /// Schedules failed jobs for another attempt; returns how many were still owned.
    @discardableResult
    public func retry(on conn: RedisConnection, _ items: [(job: LeasedJob, error: String)]) throws -> Int {
        guard !items.isEmpty else { return 0 }
        let args = items.flatMap { [$0.job.id, $0.job.token, String(Self.ms(retryDelay(attempt: $0.job.attempt))), $0.error] }
        return try conn.eval(QueueScripts.retry, args: [prefix] + args).array.filter { $0.int == 1 }.count
    }

    /// Returns owned jobs to their queue (graceful shutdown); the attempt is not counted.
    @discardableResult
    public func release(on conn: RedisConnection, _ jobs: [LeasedJob]) throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        return try conn.eval(QueueScripts.requeue, args: [prefix] + jobs.flatMap { [$0.id, $0.token, "0"] })
            .array.filter { $0.int == 1 }.count
    }

    /// What a group commit did.
    public struct CommitReport: Sendable, Equatable {
        /// Outcomes now committed in Postgres and removed from Redis.
        public var committed = 0
        /// Outcomes from workers that no longer owned their job (rejected at the fence).
        public var staleRejected = 0
        /// Outcomes for jobs that already had a final state in Postgres (a duplicate run; not overwritten).
        public var alreadyFinal = 0
    }

    /// Commits final outcomes: fence in Redis, one Postgres transaction, ack in Redis.
    ///
    /// `redisConn` is the caller's own connection (a worker's committer lane). If Postgres fails, the
    /// fenced jobs stay in flight and the reaper requeues them once their grace has passed; the error is thrown.
    public func commit(_ outcomes: [JobOutcome], redisConn conn: RedisConnection, pg: PGConnection) throws -> CommitReport {
        var report = CommitReport()
        guard !outcomes.isEmpty else { return report }
        let fence = try conn.eval(QueueScripts.fence, args: [prefix, String(Self.ms(commitGrace))] + outcomes.flatMap { [$0.job.id, $0.job.token] })
        var owned: [JobOutcome] = []
        owned.reserveCapacity(outcomes.count)
        for (outcome, flag) in zip(outcomes, fence.array) {
            if flag.int == 1 { owned.append(outcome) } else { report.staleRejected += 1 }
        }
        guard !owned.isEmpty else { return report }
        var outbox: [OutboxEntry] = []
        let written: [String]
        if owned.contains(where: { !$0.job.pipeline.isEmpty }) {
            // A pipeline step's outcome and the enqueue decisions it triggers commit together.
            (written, outbox) = try pg.transaction { pg in
                let written = try OutcomeStore.write(owned, namespace: self.prefix, on: pg)
                let fresh = Set(written)
                return (written, try self.pipelines.onOutcomes(owned.filter { fresh.contains($0.job.id) }, on: pg))
            }
        } else {
            written = try OutcomeStore.write(owned, namespace: prefix, on: pg)
        }
        report.committed = written.count
        report.alreadyFinal = owned.count - written.count
        // Every owned job is final in Postgres now (written here or earlier): remove it from Redis.
        let ack = try conn.eval(QueueScripts.ack, args: [prefix] + owned.flatMap { [$0.job.id, $0.job.token, $0.state.rawValue] })
        let acked = ack.array.filter { $0.int == 1 }.count
        if acked < owned.count { report.staleRejected += owned.count - acked }
        // Committed decisions are safe in the outbox; if this enqueue fails, the relay will do it.
        do { try dispatch(outbox, redisConn: conn, pg: pg) } catch {
            logger.warning("outbox dispatch failed; the relay will enqueue", metadata: ["jobs": "\(outbox.count)", "error": "\(error)"])
        }
        return report
    }
}
