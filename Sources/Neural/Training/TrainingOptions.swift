/// Optimisation settings shared by SFT and DPO.
public struct TrainingOptions: Sendable, Equatable, Codable {
    /// Passes over the training data.
    public var epochs = 1
    /// Peak learning rate.
    public var learningRate: Float = 3e-4
    /// Schedule after warm-up.
    public var schedule: LRScheduleKind = .linear
    /// Linear warm-up steps.
    public var warmupSteps = 0
    /// AdamW β1, β2, ε, weight decay.
    public var adam = AdamW.Hyperparameters()
    /// Rows (SFT) or preference pairs (DPO) per micro-batch.
    public var batchSize = 1
    /// Micro-batches per optimiser step.
    public var gradientAccumulation = 1
    /// Global gradient-norm clip; nil disables clipping (the norm is still reported).
    public var maxGradNorm: Float? = 1.0
    /// Seed of every random choice (data order, dropout); same seed, same trajectory.
    public var seed: UInt64 = 0
    /// Evaluate every N optimiser steps (0: never during training).
    public var evalEvery = 0
    /// Pack several SFT samples into one row of `maxSequenceLength` tokens.
    public var packing = true

    /// Creates default options.
    public init() {}

    /// Checks every range and names the offending key.
    public func validate() throws {
        if epochs < 1 { throw TrainingError.invalidConfiguration("epochs: expected ≥ 1, got \(epochs)") }
        if !(learningRate > 0 && learningRate <= 1) {
            throw TrainingError.invalidConfiguration("learningRate: expected 0 < lr ≤ 1, got \(learningRate)")
        }
        if warmupSteps < 0 { throw TrainingError.invalidConfiguration("warmupSteps: expected ≥ 0, got \(warmupSteps)") }
        if batchSize < 1 { throw TrainingError.invalidConfiguration("batchSize: expected ≥ 1, got \(batchSize)") }
        if gradientAccumulation < 1 {
            throw TrainingError.invalidConfiguration("gradientAccumulation: expected ≥ 1, got \(gradientAccumulation)")
        }
        if let c = maxGradNorm, !(c > 0) {
            throw TrainingError.invalidConfiguration("maxGradNorm: expected > 0, got \(c)")
        }
        if evalEvery < 0 { throw TrainingError.invalidConfiguration("evalEvery: expected ≥ 0, got \(evalEvery)") }
        let a = adam
        if !(a.beta1 >= 0 && a.beta1 < 1) || !(a.beta2 >= 0 && a.beta2 < 1) {
            throw TrainingError.invalidConfiguration("adam betas: expected in [0, 1), got \(a.beta1), \(a.beta2)")
        }
        if !(a.epsilon > 0) || !(a.weightDecay >= 0) {
            throw TrainingError.invalidConfiguration("adam epsilon must be > 0 and weightDecay ≥ 0")
        }
    }

    /// A permutation of 0..<count for `epoch`, derived only from the seed (so resuming replays it).
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var rng = TrainingRandom(seed: TrainingRandom.derive(seed, 0xDA7A, UInt64(epoch)))
        var i = count - 1
        while i > 0 {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}
