import Testing
@testable import Neural

/// DPO: reference from the frozen base, loss and metrics, margin growth.
struct TrainingDPOTests {
    static func pairs() throws -> DPODataset {
        func pair(_ prompt: [Int32], _ good: [Int32], _ bad: [Int32]) -> PreferencePair {
            PreferencePair(chosen: .completion(prompt: prompt, response: good + [31], maxLength: 12),
                           rejected: .completion(prompt: prompt, response: bad + [31], maxLength: 12))
        }
        return try DPODataset(pairs: [
            pair([1, 2, 3], [4, 5], [20, 21]),
            pair([6, 7], [8, 9, 10], [22, 23, 24]),
            pair([11, 12, 13], [14], [25]),
            pair([2, 3], [5, 4, 3], [26, 27, 28]),
        ], maxSequenceLength: 12)
    }

    static func setup(options: TrainingOptions, beta: Double = 0.5) throws -> Trainer<DPOObjective> {
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 41, std: 0.2)
        let model = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                        capacity: TrainCapacity(maxTokens: 2 * 12 * options.batchSize, maxSegmentLength: 12))
        let data = try pairs()
        let objective = try DPOObjective(model: model, train: data, eval: data, beta: beta, options: options)
        return try Trainer(model: model, objective: objective, options: options)
    }

    @Test func dpoRaisesTheChosenOverRejectedMargin() throws {
        var o = TrainingOptions()
        o.epochs = 15
        o.batchSize = 2
        o.learningRate = 1e-2
        o.schedule = .constant
        let t = try Self.setup(options: o)
        let start = try t.evaluate()!
        // B = 0 at start, so the policy equals the reference: rewards 0, loss log 2.
        #expect(abs(start.loss - 0.6931) < 1e-3)
        #expect(abs(start.dpo!.margin) < 1e-4)
        let records = try t.train()
        let end = try t.evaluate()!
        #expect(end.dpo!.margin > 1, "margin \(end.dpo!.margin)")
        #expect(end.dpo!.accuracy == 1)
        #expect(end.loss < start.loss)
        #expect(records.last!.dpo!.chosenReward > records.last!.dpo!.rejectedReward)
    }

    @Test func referenceLogProbsComeFromTheBaseWithAdaptersOff() throws {
        var o = TrainingOptions()
        o.batchSize = 2
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 41, std: 0.2)
        let model = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 2, alpha: 4)),
                                        capacity: TrainCapacity(maxTokens: 48, maxSegmentLength: 12))
        TrainingFixtures.randomiseAdapters(model, seed: 9)
        let data = try Self.pairs()
        let objective = try DPOObjective(model: model, train: data, options: o)
        #expect(model.adaptersEnabled)
        model.adaptersEnabled = false
        let base = try model.forward(data.pairs[0].chosen.batch)
        model.adaptersEnabled = true
        let adapted = try model.forward(data.pairs[0].chosen.batch)
        #expect(abs(objective.referenceLogProbs[0].chosen - base) < 1e-5)
        #expect(abs(base - adapted) > 1e-3)
    }

    @Test func dpoLossGradientMatchesFiniteDifferences() throws {
        // d(loss)/dθ through the DPO objective, checked along one random direction of one adapter.
        var o = TrainingOptions()
        o.batchSize = 4
        let t = try Self.setup(options: o)
        TrainingFixtures.randomiseAdapters(t.model, seed: 13, std: 0.3)
        let obj = t.objective
        t.model.zeroGradients()
        let base = try obj.accumulate(model: t.model, indices: [0], epoch: 0, dropoutSeed: 0)
        let tensor = t.model.adapter(layer: 0, target: .v)!.a
        let g = tensor.gradientArray
        var rng = TrainingRandom(seed: 77)
        let dir = (0..<tensor.count).map { _ in rng.nextNormal() }
        let analytic = zip(g, dir).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let eps: Float = 1e-2
        let orig = tensor.array
        func loss(_ s: Float) throws -> Double {
            for i in 0..<tensor.count { tensor.data[i] = orig[i] + s * dir[i] }
            return try obj.accumulate(model: t.model, indices: [0], epoch: 0, dropoutSeed: 0).loss
        }
        let numeric = (try loss(eps) - loss(-eps)) / Double(2 * eps)
        #expect(base.loss.isFinite)
        #expect(abs(analytic - numeric) < 2e-2 * abs(numeric) + 1e-4, "analytic \(analytic) numeric \(numeric)")
    }

    @Test func badPreferenceExamplesAreRefused() {
        let tok: (String) -> [Int32] = { $0.unicodeScalars.map { Int32($0.value % 30) } }
        #expect {
            _ = try DPODataset(examples: [DPOExample(prompt: "p", chosen: "c", rejected: "")], tokenize: tok, eos: 31,
                               maxSequenceLength: 400)
        } throws: { ($0 as? TrainingError)?.message == "dpo example 0: rejected is empty" }
        #expect(throws: TrainingError.self) {
            let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 1)
            let m = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 2)),
                                        capacity: TrainCapacity(maxTokens: 48, maxSegmentLength: 12))
            _ = try DPOObjective(model: m, train: Self.pairs(), beta: 0, options: TrainingOptions())
        }
    }
}
