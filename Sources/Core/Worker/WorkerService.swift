import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `twin-worker`'s engine: leases jobs from its queues, runs their handlers, and group-commits outcomes.
///
/// Three loops share one state (``WorkerState`` behind a `Mutex`): the fetch loop (leases while slots are
/// free, otherwise blocks on the queues' wake lists), the committer (fence → Postgres → ack, many outcomes
/// per round), and the heartbeat (renews every held lease, learns of cancellations and lost leases).
/// Each blocking client sits on its own ``BlockingLane`` so no C call runs on the cooperative pool.
/// On graceful shutdown the worker stops leasing, lets running jobs finish within the grace period,
/// releases the rest back to their queues (attempt not counted) and commits everything it holds.
public final class WorkerService: Service, Sendable {
    public let queue: JobQueue
    public let settings: TwinConfiguration.WorkerSettings
    public let workerID: String
    let logger: Logger
    private let state = Mutex(WorkerState())
    private let fetchLane: BlockingLane<RedisConnection>
    private let heartbeatLane: BlockingLane<RedisConnection>
    private let commitLane: BlockingLane<CommitConnections>
    private let wakeCommitter: AsyncStream<Void>.Continuation
    private let commitSignals: AsyncStream<Void>
    private let wakeFetcher: AsyncStream<Void>.Continuation
    private let fetchSignals: AsyncStream<Void>
    /// Counters for benchmarks and tests.
    public let counters = Mutex(Counters())

    public struct Counters: Sendable {
        public var leased = 0
        public var committed = 0
        public var staleRejected = 0
        public var retried = 0
        public var released = 0
    }

    final class CommitConnections {
        let redis: RedisConnection
        let pg: PGConnection
        init(redis: RedisConnection, pg: PGConnection) { self.redis = redis; self.pg = pg }
    }

    public init(queue: JobQueue, settings: TwinConfiguration.WorkerSettings, logger: Logger, workerID: String? = nil) {
        self.queue = queue
        self.settings = settings
        self.workerID = workerID ?? "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUIDv7.make().suffix(8))"
        var logger = logger
        logger[metadataKey: "worker"] = "\(self.workerID)"
        self.logger = logger
        let endpoint = queue.redis.endpoint
        // The fetch connection blocks in BLPOP for up to a second: its socket timeout must be longer.
        fetchLane = BlockingLane(label: "twin.worker.fetch", resource: RedisConnection(endpoint: endpoint, timeout: .seconds(10)))
        heartbeatLane = BlockingLane(label: "twin.worker.heartbeat", resource: RedisConnection(endpoint: endpoint))
        commitLane = BlockingLane(label: "twin.worker.commit",
                                  resource: CommitConnections(redis: RedisConnection(endpoint: endpoint),
                                                              pg: PGConnection(endpoint: queue.postgres.endpoint)))
        (commitSignals, wakeCommitter) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (fetchSignals, wakeFetcher) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Stops leasing; running jobs get the grace period to finish.
    public func stop() {
        state.withLock { $0.stopping = true }
        wakeFetcher.yield()
    }

    public func run() async throws {
        logger.info("worker started", metadata: ["queues": "\(settings.queues.joined(separator: ","))",
                                                 "concurrency": "\(settings.concurrency)"])
        try await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.commitLoop() }
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.reaperLoop() }
                await self.fetchLoop(group: &group)
                await self.drain()
            }
        } onGracefulShutdown: {
            self.stop()
        }
        logger.info("worker stopped")
    }

    // MARK: Fetch

    private func fetchLoop(group: inout DiscardingTaskGroup) async {
        var failures = 0
        var signals = fetchSignals.makeAsyncIterator()
        let maxPending = settings.concurrency * 4 + 1000
        while !Task.isCancelled {
            let (stopping, free, pending) = state.withLock { ($0.stopping, settings.concurrency - $0.running.count, $0.pendingCommitCount) }
            if stopping { return }
            if free <= 0 || pending > maxPending {
                _ = await signals.next()   // a job finished or a commit went through
                continue
            }
            do {
                let queue = self.queue, queues = settings.queues, worker = workerID
                let count = min(free, settings.fetchBatch)
                let lease = try await fetchLane.run { conn in try queue.lease(on: conn, queues: queues, worker: worker, max: count) }
                failures = 0
                if lease.jobs.isEmpty {
                    var wait = Duration.seconds(1)
                    if let due = lease.nextDueMicros {
                        let untilDue = Duration.microseconds(max(1000, due - Clock.micros()))
                        wait = min(wait, untilDue)
                    }
                    let timeout = wait
                    try await fetchLane.run { conn in try queue.waitForWork(on: conn, queues: queues, timeout: timeout) }
                    continue
                }
                counters.withLock { $0.leased += lease.jobs.count }
                state.withLock { s in for j in lease.jobs { s.running[j.id] = .init(job: j) } }
                for job in lease.jobs {
                    group.addTask { await self.execute(job) }
                }
            } catch {
                failures += 1
                let delay = Duration.milliseconds(min(2000, 50 << min(failures, 6)))
                logger.warning("lease failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }

    // MARK: Execution

    private func execute(_ job: LeasedJob) async {
        var jobLogger = logger
        jobLogger[metadataKey: "jq.job.id"] = "\(job.id)"
        jobLogger[metadataKey: "jq.job.kind"] = "\(job.kind)"
        let context = JobContext(job: job, logger: jobLogger, events: queue.events)
        let registry = queue.registry
        // An unstructured task per job so that one job can be cancelled on its own (user cancel, lost
        // lease, shutdown); it is awaited right here, so its lifetime stays inside the worker's task group.
        let task = Task<String, any Error> {
            if job.timeoutMs > 0 {
                return try await withThrowingTaskGroup(of: String.self) { g in
                    g.addTask { try await registry.run(job, context: context) }
                    g.addTask {
                        try await Task.sleep(for: .milliseconds(job.timeoutMs))
                        throw TwinError.timeout("timed out after \(Double(job.timeoutMs) / 1000) s")
                    }
                    defer { g.cancelAll() }
                    return try await g.next()!
                }
            }
            return try await registry.run(job, context: context)
        }
        let preStop = state.withLock { s -> StopReason? in
            s.running[job.id]?.task = task
            return s.running[job.id]?.stopReason
        }
        if preStop != nil { task.cancel() }
        let result = await task.result
        state.withLock { s in
            let reason = s.running.removeValue(forKey: job.id)?.stopReason
            switch (result, reason) {
            case (_, .leaseLost?):
                break   // another worker owns it now; its outcome is that worker's to commit
            case (_, .shutdown?):
                s.releases.append(job)
            case (_, .cancelRequested?):
                s.outcomes.append(JobOutcome(job: job, state: .cancelled, error: "cancelled while running"))
            case (.success(let output), nil):
                s.outcomes.append(JobOutcome(job: job, state: .succeeded, result: output))
            case (.failure(let error), nil):
                let message = Self.describe(error)
                let permanent = (error as? JobFailure).map { !$0.retryable } ?? false
                    || (error as? TwinError)?.isInvalidInput == true
                if permanent || job.attempt >= job.maxAttempts {
                    s.outcomes.append(JobOutcome(job: job, state: .dead, error: message))
                } else {
                    s.retries.append((job, message))
                }
            }
        }
        if case .failure(let error) = result {
            jobLogger.info("job attempt failed", metadata: ["error": "\(Self.describe(error))", "attempt": "\(job.attempt)"])
        }
        wakeCommitter.yield()
        wakeFetcher.yield()
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? TwinError { return e.description }
        if let e = error as? JobFailure { return e.description }
        if error is CancellationError { return "cancelled" }
        return String(describing: error)
    }

    // MARK: Commit

    private func commitLoop() async {
        var failures = 0
        var signals = commitSignals.makeAsyncIterator()
        while true {
            let work = state.withLock { $0.takeCommitWork() }
            if work.outcomes.isEmpty && work.retries.isEmpty && work.releases.isEmpty {
                if state.withLock({ $0.finished }) { return }
                _ = await signals.next()
                continue
            }
            do {
                let queue = self.queue
                let report = try await commitLane.run { c -> (JobQueue.CommitReport, Int, Int) in
                    let retried = try queue.retry(on: c.redis, work.retries)
                    let released = try queue.release(on: c.redis, work.releases)
                    let report = try queue.commit(work.outcomes, redisConn: c.redis, pg: c.pg)
                    return (report, retried, released)
                }
                failures = 0
                counters.withLock {
                    $0.committed += report.0.committed + report.0.alreadyFinal
                    $0.staleRejected += report.0.staleRejected
                    $0.retried += report.1
                    $0.released += report.2
                }
                if report.0.staleRejected > 0 {
                    logger.notice("stale outcomes rejected", metadata: ["count": "\(report.0.staleRejected)"])
                }
                wakeFetcher.yield()
            } catch {
                // Nothing is lost: the jobs are still leased in Redis (and renewed) until this succeeds.
                failures += 1
                state.withLock { s in
                    s.outcomes.insert(contentsOf: work.outcomes, at: 0)
                    s.retries.insert(contentsOf: work.retries, at: 0)
                    s.releases.insert(contentsOf: work.releases, at: 0)
                }
                let delay = Duration.milliseconds(min(2000, 50 << min(failures, 6)))
                logger.warning("commit failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                if state.withLock({ $0.finished }) && failures > 5 {
                    logger.error("giving up on commits at shutdown; the reaper will requeue these jobs",
                                 metadata: ["jobs": "\(work.outcomes.count + work.retries.count)"])
                    return
                }
                try? await Task.sleep(for: delay)
            }
        }
    }

    // MARK: Heartbeat and reaper

    private var heartbeatInterval: Duration { min(queue.settings.leaseDuration / 3, .seconds(1)) }

    /// Runs on a thread of its own, not on the cooperative pool: handlers that hog the pool (CPU-bound
    /// model work) must not starve the heartbeat, or their leases would expire while they run.
    private func heartbeatLoop() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                heartbeatThread()
                done.resume()
            }
            thread.name = "twin.worker.heartbeat"
            thread.start()
        }
    }

    private func heartbeatThread() {
        let interval = heartbeatInterval
        let micros = UInt32(clamping: interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        while !state.withLock({ $0.finished }) {
            usleep(micros)
            // Renew jobs still running and those whose outcome waits for the committer.
            let held: [(id: String, token: String)] = state.withLock { s in
                s.running.values.map { ($0.job.id, $0.job.token) } + s.outcomes.map { ($0.job.id, $0.job.token) }
                    + s.retries.map { ($0.job.id, $0.job.token) }
            }
            guard !held.isEmpty else { continue }
            do {
                let queue = self.queue
                let (lost, cancel) = try heartbeatLane.runSync { conn in try queue.renew(on: conn, held) }
                for id in lost { state.withLock { $0.stop(id, reason: .leaseLost) }?.cancel() }
                for id in cancel {
                    logger.info("cancelling job on request", metadata: ["jq.job.id": "\(id)"])
                    state.withLock { $0.stop(id, reason: .cancelRequested) }?.cancel()
                }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Workers reap too, so expired leases are recovered even where no scheduler runs (the reap is atomic
    /// and idempotent, so many reapers are harmless).
    private func reaperLoop() async {
        let interval = max(queue.settings.leaseDuration / 2, .milliseconds(200))
        var last = ContinuousClock.now
        while !state.withLock({ $0.stopping }) {
            try? await Task.sleep(for: .milliseconds(100))
            guard ContinuousClock.now - last >= interval else { continue }
            last = ContinuousClock.now
            do {
                let report = try await queue.reap()
                try await PipelineService(queue: queue).relay()
                if report != .init() {
                    logger.info("reaped expired leases", metadata: ["requeued": "\(report.requeued)", "dead": "\(report.dead)"])
                }
            } catch {
                logger.warning("reap failed", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Shutdown

    private func drain() async {
        let deadline = ContinuousClock.now + settings.shutdownGrace
        while state.withLock({ !$0.running.isEmpty }) {
            if ContinuousClock.now >= deadline {
                let tasks = state.withLock { s in s.running.keys.compactMap { s.stop($0, reason: .shutdown) } }
                logger.notice("grace period over; releasing running jobs", metadata: ["jobs": "\(tasks.count)"])
                tasks.forEach { $0.cancel() }
                break
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        while state.withLock({ !$0.running.isEmpty }) { try? await Task.sleep(for: .milliseconds(10)) }
        state.withLock { $0.finished = true }
        wakeCommitter.yield()
    }
}
