import COpenBLAS
import Foundation

/// Measures SFT training throughput and memory (the numbers behind `twin bench train`).
public enum TrainBenchmark {
    /// Settings of one measurement.
    public struct Settings: Sendable {
        /// Tokens per sequence (loss on every position but the last).
        public var sequenceLength = 256
        /// Sequences per step (one micro-batch of `batchSize` unpacked rows of random tokens).
        public var batchSize = 1
        /// Optimiser steps timed.
        public var steps = 5
        /// Untimed steps first.
        public var warmupSteps = 1
        /// What is trained (default: LoRA r 16, alpha 32, on all seven projections).
        public var mode = TrainingMode.lora(LoRAConfig(rank: 16, alpha: 32))
        /// Recompute block activations in backward instead of keeping them.
        public var gradientCheckpointing = false
        /// Threads of the step (`LlamaTrainModel.threadBudget`; OpenBLAS is set to 1).
        public var threads = 2
        /// Seed of the token ids.
        public var seed: UInt64 = 0

        /// Defaults: seq 256, LoRA r 16 on q,k,v,o,gate,up,down, 2 threads.
        public init() {}
    }

    /// What one measurement found.
    public struct Result: Sendable, Codable {
        /// Trained tokens per second (median step): batchSize · (sequenceLength − 1) / median step.
        public var tokensPerSecond: Double
        /// Sequences per step.
        public var batchSize: Int = 1
        /// Seconds per optimiser step, each timed step.
        public var stepSeconds: [Double]
        /// Median step time.
        public var medianStepSeconds: Double
        /// Process CPU seconds (user + system, all threads) per timed step: less sensitive than wall time
        /// to other processes sharing the cores.
        public var cpuSecondsPerStep: Double
        /// Peak resident memory of the process so far (VmHWM), bytes.
        public var peakResidentBytes: Int
        /// Bytes of weights held by the model.
        public var weightBytes: Int
        /// Loss of each timed step (it must fall when training works).
        public var losses: [Double]
        /// The OpenBLAS kernel family in use ("Prescott" means a generic fallback: set OPENBLAS_CORETYPE).
        public var blasCore: String
    }

    /// Trains `parameters` on random tokens and times each step.
    public static func run(parameters: LlamaTrainParameters, settings s: Settings) throws -> Result {
        try run(settings: s) { capacity in
            try LlamaTrainModel(parameters: parameters, mode: s.mode, capacity: capacity,
                                gradientCheckpointing: s.gradientCheckpointing, seed: s.seed)
        }
    }

    /// Trains the model of the GGUF file at `path`. The file is unmapped before the activation buffers
    /// are allocated (LoRA, full) so its pages do not count as training memory; QLoRA loads block by
    /// block and never holds the f32 base.
    public static func run(ggufPath path: String, settings s: Settings) throws -> Result {
        try run(settings: s) { capacity in
            func open() throws -> GGUFFile {
                do { return try GGUFFile(path: path) } catch { throw TrainingError.io("\(path): \(error)") }
            }
            if case .qlora = s.mode {
                return try LlamaTrainModel(gguf: open(), mode: s.mode, capacity: capacity,
                                           gradientCheckpointing: s.gradientCheckpointing, seed: s.seed)
            }
            let parameters = try LlamaTrainParameters(gguf: open())
            return try LlamaTrainModel(parameters: parameters, mode: s.mode, capacity: capacity,
                                       gradientCheckpointing: s.gradientCheckpointing, seed: s.seed)
        }
    }

    static func run(settings s: Settings, makeModel: (TrainCapacity) throws -> LlamaTrainModel) throws -> Result {
        if s.batchSize < 1 || s.sequenceLength < 2 || s.steps < 1 || s.warmupSteps < 0 {
            throw TrainingError.invalidConfiguration(
                "bench: expected batchSize ≥ 1, sequenceLength ≥ 2, steps ≥ 1 and warmupSteps ≥ 0")
        }
        // The step splits its own work over the threads; OpenBLAS runs each piece on one. The caller's
        // count comes back afterwards.
        let callerThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(callerThreads) }
        let model = try makeModel(TrainCapacity(maxTokens: s.batchSize * s.sequenceLength, maxSegmentLength: s.sequenceLength))
        model.threadBudget = s.threads
        let c = model.config
        var rng = TrainingRandom(seed: s.seed)
        let samples = (0..<s.batchSize).map { _ in
            let tokens = (0..<s.sequenceLength).map { _ in Int32(rng.next() % UInt64(c.vocabSize)) }
            return TokenizedSample(tokens: tokens, targets: tokens.indices.map { $0 + 1 < tokens.count ? tokens[$0 + 1] : -1 })
        }
        var options = TrainingOptions()
        options.epochs = s.warmupSteps + s.steps
        options.learningRate = 1e-3
        options.packing = false
        options.batchSize = s.batchSize
        options.seed = s.seed
        let objective = try SFTObjective(train: SFTDataset(samples: samples, maxSequenceLength: s.sequenceLength),
                                         options: options, capacity: model.capacity)
        let trainer = try Trainer(model: model, objective: objective, options: options)
        for _ in 0..<s.warmupSteps { _ = try trainer.trainStep() }
        var times: [Double] = []
        var losses: [Double] = []
        let cpuStart = cpuSeconds()
        for _ in 0..<s.steps {
            let start = DispatchTime.now().uptimeNanoseconds
            let r = try trainer.trainStep()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            losses.append(r.loss)
        }
        let cpuPerStep = (cpuSeconds() - cpuStart) / Double(s.steps)
        let median = times.sorted()[times.count / 2]
        return Result(tokensPerSecond: Double(s.batchSize * (s.sequenceLength - 1)) / median, batchSize: s.batchSize,
                      stepSeconds: times, medianStepSeconds: median,
                      cpuSecondsPerStep: cpuPerStep,
                      peakResidentBytes: peakResidentBytes(), weightBytes: model.weightBytes, losses: losses,
                      blasCore: openblas_get_corename().map { String(cString: $0) } ?? "unknown")
    }

    /// User + system CPU time of the process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// VmHWM from /proc/self/status in bytes (0 where unavailable).
    public static func peakResidentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}
