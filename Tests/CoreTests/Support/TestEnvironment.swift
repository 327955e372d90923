import Foundation
import Logging
@testable import Core

/// Real Redis and PostgreSQL from `ops/services` (TWIN_REDIS_URL, TWIN_POSTGRES_URL), with a fresh key
/// prefix per test so tests can run in parallel without seeing each other's queues.
struct TestEnvironment {
    let configuration: TwinConfiguration
    let redis: RedisClient
    let postgres: PostgresClient
    let queue: JobQueue
    let logger: Logger

    static let migrated: Task<Void, any Error> = Task {
        let config = try TwinConfiguration.load(environment: ProcessInfo.processInfo.environment)
        let pg = PostgresClient(endpoint: config.postgres, connections: 1)
        try await Migrator.migrate(pg)
    }

    init(lease: Duration = .seconds(30), maxCrashes: Int = 3, retryBase: Duration = .milliseconds(20),
         registry extra: ((inout JobRegistry) -> Void)? = nil) async throws {
        try await Self.migrated.value
        var config = try TwinConfiguration.load(environment: ProcessInfo.processInfo.environment)
        config.queue.keyPrefix = "t" + UUIDv7.make().replacingOccurrences(of: "-", with: "").suffix(12)
        config.queue.leaseDuration = lease
        config.queue.maxCrashes = maxCrashes
        config.queue.retryBase = retryBase
        config.queue.retryMax = .seconds(1)
        configuration = config
        redis = RedisClient(endpoint: config.redis, connections: 2)
        postgres = PostgresClient(endpoint: config.postgres, connections: 2)
        var registry = JobRegistry()
        BuiltinHandlers.register(into: &registry)
        extra?(&registry)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        self.logger = logger
        queue = JobQueue(settings: config.queue, redis: redis, postgres: postgres, registry: registry)
    }

    /// A worker on `queues` (not started).
    func worker(queues: [String] = ["default"], concurrency: Int = 8, fetchBatch: Int = 16,
                grace: Duration = .seconds(5)) -> WorkerService {
        var settings = configuration.worker
        settings.queues = queues
        settings.concurrency = concurrency
        settings.fetchBatch = fetchBatch
        settings.shutdownGrace = grace
        return WorkerService(queue: queue, settings: settings, logger: logger)
    }

    /// Runs `body` while `worker` runs, then stops the worker gracefully and waits for it.
    func running<T>(_ worker: WorkerService, _ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await worker.run() }
            do {
                let value = try await body()
                worker.stop()
                try await group.waitForAll()
                return value
            } catch {
                worker.stop()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// Polls until the job reaches a final state (or `timeout` passes).
    func waitFinal(_ id: String, timeout: Duration = .seconds(20)) async throws -> JobStatus {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let s = try await queue.status(id: id)
            if JobState(rawValue: s.state)?.isFinal == true { return s }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TwinError.timeout("job \(id) did not finish in \(timeout)")
    }

    /// Runs a raw Redis command.
    @discardableResult
    func redisCommand(_ args: String...) async throws -> RedisValue { try await redis.command(args) }

    var prefix: String { configuration.queue.keyPrefix }
}
