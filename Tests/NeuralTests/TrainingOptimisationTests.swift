import Testing
@testable import Neural

/// AdamW, schedules, accumulation, clipping, seeds, overfitting and divergence.
struct TrainingOptimisationTests {
    static func dataset() throws -> SFTDataset {
        let samples = [
            TokenizedSample.completion(prompt: [1, 2, 3], response: [4, 5, 6, 31], maxLength: 16),
            TokenizedSample.completion(prompt: [7, 8], response: [9, 10, 11, 12, 31], maxLength: 16),
            TokenizedSample.completion(prompt: [13, 14, 15], response: [16, 17, 31], maxLength: 16),
            TokenizedSample.completion(prompt: [2, 4], response: [6, 8, 10, 31], maxLength: 16),
        ]
        return try SFTDataset(samples: samples, maxSequenceLength: 16)
    }

    static func trainer(
        mode: TrainingMode = .lora(LoRAConfig(rank: 4, alpha: 8)), options: TrainingOptions, seed: UInt64 = 1
    ) throws -> Trainer<SFTObjective> {
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 31, std: 0.2)
        // A larger tied embedding lets the frozen head express confident predictions (|logit| ∝ |E|).
        for i in 0..<params.embedding.count { params.embedding.data[i] *= 5 }
        let capacity = TrainCapacity(maxTokens: 16 * options.batchSize, maxSegmentLength: 16)
        let model = try LlamaTrainModel(parameters: params, mode: mode, capacity: capacity, seed: seed)
        let objective = try SFTObjective(train: dataset(), eval: dataset(), options: options, capacity: capacity)
        return try Trainer(model: model, objective: objective, options: options)
    }

    @Test func loraOverfitsATinyDataset() throws {
        var o = TrainingOptions()
        o.epochs = 60
        o.learningRate = 2e-2
        o.schedule = .constant
        o.adam.weightDecay = 0
        o.packing = false
        o.batchSize = 2
        let t = try Self.trainer(options: o)
        let first = try t.evaluate()!.loss
        let records = try t.train()
        let last = try t.evaluate()!.loss
        #expect(records.count == 60 * 2)
        #expect(first > 2.5)
        #expect(last < 0.05, "eval loss \(first) → \(last)")
    }

    @Test func fullFineTuningOverfitsATinyDataset() throws {
        var o = TrainingOptions()
        o.epochs = 40
        o.learningRate = 1e-2
        o.schedule = .cosine
        o.warmupSteps = 5
        o.batchSize = 4
        let t = try Self.trainer(mode: .full, options: o)
        try t.train()
        #expect(try t.evaluate()!.loss < 0.05)
    }

    @Test func sameSeedSameTrajectoryDifferentSeedDifferentOrder() throws {
        var o = TrainingOptions()
        o.epochs = 3
        o.learningRate = 5e-3
        o.packing = false
        o.seed = 42
        let lora = TrainingMode.lora(LoRAConfig(rank: 2, alpha: 4, dropout: 0.1))
        let a = try Self.trainer(mode: lora, options: o).train().map(\.loss)
        let b = try Self.trainer(mode: lora, options: o).train().map(\.loss)
        #expect(a == b)
        o.seed = 43
        let c = try Self.trainer(mode: lora, options: o).train().map(\.loss)
        #expect(a != c)
    }

    @Test func gradientAccumulationEqualsOneLargeBatch() throws {
        var big = TrainingOptions()
        big.batchSize = 4
        big.packing = false
        big.maxGradNorm = nil
        var small = big
        small.batchSize = 1
        small.gradientAccumulation = 4
        let tb = try Self.trainer(options: big)
        let ts = try Self.trainer(options: small)
        #expect(tb.totalSteps == 1 && ts.totalSteps == 1)
        // Non-zero B so the first step's gradients reach A as well.
        TrainingFixtures.randomiseAdapters(tb.model, seed: 3)
        TrainingFixtures.randomiseAdapters(ts.model, seed: 3)
        let rb = try tb.trainStep(), rs = try ts.trainStep()
        #expect(abs(rb.loss - rs.loss) < 1e-5)
        #expect(abs(rb.gradientNorm - rs.gradientNorm) < 1e-4 * rb.gradientNorm)
        #expect(rb.tokens == rs.tokens)
    }

    @Test func clippingBoundsTheGradientAndReportsTheRawNorm() throws {
        var o = TrainingOptions()
        o.maxGradNorm = 1e-3
        let t = try Self.trainer(options: o)
        TrainingFixtures.randomiseAdapters(t.model, seed: 5)
        let r = try t.trainStep()
        #expect(r.gradientNorm > 1e-3)
        #expect(abs(t.optimizer.gradientNorm() - 1e-3) < 1e-6)
    }

    @Test func schedulesFollowWarmupThenDecay() {
        let lin = LearningRateSchedule(kind: .linear, peak: 1, warmupSteps: 10, totalSteps: 110)
        #expect(lin.rate(at: 0) == 0)
        #expect(lin.rate(at: 5) == 0.5)
        #expect(lin.rate(at: 10) == 1)
        #expect(abs(lin.rate(at: 60) - 0.5) < 1e-6)
        #expect(lin.rate(at: 110) == 0)
        let cos = LearningRateSchedule(kind: .cosine, peak: 2, warmupSteps: 0, totalSteps: 100)
        #expect(cos.rate(at: 0) == 2)
        #expect(abs(cos.rate(at: 50) - 1) < 1e-6)
        #expect(cos.rate(at: 100) < 1e-6)
        #expect(LearningRateSchedule(kind: .constant, peak: 3, warmupSteps: 2, totalSteps: 9).rate(at: 7) == 3)
    }

    @Test func adamWMatchesAHandComputedStep() {
        let p = TrainTensor(name: "w", shape: [1, 2], values: [1, -2])
        p.enableGradient()
        p.grad![0] = 0.5
        p.grad![1] = -0.25
        let opt = AdamW(tensors: [p], hyper: .init(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.1))
        opt.step(learningRate: 0.01)
        // First step: m̂ = g, v̂ = g², update = g/|g| = sign(g); decay multiplies by 1 − lr·wd first.
        #expect(abs(p.data[0] - (1 * (1 - 0.001) - 0.01)) < 1e-6)
        #expect(abs(p.data[1] - (-2 * (1 - 0.001) + 0.01)) < 1e-6)
    }

    @Test func nanLossFailsNamingTheStep() throws {
        var o = TrainingOptions()
        o.epochs = 3
        let t = try Self.trainer(options: o)
        _ = try t.trainStep()
        let before = t.model.trainableTensors.map(\.array)
        t.model.adapter(layer: 1, target: .down)!.b.data[0] = .nan
        #expect { try t.trainStep() } throws: { e in
            guard let e = e as? TrainingError else { return false }
            return e.isDivergence && e.message.contains("step 2") && e.message.contains("nan")
        }
        #expect(t.step == 1)
        // Nothing but the poisoned value changed: the weights were not updated.
        var after = t.model.trainableTensors.map(\.array)
        let idx = t.model.trainableTensors.firstIndex { $0.name.hasSuffix("layers.1.mlp.down_proj.lora_B") }!
        after[idx][0] = before[idx][0]
        #expect(after == before)
    }

    @Test func badHyperparametersNameTheKey() throws {
        for (edit, key) in [
            ({ (o: inout TrainingOptions) in o.learningRate = 0 }, "learningRate"),
            ({ (o: inout TrainingOptions) in o.learningRate = 5 }, "learningRate"),
            ({ (o: inout TrainingOptions) in o.epochs = 0 }, "epochs"),
            ({ (o: inout TrainingOptions) in o.gradientAccumulation = 0 }, "gradientAccumulation"),
            ({ (o: inout TrainingOptions) in o.maxGradNorm = -1 }, "maxGradNorm"),
        ] {
            var o = TrainingOptions()
            edit(&o)
            #expect { try o.validate() } throws: { ($0 as? TrainingError)?.message.hasPrefix(key) == true }
        }
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 1)
        let cap = TrainCapacity(maxTokens: 8, maxSegmentLength: 8)
        for (lora, key) in [(LoRAConfig(rank: 0), "lora rank"), (LoRAConfig(rank: 999), "lora rank"),
                            (LoRAConfig(rank: 2, alpha: 0), "lora alpha"), (LoRAConfig(rank: 2, dropout: 1), "lora dropout"),
                            (LoRAConfig(rank: 2, targets: []), "lora targets")] {
            #expect { try LlamaTrainModel(parameters: params, mode: .lora(lora), capacity: cap) } throws: {
                ($0 as? TrainingError)?.message.hasPrefix(key) == true
            }
        }
    }
}
