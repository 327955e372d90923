import Testing
@testable import Neural

/// Every analytic gradient against central finite differences on a tiny random model.
struct TrainingGradientTests {
    /// L = Σ_t c_t · logp_t with fixed random c (so every token and the whole objective family is covered).
    private static func objective(_ model: LlamaTrainModel, _ batch: TrainBatch, _ coeff: [Float]) throws -> Double {
        try model.forward(batch)
        var s = 0.0
        for t in 0..<batch.count { s += Double(coeff[t]) * Double(model.logProb(at: t)) }
        return s
    }

    private static func coefficients(_ batch: TrainBatch, seed: UInt64) -> [Float] {
        var rng = TrainingRandom(seed: seed)
        return batch.targets.map { $0 >= 0 ? rng.nextUniform() * 2 - 1 : 0 }
    }

    /// Compares, per trainable tensor, the directional derivative along a random unit direction and the
    /// derivative of the tensor's largest-gradient element. Returns the names that failed.
    private static func check(
        _ model: LlamaTrainModel, _ batch: TrainBatch, seed: UInt64, eps: Float = 1e-2, tolerance: Double = 2e-2
    ) throws -> [String] {
        let coeff = coefficients(batch, seed: seed)
        model.zeroGradients()
        _ = try objective(model, batch, coeff)
        model.backward(batch, logProbGradient: coeff)
        var failures: [String] = []
        var rng = TrainingRandom(seed: seed ^ 0xBEEF)
        for t in model.trainableTensors {
            let grad = t.gradientArray
            let original = t.array
            // Directional derivative along a random unit vector.
            var dir = (0..<t.count).map { _ in rng.nextNormal() }
            let norm = dir.reduce(0) { $0 + $1 * $1 }.squareRoot()
            dir = dir.map { $0 / norm }
            var analytic = 0.0
            for i in 0..<t.count { analytic += Double(grad[i]) * Double(dir[i]) }
            for i in 0..<t.count { t.data[i] = original[i] + eps * dir[i] }
            let plus = try objective(model, batch, coeff)
            for i in 0..<t.count { t.data[i] = original[i] - eps * dir[i] }
            let minus = try objective(model, batch, coeff)
            for i in 0..<t.count { t.data[i] = original[i] }
            let numeric = (plus - minus) / (2 * Double(eps))
            if abs(analytic - numeric) > tolerance * max(abs(analytic), abs(numeric)) + 2e-3 {
                failures.append("\(t.name) direction: analytic \(analytic) numeric \(numeric)")
            }
            // The single element with the largest gradient.
            let j = grad.indices.max { abs(grad[$0]) < abs(grad[$1]) }!
            t.data[j] = original[j] + eps
            let p1 = try objective(model, batch, coeff)
            t.data[j] = original[j] - eps
            let m1 = try objective(model, batch, coeff)
            t.data[j] = original[j]
            let num1 = (p1 - m1) / (2 * Double(eps))
            if abs(Double(grad[j]) - num1) > tolerance * max(abs(Double(grad[j])), abs(num1)) + 2e-3 {
                failures.append("\(t.name)[\(j)]: analytic \(grad[j]) numeric \(num1)")
            }
            if grad.allSatisfy({ $0 == 0 }) { failures.append("\(t.name): gradient is identically zero") }
        }
        return failures
    }

    private static func model(
        _ mode: TrainingMode, config: LlamaTrainConfig = TrainingFixtures.tinyConfig(), checkpointing: Bool = false
    ) throws -> LlamaTrainModel {
        let params = try LlamaTrainParameters.random(config: config, seed: 7, std: 0.3)
        let m = try LlamaTrainModel(parameters: params, mode: mode, capacity: TrainCapacity(maxTokens: 16, maxSegmentLength: 8),
                                    gradientCheckpointing: checkpointing, seed: 3)
        if mode != .full { TrainingFixtures.randomiseAdapters(m, seed: 11) }
        return m
    }

    private static let packed = TrainingFixtures.batch(segmentLengths: [6, 4, 5], vocab: 32, seed: 5)

    @Test func loraGradientsMatchFiniteDifferencesOnAllSevenProjections() throws {
        let m = try Self.model(.lora(LoRAConfig(rank: 3, alpha: 6)))
        #expect(m.trainableTensors.count == 2 * 7 * 2)
        let failures = try Self.check(m, Self.packed, seed: 1)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func loraGradientsMatchWithHalvesRoPE() throws {
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(rope: .halves), seed: 8, std: 0.3)
        let m = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 2, alpha: 4, targets: [.q, .k, .down])),
                                    capacity: TrainCapacity(maxTokens: 16, maxSegmentLength: 8))
        TrainingFixtures.randomiseAdapters(m, seed: 12)
        let failures = try Self.check(m, Self.packed, seed: 2)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func fullFineTuningGradientsMatchFiniteDifferences() throws {
        let m = try Self.model(.full)
        // embedding, final norm, and 9 tensors per block
        #expect(m.trainableTensors.count == 2 + 2 * 9)
        let failures = try Self.check(m, Self.packed, seed: 3)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func qloraGradientsMatchFiniteDifferences() throws {
        for kind in [BaseQuantization.q8_0, .q4_1] {
            let m = try Self.model(.qlora(LoRAConfig(rank: 2, alpha: 4), kind), config: TrainingFixtures.tinyQuantConfig())
            let failures = try Self.check(m, Self.packed, seed: 4)
            #expect(failures.isEmpty, "\(kind): \(failures)")
        }
    }

    @Test func dropoutGradientsMatchFiniteDifferencesForAFixedMask() throws {
        let m = try Self.model(.lora(LoRAConfig(rank: 2, alpha: 2, dropout: 0.3)))
        m.dropoutSeed = 99
        let failures = try Self.check(m, Self.packed, seed: 5)
        #expect(failures.isEmpty, "\(failures)")
        // The mask really drops something: training and eval outputs differ.
        let a = try m.forward(Self.packed)
        m.isTraining = false
        let b = try m.forward(Self.packed)
        #expect(a != b)
    }

    @Test func gradientCheckpointingGivesTheSameGradients() throws {
        let lora = LoRAConfig(rank: 2, alpha: 4, dropout: 0.1)
        let plain = try Self.model(.lora(lora))
        let ckpt = try Self.model(.lora(lora), checkpointing: true)
        let coeff = Self.coefficients(Self.packed, seed: 6)
        for m in [plain, ckpt] {
            m.dropoutSeed = 5
            m.zeroGradients()
            try m.forward(Self.packed)
            m.backward(Self.packed, logProbGradient: coeff)
        }
        for (a, b) in zip(plain.trainableTensors, ckpt.trainableTensors) {
            let ga = a.gradientArray, gb = b.gradientArray
            let diff = zip(ga, gb).map { abs($0 - $1) }.max()!
            #expect(diff <= 1e-5, "\(a.name) differs by \(diff)")
        }
    }
}
