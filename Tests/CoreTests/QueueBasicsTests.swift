import Foundation
import Testing
@testable import Core

@Suite struct QueueBasicsTests {
    @Test func echoJobRunsAndItsResultIsCommittedToPostgres() async throws {
        let env = try await TestEnvironment()
        let worker = env.worker()
        let status = try await env.running(worker) {
            let id = try await env.queue.enqueue(JobSpec(kind: "echo", payload: #"{"hello":"world","n":3}"#))
            return try await env.waitFinal(id)
        }
        #expect(status.state == "succeeded")
        #expect(status.result == .object(["hello": .string("world"), "n": .number(3)]))
        #expect(status.attempts == 1)
        #expect(status.started_at != nil && status.finished_at != nil)
        let rows = try await env.postgres.query("SELECT state, namespace FROM platform.jobs WHERE id = $1", [status.id])
        #expect(try rows.first?.string("state") == "succeeded")
        #expect(try rows.first?.string("namespace") == env.prefix)
        // Nothing of it is left in Redis.
        let exists = try await env.redisCommand("EXISTS", "\(env.prefix):job:\(status.id)")
        #expect(exists.int == 0)
    }

    @Test func unknownKindMalformedPayloadAndOversizeAreRejectedBeforeAnythingIsWritten() async throws {
        let env = try await TestEnvironment()
        await #expect(throws: TwinError.self) { try await env.queue.enqueue(JobSpec(kind: "nope")) }
        await #expect(throws: TwinError.self) { try await env.queue.enqueue(JobSpec(kind: "sleep", payload: "{\"ms\":")) }
        await #expect(throws: TwinError.self) { try await env.queue.enqueue(JobSpec(kind: "sleep", payload: "{\"seconds\":1}")) }
        let big = "\"" + String(repeating: "x", count: env.configuration.queue.maxPayloadBytes) + "\""
        await #expect(throws: TwinError.self) { try await env.queue.enqueue(JobSpec(kind: "echo", payload: big)) }
        // A batch with one bad member writes none of them.
        await #expect(throws: TwinError.self) {
            try await env.queue.enqueue([JobSpec(kind: "noop"), JobSpec(kind: "nope")])
        }
        let keys = try await env.redisCommand("KEYS", "\(env.prefix):*")
        #expect(keys.array.isEmpty)
        do {
            _ = try await env.queue.enqueue(JobSpec(kind: "nope"))
        } catch let e as TwinError {
            #expect(e.description.contains("unknown job kind \"nope\""))
        }
    }

    @Test func higherPriorityRunsFirst() async throws {
        let env = try await TestEnvironment()
        let low = try await env.queue.enqueue(JobSpec(kind: "noop", priority: 0))
        let high = try await env.queue.enqueue(JobSpec(kind: "noop", priority: 9))
        let mid = try await env.queue.enqueue(JobSpec(kind: "noop", priority: 5))
        let lease = try await env.redis.withConnection { conn in
            try env.queue.lease(on: conn, queues: ["default"], worker: "w", max: 3)
        }
        #expect(lease.jobs.map(\.id) == [high, mid, low])
    }

    @Test func delayedJobWaitsForItsTime() async throws {
        let env = try await TestEnvironment()
        let enqueued = ContinuousClock.now
        let id = try await env.queue.enqueue(JobSpec(kind: "noop", delay: .seconds(2)))
        #expect(try await env.queue.status(id: id).state == "scheduled")
        let early = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "w", max: 1) }
        if ContinuousClock.now - enqueued < .milliseconds(1900) {   // only meaningful if we were not starved
            #expect(early.jobs.isEmpty)
            #expect(early.nextDueMicros != nil)
        }
        try await Task.sleep(for: .milliseconds(2200))
        let later = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "w", max: 1) }
        // A starved test may have reached the early lease after the job fell due, and leased it then.
        #expect(early.jobs.map(\.id) + later.jobs.map(\.id) == [id])
    }

    @Test func idempotencyKeyCollapsesDuplicatesWithinTheWindow() async throws {
        let env = try await TestEnvironment()
        let a = try await env.queue.enqueue(JobSpec(kind: "noop", idempotencyKey: "k1"))
        let b = try await env.queue.enqueue(JobSpec(kind: "noop", idempotencyKey: "k1"))
        let c = try await env.queue.enqueue(JobSpec(kind: "noop", idempotencyKey: "k2"))
        #expect(a == b)
        #expect(a != c)
        let depth = try await env.redisCommand("ZCARD", "\(env.prefix):queue:default")
        #expect(depth.int == 2)
    }

    @Test func statusOfUnknownJobIsNotFound() async throws {
        let env = try await TestEnvironment()
        await #expect { try await env.queue.status(id: UUIDv7.make()) } throws: { ($0 as? TwinError)?.isNotFound == true }
        await #expect { try await env.queue.status(id: "not-a-uuid") } throws: { ($0 as? TwinError)?.isInvalidInput == true }
    }
}
