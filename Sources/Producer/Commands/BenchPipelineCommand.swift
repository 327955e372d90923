import ArgumentParser
import Core
import Foundation

/// `twin bench pipeline`: scheduling overhead per step (a step's job finished → the next step's job started)
/// on a chain of no-op steps, and the throughput of one step fanning out to many children.
struct BenchPipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "Benchmark pipeline scheduling with a real twin-worker.")

    @Option(help: "Steps in the chain.") var chain: Int = 100
    @Option(help: "Children of the fan-out step.") var fanout: Int = 10_000
    @Option(help: "Worker processes.") var workers: Int = 1
    @OptionGroup var options: GlobalOptions

    struct Report: Encodable {
        var chain_steps = 0
        var step_overhead_p50_ms = 0.0
        var step_overhead_p99_ms = 0.0
        var fanout_children = 0
        var fanout_seconds = 0.0
        var fanout_children_per_second = 0.0
    }

    func run() async throws {
        try await guarded {
            var base = try TwinConfiguration.load(file: options.config)
            base.queue.keyPrefix = "benchp" + String(UUIDv7.make().replacingOccurrences(of: "-", with: "").suffix(8))
            let runtime = TwinRuntime(configuration: base, label: "twin-bench", redisConnections: 2, postgresConnections: 2)
            try await runtime.prepare()
            let bench = QueueBench(runtime: runtime, log: { if !options.json { print($0) } })
            defer { Task { await bench.cleanup() } }
            let service = PipelineService(queue: runtime.queue)
            let procs = try (0..<workers).map { _ in try QueueBench.WorkerProcess(prefix: bench.prefix, queue: "default", fetchBatch: 64, concurrency: 256) }
            defer { procs.forEach { $0.terminate() } }
            var report = Report(chain_steps: chain, fanout_children: fanout)

            // A chain: s0 → s1 → … each a no-op job.
            let steps = (0..<chain).map { i in
                PipelineDefinition.Step(name: "s\(i)", kind: "noop", params: .object([:]), after: i == 0 ? [] : ["s\(i - 1)"], inputs: [:],
                                        fanOut: nil, queue: nil, maxAttempts: nil, timeoutSeconds: nil, output: nil)
            }
            let chainDef = PipelineDefinition(name: "bench_chain", description: "", parameters: [], steps: steps)
            let run = try await service.start(chainDef, noCache: true, trigger: "bench")
            _ = try await waitRun(service, run.id)
            let gaps = try await runtime.postgres.query("""
                WITH j AS (SELECT step_child, substring(step FROM 2)::int AS i, started_at, finished_at FROM platform.jobs WHERE pipeline_run = $1)
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY gap) AS p99
                FROM (SELECT extract(epoch FROM b.started_at - a.finished_at) * 1000 AS gap FROM j a JOIN j b ON b.i = a.i + 1) g
                """, [run.id]).first
            report.step_overhead_p50_ms = try gaps?.optionalDouble("p50") ?? 0
            report.step_overhead_p99_ms = try gaps?.optionalDouble("p99") ?? 0
            if !options.json {
                print(String(format: "chain of %d steps: step done → next step running p50 %.2f ms, p99 %.2f ms",
                             chain, report.step_overhead_p50_ms, report.step_overhead_p99_ms))
            }

            // One step fanning out to many children.
            let fanDef = PipelineDefinition(name: "bench_fanout", description: "", parameters: [
                .init(name: "items", type: .list, defaultValue: .array((0..<fanout).map { .number(Double($0)) }))
            ], steps: [
                .init(name: "fan", kind: "noop", params: .object(["i": .string("${item}")]), after: [], inputs: [:],
                      fanOut: .init(over: "${params.items}", itemName: "item", minSuccess: 1), queue: nil, maxAttempts: nil,
                      timeoutSeconds: nil, output: nil),
            ])
            let start = ContinuousClock.now
            let fanRun = try await service.start(fanDef, noCache: true, trigger: "bench")
            let done = try await waitRun(service, fanRun.id)
            report.fanout_seconds = (ContinuousClock.now - start).seconds
            report.fanout_children_per_second = Double(fanout) / report.fanout_seconds
            if !options.json {
                print(String(format: "fan-out of %d children: %@ in %.2f s = %.0f children/s (start to run finished)",
                             fanout, done.state, report.fanout_seconds, report.fanout_children_per_second))
            }
            if options.json { printJSON(report) }
        }
    }

    func waitRun(_ service: PipelineService, _ id: String) async throws -> PipelineService.RunView {
        let deadline = ContinuousClock.now + .seconds(600)
        while ContinuousClock.now < deadline {
            let v = try await service.show(id)
            if v.state != "running" { return v }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TwinError.timeout("pipeline run \(id) did not finish")
    }
}
