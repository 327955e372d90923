import ArgumentParser
import Core
import Logging
import ServiceLifecycle

/// `twin-worker`: leases jobs from its queues and runs them until SIGTERM/SIGINT.
@main
struct TwinWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin-worker",
        abstract: "Run jobs from the queues until SIGTERM or SIGINT (graceful: running jobs finish or are released).")

    @Option(help: "Queues to serve, in priority order, comma separated (default: TWIN_WORKER_QUEUES or 'default').")
    var queues: String?

    @Option(help: "Jobs run at once (default: TWIN_WORKER_CONCURRENCY or 8).")
    var concurrency: Int?

    @Option(name: .customLong("fetch-batch"), help: "Jobs leased per round trip at most; 1 = one job per round trip.")
    var fetchBatch: Int?

    @Option(help: "Configuration file (default: TWIN_CONFIG or ./twin.yaml).")
    var config: String?

    func run() async throws {
        TwinRuntime.bootstrapLogging()
        TrainingJobs.selectBLASKernels()   // before any job can run a matrix product
        var configuration = try TwinConfiguration.load(file: config)
        if let queues { configuration.worker.queues = queues.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if let concurrency { configuration.worker.concurrency = concurrency }
        if let fetchBatch { configuration.worker.fetchBatch = fetchBatch }
        do { try configuration.validate() } catch { throw ValidationError("\(error)") }
        let runtime = TwinRuntime(configuration: configuration, label: "twin-worker")
        try await runtime.prepare()
        let worker = WorkerService(queue: runtime.queue, settings: configuration.worker, logger: runtime.logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: worker)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: runtime.logger))
        try await group.run()
    }
}
