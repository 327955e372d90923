import Foundation
import Synchronization
import Testing
@testable import Core

/// Each guarantee of DESIGN §2 against the real redis-server and PostgreSQL.
@Suite struct QueueReliabilityTests {
    @Test func failingJobIsRetriedWithBackoffThenSucceeds() async throws {
        let env = try await TestEnvironment()
        let status = try await env.running(env.worker()) {
            let id = try await env.queue.enqueue(JobSpec(kind: "fail", payload: #"{"times":2}"#, maxAttempts: 5))
            return try await env.waitFinal(id)
        }
        #expect(status.state == "succeeded")
        #expect(status.attempts == 3)
        #expect(status.result == .object(["attempts": .number(3)]))
    }

    @Test func retryDelayGrowsExponentiallyWithJitter() async throws {
        let env = try await TestEnvironment(retryBase: .milliseconds(100))
        for attempt in 1...4 {
            let d = env.queue.retryDelay(attempt: attempt)
            let base = 100.0 * pow(2, Double(attempt - 1))
            let ms = Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000
            #expect(ms >= base * 0.75 - 1 && ms <= base * 1.25 + 1)
        }
    }

    @Test func exhaustedJobGoesToTheDeadLetterQueueAndCanBeRetriedFromIt() async throws {
        let env = try await TestEnvironment()
        let worker = env.worker()
        try await env.running(worker) {
            let id = try await env.queue.enqueue(JobSpec(kind: "fail", payload: #"{"times":3}"#, maxAttempts: 2))
            let dead = try await env.waitFinal(id)
            #expect(dead.state == "dead")
            #expect(dead.attempts == 2)
            #expect(dead.error?.contains("planned failure on attempt 2") == true)
            let dlq = try await env.queue.deadLetters(limit: 1000)
            #expect(dlq.contains { $0.id == id })
            // Retried from the DLQ with attempts reset: it fails attempt 1 and 2 again, then succeeds on 3…
            // …but max_attempts is 2, so it dies again — proving the retry really re-ran it.
            try await env.queue.retryDead(id: id)
            let again = try await env.waitFinal(id)
            #expect(again.state == "dead")
            #expect(again.attempts == 2)
        }
        await #expect { try await env.queue.retryDead(id: UUIDv7.make()) } throws: { ($0 as? TwinError)?.isNotFound == true }
    }

    @Test func permanentFailureSkipsRetries() async throws {
        let env = try await TestEnvironment()
        let status = try await env.running(env.worker()) {
            let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":-5}"#, maxAttempts: 5))
            return try await env.waitFinal(id)
        }
        #expect(status.state == "dead")
        #expect(status.attempts == 1)
    }

    @Test func perJobTimeoutFailsTheAttempt() async throws {
        let env = try await TestEnvironment()
        let status = try await env.running(env.worker()) {
            let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":5000}"#, maxAttempts: 1, timeout: .milliseconds(100)))
            return try await env.waitFinal(id)
        }
        #expect(status.state == "dead")
        #expect(status.error?.contains("timed out") == true)
    }

    @Test func cancellingAQueuedJobCommitsItAsCancelled() async throws {
        let env = try await TestEnvironment()
        let id = try await env.queue.enqueue(JobSpec(kind: "noop"))
        #expect(try await env.queue.cancel(id: id) == .cancelled)
        let status = try await env.queue.status(id: id)
        #expect(status.state == "cancelled")
        let depth = try await env.redisCommand("ZCARD", "\(env.prefix):queue:default")
        #expect(depth.int == 0)
        #expect(try await env.queue.cancel(id: id) == .alreadyFinished)
        await #expect { try await env.queue.cancel(id: UUIDv7.make()) } throws: { ($0 as? TwinError)?.isNotFound == true }
    }

    @Test func cancellingARunningJobStopsItsHandler() async throws {
        let env = try await TestEnvironment()
        let status = try await env.running(env.worker()) {
            let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":30000}"#))
            while try await env.queue.status(id: id).state != "running" { try await Task.sleep(for: .milliseconds(10)) }
            #expect(try await env.queue.cancel(id: id) == .requested)
            return try await env.waitFinal(id, timeout: .seconds(5))
        }
        #expect(status.state == "cancelled")
    }

    @Test func expiredLeaseIsReturnedToTheQueueAndRunsAgain() async throws {
        // A "worker" leases the job and then dies (never renews, never acks).
        let env = try await TestEnvironment(lease: .milliseconds(300))
        let id = try await env.queue.enqueue(JobSpec(kind: "echo", payload: "42"))
        let lease = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "doomed", max: 1) }
        #expect(lease.jobs.count == 1)
        try await Task.sleep(for: .milliseconds(400))
        let report = try await env.queue.reap()
        #expect(report.requeued == 1)
        let status = try await env.running(env.worker()) { try await env.waitFinal(id) }
        #expect(status.state == "succeeded")
        #expect(status.attempts == 2)
        // The dead worker's late outcome is rejected at the fence and counted, and changes nothing.
        let late = JobOutcome(job: lease.jobs[0], state: .succeeded, result: "\"stale\"")
        let r = try await env.redis.withConnection { conn in
            try env.postgres.withConnectionSync { pg in try env.queue.commit([late], redisConn: conn, pg: pg) }
        }
        #expect(r.staleRejected == 1 && r.committed == 0)
        #expect(try await env.queue.status(id: id).result == .number(42))
        #expect((try await env.queue.stats())["stale_rejected", default: 0] >= 1)
    }

    @Test func jobThatKeepsKillingItsWorkerGoesToTheDLQ() async throws {
        let env = try await TestEnvironment(lease: .milliseconds(200), maxCrashes: 2)
        let id = try await env.queue.enqueue(JobSpec(kind: "noop", maxAttempts: 10))
        for round in 1...2 {
            let lease = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "crash\(round)", max: 1) }
            #expect(lease.jobs.map(\.id) == [id])
            try await Task.sleep(for: .milliseconds(300))
            _ = try await env.queue.reap()
        }
        let status = try await env.queue.status(id: id)
        #expect(status.state == "dead")
        #expect(status.error?.contains("lease expired 2 time(s)") == true)
    }

    @Test func commitInterruptedAfterPostgresIsFinishedByTheReaper() async throws {
        // The worker fenced and committed in Postgres, then died before the Redis ack.
        let env = try await TestEnvironment(lease: .milliseconds(200))
        let id = try await env.queue.enqueue(JobSpec(kind: "echo", payload: "1"))
        let job = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "w", max: 1) }.jobs[0]
        _ = try await env.redis.eval(QueueScripts.fence, args: [env.prefix, "100", id, job.token])
        _ = try await env.postgres.withConnection { pg in try OutcomeStore.write([JobOutcome(job: job, state: .succeeded, result: "1")], namespace: env.prefix, on: pg) }
        try await Task.sleep(for: .milliseconds(6000))   // the commit grace is at least 5 s
        let report = try await env.queue.reap()
        #expect(report.finishedCommits == 1)
        #expect(try await env.redisCommand("EXISTS", "\(env.prefix):job:\(id)").int == 0)
        #expect(try await env.queue.status(id: id).state == "succeeded")
    }

    @Test func perQueueConcurrencyLimitHoldsAcrossWorkers() async throws {
        let env = try await TestEnvironment()
        try await env.queue.setLimits(queue: "limited", QueueLimits(concurrency: 2))
        _ = try await env.queue.enqueue((0..<5).map { _ in JobSpec(kind: "noop", queue: "limited") })
        let a = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["limited"], worker: "a", max: 10) }
        let b = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["limited"], worker: "b", max: 10) }
        #expect(a.jobs.count == 2)
        #expect(b.jobs.isEmpty)
        let r = try await env.redis.withConnection { conn in
            try env.postgres.withConnectionSync { pg in
                try env.queue.commit([JobOutcome(job: a.jobs[0], state: .succeeded)], redisConn: conn, pg: pg)
            }
        }
        #expect(r.committed == 1)
        let c = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["limited"], worker: "b", max: 10) }
        #expect(c.jobs.count == 1)
    }

    @Test func perQueueRateLimitSpacesStarts() async throws {
        let env = try await TestEnvironment()
        try await env.queue.setLimits(queue: "slow", QueueLimits(ratePerSecond: 5))
        _ = try await env.queue.enqueue((0..<20).map { _ in JobSpec(kind: "noop", queue: "slow") })
        var got = 0
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .milliseconds(1000) {
            got += try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["slow"], worker: "a", max: 10) }.jobs.count
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = (ContinuousClock.now - start)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // The burst of 5 at least; never more than the burst plus 5 per second elapsed.
        #expect(got >= 5)
        #expect(Double(got) <= 5 + 5 * seconds + 1)
    }

    @Test func batchEnqueuesItsCallbackWhenTheLastChildFinishes() async throws {
        let env = try await TestEnvironment()
        let status = try await env.running(env.worker()) {
            let children = [JobSpec(kind: "noop"), JobSpec(kind: "fail", payload: #"{"times":9}"#, maxAttempts: 1), JobSpec(kind: "noop")]
            let batch = try await env.queue.enqueueBatch(children, callback: JobSpec(kind: "echo", payload: #"{"step":"after"}"#))
            for c in batch.children { _ = try await env.waitFinal(c) }
            return try await env.waitFinal(batch.callback)
        }
        #expect(status.state == "succeeded")
        #expect(status.result?["step"] == .string("after"))
        #expect(status.result?["batch"]?["total"] == .number(3))
        #expect(status.result?["batch"]?["failed"] == .number(1))
    }

    @Test func progressAndFinalStateArePublishedOnTheJobsEventStream() async throws {
        struct Reporting: JobHandler {
            static let kind = "reporting"
            func handle(_ payload: JSONValue, context: JobContext) async throws -> JSONValue {
                await context.progress(0.5, "half way")
                await context.emit("token")
                return .bool(true)
            }
        }
        let env = try await TestEnvironment { $0.register(Reporting()) }
        let id = try await env.queue.enqueue(JobSpec(kind: "reporting", delay: .milliseconds(200)))
        try await env.queue.events.open(jobID: id)
        _ = try await env.running(env.worker()) { try await env.waitFinal(id) }
        let events = try await env.queue.events.read(jobID: id)
        #expect(events.map(\.type) == ["subscribed", "progress", "partial", "succeeded"])
        #expect(events[1].data.contains("half way"))
    }

    @Test func gracefulShutdownReleasesJobsThatOutliveTheGracePeriod() async throws {
        let env = try await TestEnvironment()
        let worker = env.worker(grace: .milliseconds(200))
        let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":60000}"#))
        try await env.running(worker) {
            while try await env.queue.status(id: id).state != "running" { try await Task.sleep(for: .milliseconds(10)) }
        }
        let status = try await env.queue.status(id: id)
        #expect(status.state == "queued")
        #expect(status.attempts == 0)   // a release does not count as an attempt
        #expect(worker.counters.withLock { $0.released } == 1)
    }

    @Test func redisDownFailsFastNamingTheServer() async throws {
        // Timed on the calling thread itself, so a busy test machine cannot stretch it.
        let conn = RedisConnection(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), timeout: .seconds(1))
        let start = ContinuousClock.now
        #expect { try conn.command(["PING"]) } throws: { "\($0)".contains("redis://127.0.0.1:1") }
        #expect(ContinuousClock.now - start < .seconds(2))
        // While it backs off, further calls fail at once without touching the network.
        #expect { try conn.command(["PING"]) } throws: { "\($0)".contains("unavailable") }
        let client = RedisClient(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), connections: 1, timeout: .seconds(1))
        await #expect { try await client.command("PING") } throws: { "\($0)".contains("redis://127.0.0.1:1") }
    }

    @Test func postgresDownFailsFastNamingTheServer() async throws {
        let pg = PostgresClient(endpoint: PostgresEndpoint(host: "127.0.0.1", port: 1, user: "x", password: nil, database: "x"))
        await #expect { try await pg.query("SELECT 1") } throws: { "\($0)".contains("postgres://x@127.0.0.1:1/x") }
    }
}
