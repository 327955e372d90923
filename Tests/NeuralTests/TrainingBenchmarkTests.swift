import Foundation
import Testing
@testable import Neural

/// The benchmark entry point works on a tiny model; the SmolLM2 run is opt-in (TWIN_TRAIN_BENCH=1).
struct TrainingBenchmarkTests {
    @Test func benchmarkRunsAndTrains() throws {
        var s = TrainBenchmark.Settings()
        s.sequenceLength = 32
        s.steps = 3
        s.mode = .lora(LoRAConfig(rank: 4, alpha: 8))
        let r = try TrainBenchmark.run(parameters: .random(config: TrainingFixtures.tinyConfig(), seed: 1, std: 0.2), settings: s)
        #expect(r.stepSeconds.count == 3)
        #expect(r.tokensPerSecond > 0)
        #expect(r.peakResidentBytes > 0)
        #expect(r.losses.allSatisfy { $0.isFinite })
    }

    @Test func benchmarkCountsEveryRowOfABatch() throws {
        var s = TrainBenchmark.Settings()
        s.sequenceLength = 16
        s.batchSize = 3
        s.steps = 2
        s.mode = .lora(LoRAConfig(rank: 4, alpha: 8))
        let r = try TrainBenchmark.run(parameters: .random(config: TrainingFixtures.tinyConfig(), seed: 1, std: 0.2), settings: s)
        #expect(r.batchSize == 3)
        // Three rows of 15 loss tokens per step.
        #expect(abs(r.tokensPerSecond * r.medianStepSeconds - 45) < 1e-6)
        #expect(r.losses.count == 2 && r.losses.allSatisfy { $0.isFinite })
    }

    @Test func benchmarkRejectsAnEmptyBatch() throws {
        var s = TrainBenchmark.Settings()
        s.batchSize = 0
        do {
            _ = try TrainBenchmark.run(parameters: .random(config: TrainingFixtures.tinyConfig(), seed: 1, std: 0.2), settings: s)
            Issue.record("a batch of 0 sequences was accepted")
        } catch let e as TrainingError {
            #expect(e.description.contains("batchSize"))
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["TWIN_TRAIN_BENCH"] == "1"))
    func smolLM2SFTThroughput() throws {
        let env = ProcessInfo.processInfo.environment
        var s = TrainBenchmark.Settings()
        s.steps = Int(env["TWIN_TRAIN_BENCH_STEPS"] ?? "") ?? 5
        s.gradientCheckpointing = env["TWIN_TRAIN_BENCH_CKPT"] == "1"
        s.threads = Int(env["TWIN_TRAIN_BENCH_THREADS"] ?? "") ?? 2
        s.batchSize = Int(env["TWIN_TRAIN_BENCH_BATCH"] ?? "") ?? 1
        if let q = env["TWIN_TRAIN_BENCH_QLORA"], let kind = BaseQuantization(rawValue: q) {
            s.mode = .qlora(LoRAConfig(rank: 16, alpha: 32), kind)
        }
        // Real SmolLM2 weights when the model file is present (same shapes either way).
        let path = TrainingGGUFExportTests.smolLM2Path
        let r = FileManager.default.fileExists(atPath: path)
            ? try TrainBenchmark.run(ggufPath: path, settings: s)
            : try TrainBenchmark.run(parameters: .random(config: .smolLM2_135M, seed: 1), settings: s)
        let json = try JSONEncoder().encode(r)
        print("TRAINBENCH " + String(decoding: json, as: UTF8.self))
    }
}
