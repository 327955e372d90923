import Foundation
import Logging

/// Wires the shared parts of every Twin process: configuration, logging, the Redis and Postgres clients,
/// the job registry and the queue. Executables build one and hand its parts to their services.
public struct TwinRuntime: Sendable {
    public let configuration: TwinConfiguration
    public let logger: Logger
    public let redis: RedisClient
    public let postgres: PostgresClient
    public let registry: JobRegistry
    public let queue: JobQueue

    /// Loads the configuration (file + environment) and connects lazily (nothing is contacted yet).
    public init(configFile: String? = nil, label: String = "twin", redisConnections: Int = 2, postgresConnections: Int = 2) throws {
        let configuration = try TwinConfiguration.load(file: configFile)
        self.init(configuration: configuration, label: label, redisConnections: redisConnections,
                  postgresConnections: postgresConnections)
    }

    public init(configuration: TwinConfiguration, label: String = "twin", redisConnections: Int = 2, postgresConnections: Int = 2) {
        self.configuration = configuration
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
        self.logger = logger
        redis = RedisClient(endpoint: configuration.redis, connections: redisConnections)
        postgres = PostgresClient(endpoint: configuration.postgres, connections: postgresConnections)
        registry = JobCatalog.standard(configuration: configuration)
        queue = JobQueue(settings: configuration.queue, redis: redis, postgres: postgres, registry: registry,
                         artifacts: configuration.artifacts)
    }

    /// Applies pending migrations and the per-queue limits from the configuration.
    public func prepare() async throws {
        try await Migrator.migrate(postgres)
        for (name, limits) in configuration.queueLimits {
            try await queue.setLimits(queue: name, limits)
        }
    }

    /// Sends log lines to stderr (stdout is kept for command output).
    public static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }
}

/// Every job kind this build knows. Producers validate against it; workers run it.
public enum JobCatalog {
    /// The registry with every built-in and domain handler.
    public static func standard(configuration: TwinConfiguration) -> JobRegistry {
        var registry = JobRegistry()
        BuiltinHandlers.register(into: &registry)
        registry.register(PipelineRunHandler(configuration: configuration))
        CrawlJobs.register(into: &registry, configuration: configuration)
        TrainingJobs.register(into: &registry, configuration: configuration)
        return registry
    }
}
