import ArgumentParser
import Core
import Foundation

/// `twin bench queue`: enqueue rate, burn-down throughput (one job per round trip, and batched), enqueue→start
/// latency at a fixed 1,000 jobs/s, and a crash run with `kill -9` of worker processes.
struct BenchQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Benchmark the queue end to end with real twin-worker processes.")

    @Option(help: "Jobs per throughput run.") var jobs: Int = 50_000
    @Option(help: "Jobs in the crash run (kill -9 a worker every --kill-every seconds).") var crashJobs: Int = 10_000
    @Option(help: "Seconds between kills in the crash run.") var killEvery: Double = 2
    @Option(help: "Worker processes for the throughput runs.") var workers: Int = 1
    @Option(help: "Seconds of open-loop load at 1,000 jobs/s for the latency run.") var latencySeconds: Double = 5
    @Flag(help: "Skip the crash run.") var skipCrash = false
    @Flag(name: .customLong("with-peers"), help: "Also run Dramatiq and RQ (Benchmarks/queue/, run from the repository root) on the same Redis and report ratios.")
    var withPeers = false
    @OptionGroup var options: GlobalOptions

    struct Report: Encodable {
        var enqueue_single_per_second = 0.0
        var enqueue_bulk_per_second = 0.0
        var unbatched_jobs_per_second = 0.0
        var batched_jobs_per_second = 0.0
        var latency_rate_per_second = 1000.0
        var latency_p50_ms = 0.0
        var latency_p99_ms = 0.0
        var crash_jobs = 0
        var crash_kills = 0
        var crash_lost = 0
        var crash_duplicate_results = 0
        var crash_reexecuted = 0
        var jobs = 0
        var workers = 0
        var peers: JSONValue?
        var best_peer_jobs_per_second: Double?
        var ratio_unbatched_to_best_peer: Double?
        var ratio_batched_to_best_peer: Double?
    }

    func run() async throws {
        try await guarded {
            var base = try TwinConfiguration.load(file: options.config)
            base.queue.keyPrefix = "bench" + String(UUIDv7.make().replacingOccurrences(of: "-", with: "").suffix(8))
            let runtime = TwinRuntime(configuration: base, label: "twin-bench", redisConnections: 2, postgresConnections: 2)
            try await runtime.prepare()
            let bench = QueueBench(runtime: runtime, log: { if !options.json { print($0) } })
            var report = Report(jobs: jobs, workers: workers)
            defer { Task { await bench.cleanup() } }

            report.enqueue_single_per_second = try await bench.enqueueRate(count: min(jobs, 20_000), bulk: false)
            report.enqueue_bulk_per_second = try await bench.enqueueRate(count: jobs, bulk: true)
            report.unbatched_jobs_per_second = try await bench.burnDown(count: jobs, workers: workers, fetchBatch: 1, concurrency: 64)
            report.batched_jobs_per_second = try await bench.burnDown(count: jobs * 2, workers: workers, fetchBatch: 512, concurrency: 1024)
            (report.latency_p50_ms, report.latency_p99_ms) = try await bench.latency(rate: 1000, seconds: latencySeconds)
            if !skipCrash {
                let crash = try await bench.crashRun(count: crashJobs, killEvery: killEvery)
                report.crash_jobs = crashJobs
                report.crash_kills = crash.kills
                report.crash_lost = crash.lost
                report.crash_duplicate_results = crash.duplicates
                report.crash_reexecuted = crash.reexecuted
            }
            if withPeers {
                let peers = try runPeers(jobs: min(jobs, 20_000))
                report.peers = peers
                var best = 0.0
                for (_, figures) in peers.objectValue ?? [:] {
                    for (key, value) in figures.objectValue ?? [:] where key.hasPrefix("burn_down") {
                        if case .number(let v) = value { best = max(best, v) }
                    }
                }
                if best > 0 {
                    report.best_peer_jobs_per_second = best
                    report.ratio_unbatched_to_best_peer = report.unbatched_jobs_per_second / best
                    report.ratio_batched_to_best_peer = report.batched_jobs_per_second / best
                    if !options.json {
                        print("peers: \(peers.jsonText)")
                        print(String(format: "best peer burn-down %.0f jobs/s; Twin unbatched %.1fx, batched %.1fx",
                                     best, report.ratio_unbatched_to_best_peer!, report.ratio_batched_to_best_peer!))
                    }
                }
            }
            if options.json { printJSON(report) }
        }
    }
}

/// Runs Benchmarks/queue/peers.py in its venv (created on first use) and returns its JSON.
func runPeers(jobs: Int) throws -> JSONValue {
    func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TwinError.io("\(args.joined(separator: " ")) failed with status \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
    guard FileManager.default.fileExists(atPath: "Benchmarks/queue/setup.sh") else {
        throw TwinError.invalidInput("--with-peers: run from the repository root (Benchmarks/queue/setup.sh not found)")
    }
    let python = try run(["bash", "Benchmarks/queue/setup.sh"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let line = try run([python, "Benchmarks/queue/peers.py", "--jobs", String(jobs)])
        .split(separator: "\n").last.map(String.init) ?? "null"
    return try JSONValue.parse(line)
}
