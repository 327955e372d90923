/// Supervised fine-tuning: mean cross-entropy over response tokens, samples packed into rows.
public struct SFTObjective: TrainingObjective {
    /// Training samples.
    public let train: SFTDataset
    /// Evaluation samples.
    public let eval: SFTDataset?
    /// Rows per micro-batch.
    public let batchSize: Int
    /// Sample indices per row (packed once, in dataset order).
    public let rows: [[Int]]
    let seed: UInt64
    let gradient: GradientBuffer

    /// Packs the data; checks a micro-batch fits the model's capacity.
    public init(train: SFTDataset, eval: SFTDataset? = nil, options: TrainingOptions, capacity: TrainCapacity) throws {
        let longest = Swift.max(train.maxSequenceLength, eval?.maxSequenceLength ?? 0)
        if longest > capacity.maxSegmentLength || options.batchSize * longest > capacity.maxTokens {
            throw TrainingError.invalidConfiguration(
                "model capacity (\(capacity.maxTokens) tokens, segments ≤ \(capacity.maxSegmentLength)) is below batchSize × maxSequenceLength = \(options.batchSize) × \(longest)")
        }
        self.train = train
        self.eval = eval
        batchSize = options.batchSize
        rows = train.rows(order: Array(train.samples.indices), packing: options.packing)
        seed = options.seed
        gradient = GradientBuffer(capacity.maxTokens)
    }

    /// Micro-batches in one epoch.
    public var microBatchesPerEpoch: Int { (rows.count + batchSize - 1) / batchSize }

    /// Sample indices of micro-batch `index` in `epoch` (rows shuffled per epoch from the seed).
    public func microBatch(_ index: Int, epoch: Int) -> [Int] {
        let order = TrainingOptions.permutation(count: rows.count, seed: seed, epoch: epoch)
        let lo = index * batchSize, hi = Swift.min(lo + batchSize, rows.count)
        return order[lo..<hi].flatMap { rows[$0] }
    }

    /// Forward and backward on micro-batches `indices` of `epoch`; returns the mean loss.
    public func accumulate(model: LlamaTrainModel, indices: [Int], epoch: Int, dropoutSeed: UInt64) throws -> ObjectiveResult {
        let order = TrainingOptions.permutation(count: rows.count, seed: seed, epoch: epoch)
        let groups = indices.map { i -> [Int] in
            let lo = i * batchSize, hi = Swift.min(lo + batchSize, rows.count)
            return order[lo..<hi].flatMap { rows[$0] }
        }
        let tokens = groups.reduce(0) { acc, g in acc + g.reduce(0) { $0 + train.samples[$1].lossTokenCount } }
        guard tokens > 0 else { return ObjectiveResult(loss: 0, tokens: 0) }
        let scale = 1 / Float(tokens)
        var total = 0.0
        for (j, g) in groups.enumerated() {
            let batch = train.batch(g)
            model.dropoutSeed = TrainingRandom.derive(dropoutSeed, UInt64(j))
            total -= try model.forward(batch)
            gradient.fill(batch.targets) { $0 >= 0 ? -scale : 0 }
            model.backward(batch, logProbGradient: gradient.buffer(batch.count))
        }
        return ObjectiveResult(loss: total / Double(tokens), tokens: tokens)
    }

    /// Mean loss (and metrics) over the evaluation set, no backward.
    public func evaluate(model: LlamaTrainModel) throws -> ObjectiveResult? {
        guard let eval else { return nil }
        let evalRows = eval.rows(order: Array(eval.samples.indices), packing: true)
        var total = 0.0
        var tokens = 0
        var i = 0
        while i < evalRows.count {
            let group = evalRows[i..<Swift.min(i + batchSize, evalRows.count)].flatMap { $0 }
            total -= try model.forward(eval.batch(group))
            tokens += group.reduce(0) { $0 + eval.samples[$1].lossTokenCount }
            i += batchSize
        }
        return ObjectiveResult(loss: total / Double(Swift.max(tokens, 1)), tokens: tokens)
    }
}

/// A reusable per-token gradient buffer (allocated once per objective, not per step).
final class GradientBuffer {
    let storage: UnsafeMutablePointer<Float>
    let capacity: Int

    init(_ capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: Swift.max(capacity, 1))
        storage.initialize(repeating: 0, count: Swift.max(capacity, 1))
    }

    deinit { storage.deallocate() }

    func fill(_ targets: [Int32], _ value: (Int32) -> Float) {
        for (i, t) in targets.enumerated() { storage[i] = value(t) }
    }

    func buffer(_ n: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: storage, count: n) }
}
