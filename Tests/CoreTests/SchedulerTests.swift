import Foundation
import Logging
import Testing
@testable import Core

@Suite struct SchedulerTests {
    func minute(_ base: Date, _ n: Int) -> Date { base.addingTimeInterval(Double(n) * 60) }

    /// Whole minutes, so ticks are easy to reason about.
    func baseTime() -> Date { Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60) }

    @Test func onlyOneReplicaLeadsAndTheFenceGrows() async throws {
        let env = try await TestEnvironment()
        let a = LeaderLease(redis: env.redis, prefix: env.prefix, instance: "a", ttl: .seconds(6))
        let b = LeaderLease(redis: env.redis, prefix: env.prefix, instance: "b", ttl: .seconds(6))
        let fa = try await a.acquire()
        #expect(fa != nil)
        #expect(try await b.acquire() == nil)
        #expect(try await a.acquire() == fa)    // renewal keeps the token
        try await Task.sleep(for: .milliseconds(6300))
        let fb = try await b.acquire()
        #expect(fb != nil && fb! > fa!)
        #expect(try await a.acquire() == nil)
    }

    @Test func eachTickFiresExactlyOnceAcrossThreeReplicas() async throws {
        let env = try await TestEnvironment()
        let name = "every-minute-\(env.prefix)"
        let replicas = (0..<3).map { SchedulerService(queue: env.queue, logger: env.logger, instance: "r\($0)") }
        try await replicas[0].store.upsert(ScheduleDefinition(name: name, cron: "* * * * *", kind: "noop", queue: "cron-\(env.prefix)"))
        defer { Task { try? await replicas[0].store.remove(name: name) } }
        try await env.postgres.query("UPDATE platform.schedules SET created_at = $2 WHERE name = $1 AND namespace = $3", [name, Date(timeIntervalSinceNow: -3600), env.prefix])
        let base = baseTime()
        // Leader-only path: three replicas step at each of five minute ticks, concurrently.
        for m in 1...5 {
            await withTaskGroup(of: Void.self) { g in
                for r in replicas { g.addTask { _ = try? await r.step(now: self.minute(base, m).addingTimeInterval(1)) } }
            }
        }
        // Failover overlap: two "leaders" with their own fences fire the same tick at once.
        await withTaskGroup(of: Void.self) { g in
            for (i, r) in replicas.enumerated() { g.addTask { _ = try? await r.fireDue(now: self.minute(base, 6).addingTimeInterval(2), fence: 1000 + i) } }
        }
        let depth = try await env.redisCommand("ZCARD", "\(env.prefix):queue:cron-\(env.prefix)")
        #expect(depth.int == 6)
    }

    @Test func missedTicksAreSkippedOrBackfilledAsConfigured() async throws {
        let env = try await TestEnvironment()
        let service = SchedulerService(queue: env.queue, logger: env.logger, instance: "solo")
        let skipName = "skip-\(env.prefix)", fillName = "fill-\(env.prefix)"
        try await service.store.upsert(ScheduleDefinition(name: skipName, cron: "*/10 * * * *", kind: "noop", queue: "s-\(env.prefix)"))
        try await service.store.upsert(ScheduleDefinition(name: fillName, cron: "*/10 * * * *", kind: "noop", queue: "f-\(env.prefix)",
                                                          misfire: .backfill(3)))
        defer { Task { try? await service.store.remove(name: skipName); try? await service.store.remove(name: fillName) } }
        // The scheduler was down for two hours: 12 ticks were missed.
        let downSince = Date(timeIntervalSinceNow: -7200)
        try await env.postgres.query("UPDATE platform.schedules SET created_at = $1 WHERE name IN ($2, $3) AND namespace = $4", [downSince, skipName, fillName, env.prefix])
        // Just after a tick boundary, so skip has an on-time tick to fire as well.
        let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 600).rounded(.down) * 600 + 5)
        let fired = try await service.fireDue(now: now, fence: 1)
        #expect(fired.count == 4)
        #expect(try await env.redisCommand("ZCARD", "\(env.prefix):queue:s-\(env.prefix)").int == 1)
        #expect(try await env.redisCommand("ZCARD", "\(env.prefix):queue:f-\(env.prefix)").int == 3)
        // Nothing fires again for the same instant.
        #expect(try await service.fireDue(now: now, fence: 1).isEmpty)
    }

    @Test func invalidSchedulesAreRejected() async throws {
        let env = try await TestEnvironment()
        let store = ScheduleStore(postgres: env.postgres, registry: env.queue.registry, namespace: env.prefix)
        await #expect { try await store.upsert(ScheduleDefinition(name: "x", cron: "bad", kind: "noop")) } throws: { "\($0)".contains("cron") }
        await #expect { try await store.upsert(ScheduleDefinition(name: "x", cron: "@hourly", timeZone: "Mars/Base", kind: "noop")) } throws: { "\($0)".contains("time zone") }
        await #expect { try await store.upsert(ScheduleDefinition(name: "x", cron: "@hourly", kind: "nope")) } throws: { "\($0)".contains("unknown job kind") }
        await #expect { try await store.remove(name: "never-\(env.prefix)") } throws: { ($0 as? TwinError)?.isNotFound == true }
    }
}
