import Foundation
import Logging

extension JobQueue {
    // MARK: Reaper

    /// What one reaper pass did.
    public struct ReapReport: Sendable, Equatable {
        public var requeued = 0
        public var dead = 0
        public var finishedCommits = 0
    }

    /// Returns expired leases to their queues; jobs that keep killing their worker (or are out of attempts,
    /// or were cancelled) are committed as dead/cancelled; interrupted commits are finished or requeued.
    public func reap(limit: Int = 1000) async throws -> ReapReport {
        let prefix = self.prefix
        let reply = try await redis.eval(QueueScripts.reap, args: [prefix, String(settings.maxCrashes), String(Self.ms(commitGrace)), String(limit)])
        let items = reply.array
        var report = ReapReport(requeued: items.first?.int ?? 0)
        let nKill = items.count > 1 ? items[1].int ?? 0 : 0
        let nCheck = items.count > 2 ? items[2].int ?? 0 : 0
        var kill: [(String, String)] = [], check: [(String, String)] = []
        var i = 3
        for _ in 0..<nKill { kill.append((items[i].text ?? "", items[i + 1].text ?? "")); i += 2 }
        for _ in 0..<nCheck { check.append((items[i].text ?? "", items[i + 1].text ?? "")); i += 2 }

        var outcomes: [JobOutcome] = []
        for (id, token) in kill {
            guard let job = try await leasedView(id: id, token: token) else { continue }
            let cancelled = job.cancel
            outcomes.append(JobOutcome(job: job.leased, state: cancelled ? .cancelled : .dead,
                                       error: cancelled ? "cancelled" : job.lastError))
        }
        if !outcomes.isEmpty {
            report.dead = try await commitNow(outcomes).committed
        }
        for (id, token) in check {
            let final = try await postgres.withConnection { pg in try OutcomeStore.finalState(of: id, namespace: self.prefix, on: pg) }
            if let final {
                // The outcome made it to Postgres before the worker died: only the acknowledgement was lost.
                _ = try await redis.eval(QueueScripts.ack, args: [prefix, id, token, final.rawValue])
                report.finishedCommits += 1
            } else {
                // The commit never happened: mark the takeover as running again and let it run once more.
                _ = try await redis.withConnection { conn in
                    try conn.command(["HSET", "\(prefix):job:\(id)", "state", "running"])
                    return try conn.eval(QueueScripts.requeue, args: [prefix, id, token, "1"])
                }
                report.requeued += 1
            }
        }
        return report
    }

    struct LiveJob {
        var fields: [String: String]
        var leased: LeasedJob
        var cancel: Bool { fields["cancel"] == "1" }
        var lastError: String? { fields["last_error"] }
    }

    /// Reads a job's hash from Redis (nil when it is not in flight).
    func liveJob(id: String) async throws -> LiveJob? {
        let reply = try await redis.command(["HGETALL", "\(prefix):job:\(id)"])
        let parts = reply.array.compactMap(\.text)
        guard !parts.isEmpty else { return nil }
        var f: [String: String] = [:]
        var i = 0
        while i + 1 < parts.count { f[parts[i]] = parts[i + 1]; i += 2 }
        let leased = LeasedJob(id: id, token: f["token"] ?? "0", queue: f["queue"] ?? "", kind: f["kind"] ?? "",
                               payload: f["payload"] ?? "null", priority: Int(f["priority"] ?? "") ?? 0,
                               attempt: Int(f["attempt"] ?? "") ?? 0, maxAttempts: Int(f["max_attempts"] ?? "") ?? 1,
                               timeoutMs: Int(f["timeout_ms"] ?? "") ?? 0, createdMicros: Int64(f["created_us"] ?? "") ?? 0,
                               startedMicros: Int64(f["started_us"] ?? "") ?? 0, batch: f["batch"] ?? "",
                               tenant: f["tenant"] ?? "", crashes: Int(f["crashes"] ?? "") ?? 0, idempotencyKey: f["idem"] ?? "",
                               pipeline: f["pipeline"] ?? "")
        return LiveJob(fields: f, leased: leased)
    }

    private func leasedView(id: String, token: String) async throws -> LiveJob? {
        guard var live = try await liveJob(id: id), live.leased.token == token else { return nil }
        live.fields["token"] = token
        return live
    }

    // MARK: Cancellation

    /// What a cancel request did.
    public enum CancelResult: String, Sendable, Codable {
        /// It was waiting; it is now cancelled.
        case cancelled
        /// It is running; its worker was asked to stop (it ends as cancelled within about a second).
        case requested
        /// It had already finished.
        case alreadyFinished = "already_finished"
    }

    /// Cancels a waiting job at once, or asks a running job's worker to stop it.
    /// - Throws: ``TwinError/notFound(_:)`` for an unknown id.
    public func cancel(id: String) async throws -> CancelResult {
        guard UUIDv7.isValid(id) else { throw TwinError.invalidInput("not a job id: \"\(id)\"") }
        let reply = try await redis.eval(QueueScripts.cancel, args: [prefix, id, String(Self.ms(commitGrace))])
        let parts = reply.array.compactMap(\.text)
        switch parts.first {
        case "take":
            guard let job = try await leasedView(id: id, token: parts[1]) else { return .requested }
            let outcome = JobOutcome(job: job.leased, state: .cancelled, error: "cancelled before it ran")
            _ = try await commitNow([outcome])
            return .cancelled
        case "flagged":
            return .requested
        default:
            if try await postgres.withConnection({ pg in try OutcomeStore.finalState(of: id, namespace: self.prefix, on: pg) }) != nil {
                return .alreadyFinished
            }
            throw TwinError.notFound("no job with id \(id)")
        }
    }

    // MARK: Status and listings

    /// The job's status: live from Redis while in flight, from Postgres once final.
    /// - Throws: ``TwinError/notFound(_:)`` for an unknown id.
    public func status(id: String) async throws -> JobStatus {
        guard UUIDv7.isValid(id) else { throw TwinError.invalidInput("not a job id: \"\(id)\"") }
        if let live = try await liveJob(id: id) {
            var state = live.fields["state"] ?? "queued"
            if state == "completing" { state = "running" }
            let j = live.leased
            return JobStatus(id: id, kind: j.kind, queue: j.queue, state: state, attempts: j.attempt,
                             max_attempts: j.maxAttempts, priority: j.priority,
                             payload: (try? JSONValue.parse(j.payload)) ?? .string(j.payload), result: nil,
                             error: live.lastError, created_at: Clock.iso(micros: j.createdMicros),
                             started_at: j.startedMicros > 0 ? Clock.iso(micros: j.startedMicros) : nil, finished_at: nil,
                             tenant: j.tenant.isEmpty ? nil : j.tenant,
                             idempotency_key: j.idempotencyKey.isEmpty ? nil : j.idempotencyKey,
                             cancel_requested: live.cancel ? true : nil)
        }
        let rows = try await postgres.query("\(Self.statusColumns) WHERE id = $1 AND namespace = $2", [id, prefix])
        guard let row = rows.first else { throw TwinError.notFound("no job with id \(id)") }
        return try Self.status(from: row)
    }

    static let statusColumns = """
        SELECT id, kind, queue, state, attempts, max_attempts, priority, payload::text AS payload, result::text AS result,
               error, created_at, started_at, finished_at, tenant, idempotency_key FROM platform.jobs
        """

    static func status(from row: PGRow) throws -> JobStatus {
        JobStatus(id: try row.string("id"), kind: try row.string("kind"), queue: try row.string("queue"),
                  state: try row.string("state"), attempts: try row.int("attempts"), max_attempts: try row.int("max_attempts"),
                  priority: try row.int("priority"), payload: try JSONValue.parse(try row.string("payload")),
                  result: try row.optionalString("result").map { try JSONValue.parse($0) }, error: try row.optionalString("error"),
                  created_at: try row.optionalDate("created_at").map(Clock.iso), started_at: try row.optionalDate("started_at").map(Clock.iso),
                  finished_at: try row.optionalDate("finished_at").map(Clock.iso), tenant: try row.optionalString("tenant"),
                  idempotency_key: try row.optionalString("idempotency_key"), cancel_requested: nil)
    }

    /// Jobs filtered by state and kind, newest first: waiting and running ones from Redis, final ones from Postgres.
    public func list(state: JobState? = nil, kind: String? = nil, tenant: String? = nil, limit: Int = 50) async throws -> [JobStatus] {
        var result: [JobStatus] = []
        if state == nil || !(state!.isFinal) {
            let live: [JobState] = state.map { [$0] } ?? [.running, .queued, .scheduled, .retrying]
            var ids: [String] = []
            for q in try await queueNames() {
                if live.contains(.queued) {
                    ids += try await redis.command(["ZRANGE", "\(prefix):queue:\(q)", "0", String(limit - 1)]).array.compactMap(\.text)
                }
                if live.contains(.scheduled) || live.contains(.retrying) {
                    ids += try await redis.command(["ZRANGE", "\(prefix):delayed:\(q)", "0", String(limit - 1)]).array.compactMap(\.text)
                }
            }
            if live.contains(.running) {   // one in-flight set for all queues
                ids += try await redis.command(["ZRANGE", "\(prefix):inflight", "0", String(limit - 1)]).array.compactMap(\.text)
            }
            for id in Set(ids) {
                // A job can finish between the listing and this read; it then comes from Postgres below.
                guard let s = try? await status(id: id), !(JobState(rawValue: s.state)?.isFinal ?? false) else { continue }
                if let state, s.state != state.rawValue { continue }
                if let kind, s.kind != kind { continue }
                if let tenant, s.tenant != tenant { continue }
                result.append(s)
            }
        }
        if state == nil || state!.isFinal {
            var sql = Self.statusColumns + " WHERE namespace = $1"
            var params: [(any PGEncodable & Sendable)?] = [prefix]
            if let state { params.append(state.rawValue); sql += " AND state = $\(params.count)" }
            if let kind { params.append(kind); sql += " AND kind = $\(params.count)" }
            if let tenant { params.append(tenant); sql += " AND tenant = $\(params.count)" }
            params.append(limit)
            sql += " ORDER BY finished_at DESC NULLS LAST LIMIT $\(params.count)"
            result += try await postgres.query(sql, params).rows.map(Self.status(from:))
        }
        return Array(result.sorted { ($0.created_at ?? "") > ($1.created_at ?? "") }.prefix(limit))
    }

    /// Every queue that has ever held a job.
    public func queueNames() async throws -> [String] {
        try await redis.command(["SMEMBERS", "\(prefix):queues"]).array.compactMap(\.text).sorted()
    }

    /// One queue's gauges.
    public struct QueueInfo: Sendable, Codable, Equatable {
        public var name: String
        /// Jobs ready to run.
        public var depth: Int
        /// Jobs waiting for their run time (delayed or backing off).
        public var delayed: Int
        /// Jobs leased by workers.
        public var in_flight: Int
        /// Age of the oldest ready job in seconds.
        public var oldest_age_seconds: Double?
        public var concurrency_limit: Int?
        public var rate_limit_per_second: Double?
        public var succeeded: Int
        public var dead: Int
        public var cancelled: Int
        public var retried: Int
    }

    /// Depth, in-flight count and oldest age of every queue.
    public func queues() async throws -> [QueueInfo] {
        var infos: [QueueInfo] = []
        let prefix = self.prefix
        for q in try await queueNames() {
            let replies = try await redis.withConnection { conn in
                try conn.pipeline([["ZCARD", "\(prefix):queue:\(q)"], ["ZCARD", "\(prefix):delayed:\(q)"],
                                   ["HMGET", "\(prefix):qstat:\(q)", "running", "concurrency", "rate", "done_succeeded",
                                    "done_dead", "done_cancelled", "retried"],
                                   ["ZRANGE", "\(prefix):queue:\(q)", "0", "0"], ["TIME"]])
            }
            let stat = replies[2].array
            var oldest: Double?
            if let id = replies[3].array.first?.text,
               let created = try await redis.command(["HGET", "\(prefix):job:\(id)", "created_us"]).int {
                let t = replies[4].array.compactMap(\.int)
                if t.count == 2 { oldest = Double(t[0] * 1_000_000 + t[1] - created) / 1_000_000 }
            }
            infos.append(QueueInfo(name: q, depth: replies[0].int ?? 0, delayed: replies[1].int ?? 0,
                                   in_flight: stat[0].int ?? 0, oldest_age_seconds: oldest,
                                   concurrency_limit: stat[1].int, rate_limit_per_second: stat[2].text.flatMap(Double.init),
                                   succeeded: stat[3].int ?? 0, dead: stat[4].int ?? 0, cancelled: stat[5].int ?? 0,
                                   retried: stat[6].int ?? 0))
        }
        return infos
    }

    /// Sets (or clears, with nil) a queue's concurrency and rate limits across all workers.
    public func setLimits(queue: String, _ limits: QueueLimits) async throws {
        guard Self.isName(queue) else { throw TwinError.invalidInput("invalid queue name \"\(queue)\"") }
        let key = "\(prefix):qstat:\(queue)"
        _ = try await redis.command(["SADD", "\(prefix):queues", queue])
        if let c = limits.concurrency { _ = try await redis.command(["HSET", key, "concurrency", String(c)]) }
        else { _ = try await redis.command(["HDEL", key, "concurrency"]) }
        if let r = limits.ratePerSecond { _ = try await redis.command(["HSET", key, "rate", String(r)]) }
        else { _ = try await redis.command(["HDEL", key, "rate", "tokens", "ts"]) }
    }

    /// Queue-wide counters: stale outcomes rejected, leases that expired.
    public func stats() async throws -> [String: Int] {
        let parts = try await redis.command(["HGETALL", "\(prefix):stats"]).array.compactMap(\.text)
        var out: [String: Int] = [:]
        var i = 0
        while i + 1 < parts.count { out[parts[i]] = Int(parts[i + 1]) ?? 0; i += 2 }
        return out
    }

    // MARK: Dead-letter queue

    /// Dead jobs, newest first.
    public func deadLetters(limit: Int = 50) async throws -> [JobStatus] {
        try await list(state: .dead, limit: limit)
    }

    /// Puts a dead job back in its queue with its attempts reset (same id; its dead row becomes queued).
    public func retryDead(id: String) async throws {
        guard UUIDv7.isValid(id) else { throw TwinError.invalidInput("not a job id: \"\(id)\"") }
        let rows = try await postgres.query("""
            UPDATE platform.jobs SET state = 'queued', error = NULL, updated_at = now()
            WHERE id = $1 AND namespace = $2 AND state = 'dead'
            RETURNING kind, queue, payload::text AS payload, priority, max_attempts, tenant
            """, [id, prefix])
        guard let row = rows.first else {
            let exists = try await postgres.query("SELECT state FROM platform.jobs WHERE id = $1 AND namespace = $2", [id, prefix]).first
            if let exists { throw TwinError.invalidInput("job \(id) is \(try exists.string("state")), not dead") }
            throw TwinError.notFound("no dead job with id \(id)")
        }
        var spec = JobSpec(kind: try row.string("kind"), payload: try row.string("payload"), queue: try row.string("queue"),
                           priority: try row.int("priority"), maxAttempts: try row.int("max_attempts"),
                           tenant: try row.optionalString("tenant"))
        spec.presetID = id
        _ = try await enqueue(spec)
    }
}

extension JobQueue {
    /// Runs `body` with a Redis connection and the Postgres connection kept for such paired steps, on the
    /// Redis connection's lane (admin paths that commit or dispatch outside a worker).
    func withRedisAndPostgres<T>(_ body: @escaping @Sendable (RedisConnection, PGConnection) throws -> T) async throws -> T {
        let postgres = self.postgres
        return try await redis.withConnection { conn in try postgres.withConnectionSync { pg in try body(conn, pg) } }
    }

    /// Commits outcomes decided outside a worker (reaper, cancel) through the same fence → commit → ack path.
    func commitNow(_ outcomes: [JobOutcome]) async throws -> CommitReport {
        try await withRedisAndPostgres { conn, pg in try self.commit(outcomes, redisConn: conn, pg: pg) }
    }
}

extension PostgresClient {
    /// Runs `body` synchronously inside another lane's call (the reaper and cancel paths hold a Redis lane
    /// and need a Postgres connection for the same step).
    func withConnectionSync<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try syncLane.runSync(body)
    }
}
