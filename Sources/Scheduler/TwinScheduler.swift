import ArgumentParser
import Core
import Logging
import ServiceLifecycle

/// `twin-scheduler`: cron schedules, the reaper of expired leases and delayed-job promotion.
@main
struct TwinScheduler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin-scheduler",
        abstract: "Fire cron schedules exactly once, reap expired leases and promote delayed jobs. Run any number of replicas.")

    @Option(help: "Configuration file (default: TWIN_CONFIG or ./twin.yaml); its `schedules:` are loaded at start.")
    var config: String?

    func run() async throws {
        TwinRuntime.bootstrapLogging()
        let runtime = try TwinRuntime(configFile: config, label: "twin-scheduler")
        try await runtime.prepare()
        let scheduler = SchedulerService(queue: runtime.queue, logger: runtime.logger)
        for schedule in runtime.configuration.schedules {
            try await scheduler.store.upsert(schedule, source: "config")
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: scheduler)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: runtime.logger))
        try await group.run()
    }
}
