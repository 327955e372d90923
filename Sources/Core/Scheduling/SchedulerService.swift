import Foundation
import Logging
import ServiceLifecycle

/// `twin-scheduler`'s engine: cron schedules, the lease reaper and delayed-job promotion.
///
/// Any number of replicas may run; each second each tries the leader lease and only the leader acts.
/// A tick fires exactly once: only the leader enqueues, the job carries the idempotency key
/// `cron:<name>:<tick>` (so two leaders overlapping during a failover still make one job), and the
/// schedule's `last_tick` only moves forward under the leader's fencing token.
///
/// Missed ticks (no scheduler ran): with `skip`, ticks older than ``misfireGrace`` are dropped and the
/// schedule resumes at its next tick; with `backfill(n)`, the most recent `n` missed ticks fire at once,
/// oldest first. Ticks further back than ``maxLookback`` are never considered.
public final class SchedulerService: Service, Sendable {
    public let queue: JobQueue
    public let store: ScheduleStore
    public let lease: LeaderLease
    let logger: Logger
    /// How late a tick may fire under `skip` and still count as on time.
    public static let misfireGrace: TimeInterval = 60
    /// How far back missed ticks are looked for.
    public static let maxLookback: TimeInterval = 7 * 86_400

    public init(queue: JobQueue, logger: Logger, instance: String? = nil) {
        self.queue = queue
        self.store = ScheduleStore(postgres: queue.postgres, registry: queue.registry, namespace: queue.settings.keyPrefix)
        self.lease = LeaderLease(redis: queue.redis, prefix: queue.settings.keyPrefix,
                                 instance: instance ?? "\(ProcessInfo.processInfo.hostName):\(getpid())")
        self.logger = logger
    }

    public func run() async throws {
        logger.info("scheduler started", metadata: ["instance": "\(lease.instance)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await self.step(now: Date())
                } catch {
                    self.logger.warning("scheduler step failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        try? await lease.release()
        logger.info("scheduler stopped")
    }

    /// What one step did.
    public struct StepReport: Sendable, Equatable {
        public var leader = false
        public var fired: [String] = []
        public var promoted = 0
        public var reaped = JobQueue.ReapReport()
        public var relayed = 0
    }

    /// One pass: take or renew the lease; if leading, promote due delayed jobs, reap, and fire due ticks.
    public func step(now: Date) async throws -> StepReport {
        var report = StepReport()
        guard let fence = try await lease.acquire() else { return report }
        report.leader = true
        report.promoted = try await queue.promoteDue()
        report.reaped = try await queue.reap()
        report.relayed = try await PipelineService(queue: queue).relay()
        report.fired = try await fireDue(now: now, fence: fence)
        return report
    }

    /// Fires the due ticks of every schedule at `now` under `fence`; returns the job ids enqueued.
    public func fireDue(now: Date, fence: Int) async throws -> [String] {
        var fired: [String] = []
        for stored in try await store.list() where stored.definition.enabled {
            let s = stored.definition
            guard let expr = try? CronExpression(parsing: s.cron), let tz = TimeZone(identifier: s.timeZone) else {
                logger.warning("schedule skipped: invalid", metadata: ["schedule": "\(s.name)"])
                continue
            }
            let since = max(stored.lastTick ?? stored.createdAt, now.addingTimeInterval(-Self.maxLookback))
            let limit: Int = switch s.misfire {
            case .skip: 1
            case .backfill(let n): n
            }
            var due = expr.ticks(after: since, through: now, in: tz, limit: limit)
            guard let latest = due.last else { continue }
            if case .skip = s.misfire {
                due = due.filter { now.timeIntervalSince($0) <= Self.misfireGrace }
            }
            for tick in due {
                let key = "cron:\(s.name):\(Int(tick.timeIntervalSince1970))"
                let id = try await queue.enqueue(JobSpec(kind: s.kind, payload: s.payload, queue: s.queue, idempotencyKey: key))
                fired.append(id)
                logger.info("schedule fired", metadata: ["schedule": "\(s.name)", "tick": "\(tick)", "jq.job.id": "\(id)"])
            }
            _ = try await store.recordTick(name: s.name, tick: latest, fence: fence)
        }
        return fired
    }
}

extension JobQueue {
    static let promoteScript = RedisScript(name: "promote", source: QueueScripts.prelude + "\n" + """
        local moved = 0
        for _, q in ipairs(redis.call('SMEMBERS', P .. ':queues')) do
          local dkey = P .. ':delayed:' .. q
          local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', now, 'LIMIT', 0, 1000)
          for _, id in ipairs(due) do
            redis.call('ZREM', dkey, id)
            local prio = redis.call('HGET', P .. ':job:' .. id, 'priority')
            if prio then
              redis.call('HSET', P .. ':job:' .. id, 'state', 'queued')
              redis.call('ZADD', P .. ':queue:' .. q, readyScore(prio), id)
              moved = moved + 1
            end
          end
          if #due > 0 then wake(q) end
        end
        return moved
        """)

    /// Moves every due delayed job of every queue to its ready queue (workers also do this for theirs).
    public func promoteDue() async throws -> Int {
        try await redis.eval(Self.promoteScript, args: [prefix]).int ?? 0
    }
}
