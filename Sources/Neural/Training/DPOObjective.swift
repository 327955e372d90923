import RealModule

/// Direct Preference Optimisation: −log σ(β[(log π(c) − log π_ref(c)) − (log π(r) − log π_ref(r))]),
/// with π_ref the frozen base (adapters off), computed once before training.
public struct DPOObjective: TrainingObjective {
    /// Training pairs.
    public let train: DPODataset
    /// Evaluation pairs.
    public let eval: DPODataset?
    /// Inverse temperature β.
    public let beta: Double
    /// Pairs per micro-batch.
    public let batchSize: Int
    /// Reference log-probabilities per training pair: (chosen, rejected).
    public let referenceLogProbs: [(chosen: Double, rejected: Double)]
    let evalReference: [(chosen: Double, rejected: Double)]
    let seed: UInt64
    let gradient: GradientBuffer

    /// Computes the reference log-probabilities with the model's adapters off (call before training).
    public init(model: LlamaTrainModel, train: DPODataset, eval: DPODataset? = nil, beta: Double = 0.1,
                options: TrainingOptions) throws {
        if !(beta > 0) || !beta.isFinite { throw TrainingError.invalidConfiguration("dpo beta: expected > 0, got \(beta)") }
        let longest = Swift.max(train.maxSequenceLength, eval?.maxSequenceLength ?? 0)
        if longest > model.capacity.maxSegmentLength || 2 * options.batchSize * longest > model.capacity.maxTokens {
            throw TrainingError.invalidConfiguration(
                "model capacity (\(model.capacity.maxTokens) tokens) is below 2 × batchSize × maxSequenceLength = 2 × \(options.batchSize) × \(longest)")
        }
        self.train = train
        self.eval = eval
        self.beta = beta
        batchSize = options.batchSize
        seed = options.seed
        gradient = GradientBuffer(model.capacity.maxTokens)
        referenceLogProbs = try Self.reference(model: model, data: train, batchSize: options.batchSize)
        evalReference = try eval.map { try Self.reference(model: model, data: $0, batchSize: options.batchSize) } ?? []
    }

    static func reference(model: LlamaTrainModel, data: DPODataset, batchSize: Int) throws -> [(chosen: Double, rejected: Double)] {
        let wasEnabled = model.adaptersEnabled, wasTraining = model.isTraining
        model.adaptersEnabled = false
        model.isTraining = false
        defer {
            model.adaptersEnabled = wasEnabled
            model.isTraining = wasTraining
        }
        var out: [(chosen: Double, rejected: Double)] = []
        var i = 0
        while i < data.pairs.count {
            let group = Array(i..<Swift.min(i + batchSize, data.pairs.count))
            let batch = data.batch(group)
            try model.forward(batch)
            for k in 0..<group.count {
                out.append((model.sumLogProbs(Self.range(batch, 2 * k)), model.sumLogProbs(Self.range(batch, 2 * k + 1))))
            }
            i += batchSize
        }
        return out
    }

    static func range(_ batch: TrainBatch, _ segment: Int) -> Range<Int> {
        let s = batch.segments[segment]
        return s.start..<(s.start + s.count)
    }

    /// Micro-batches in one epoch.
    public var microBatchesPerEpoch: Int { (train.pairs.count + batchSize - 1) / batchSize }

    /// −log σ(z) computed without overflow.
    static func negativeLogSigmoid(_ z: Double) -> Double {
        Swift.max(-z, 0) + Double.log(1 + Double.exp(-abs(z)))
    }

    static func sigmoid(_ z: Double) -> Double { 1 / (1 + Double.exp(-z)) }

    /// Forward and backward on micro-batches `indices` of `epoch`; returns the mean loss.
    public func accumulate(model: LlamaTrainModel, indices: [Int], epoch: Int, dropoutSeed: UInt64) throws -> ObjectiveResult {
        let order = TrainingOptions.permutation(count: train.pairs.count, seed: seed, epoch: epoch)
        let groups = indices.map { i in Array(order[(i * batchSize)..<Swift.min((i + 1) * batchSize, order.count)]) }
        let pairCount = groups.reduce(0) { $0 + $1.count }
        var acc = Accumulator()
        var tokens = 0
        for (j, group) in groups.enumerated() {
            let batch = train.batch(group)
            model.dropoutSeed = TrainingRandom.derive(dropoutSeed, UInt64(j))
            try model.forward(batch)
            gradient.fill(batch.targets) { _ in 0 }
            for (k, pair) in group.enumerated() {
                let ref = referenceLogProbs[pair]
                let rc = Self.range(batch, 2 * k), rr = Self.range(batch, 2 * k + 1)
                let gc = acc.add(policy: (model.sumLogProbs(rc), model.sumLogProbs(rr)), reference: ref, beta: beta)
                // dL/dlogπ(c) = −β·σ(−z)/P, dL/dlogπ(r) = +β·σ(−z)/P, spread over the response tokens.
                let g = Float(gc / Double(pairCount))
                for t in rc where batch.targets[t] >= 0 { gradient.storage[t] = -g }
                for t in rr where batch.targets[t] >= 0 { gradient.storage[t] = g }
                tokens += train.pairs[pair].chosen.lossTokenCount + train.pairs[pair].rejected.lossTokenCount
            }
            model.backward(batch, logProbGradient: gradient.buffer(batch.count))
        }
        let (loss, metrics) = acc.mean()
        return ObjectiveResult(loss: loss, tokens: tokens, dpo: metrics)
    }

    /// Mean loss (and metrics) over the evaluation set, no backward.
    public func evaluate(model: LlamaTrainModel) throws -> ObjectiveResult? {
        guard let eval else { return nil }
        var acc = Accumulator()
        var i = 0
        while i < eval.pairs.count {
            let group = Array(i..<Swift.min(i + batchSize, eval.pairs.count))
            let batch = eval.batch(group)
            try model.forward(batch)
            for (k, pair) in group.enumerated() {
                _ = acc.add(policy: (model.sumLogProbs(Self.range(batch, 2 * k)), model.sumLogProbs(Self.range(batch, 2 * k + 1))),
                            reference: evalReference[pair], beta: beta)
            }
            i += batchSize
        }
        let (loss, metrics) = acc.mean()
        return ObjectiveResult(loss: loss, tokens: 0, dpo: metrics)
    }

    /// Sums loss and metrics over pairs.
    struct Accumulator {
        var loss = 0.0, chosen = 0.0, rejected = 0.0, correct = 0.0, count = 0.0

        /// Adds a pair; returns β·σ(−z), the magnitude of the gradient on each side.
        mutating func add(policy: (Double, Double), reference: (chosen: Double, rejected: Double), beta: Double) -> Double {
            let rc = beta * (policy.0 - reference.chosen)
            let rr = beta * (policy.1 - reference.rejected)
            let z = rc - rr
            loss += DPOObjective.negativeLogSigmoid(z)
            chosen += rc
            rejected += rr
            correct += rc > rr ? 1 : 0
            count += 1
            return beta * DPOObjective.sigmoid(-z)
        }

        func mean() -> (Double, DPOMetrics) {
            let n = Swift.max(count, 1)
            return (loss / n, DPOMetrics(chosenReward: chosen / n, rejectedReward: rejected / n,
                                         margin: (chosen - rejected) / n, accuracy: correct / n))
        }
    }
}
