/// DPO metrics of one step or evaluation (means over pairs), as TRL reports them.
public struct DPOMetrics: Sendable, Equatable, Codable {
    /// β · (log π(chosen) − log π_ref(chosen)).
    public var chosenReward: Double
    /// β · (log π(rejected) − log π_ref(rejected)).
    public var rejectedReward: Double
    /// chosen − rejected reward.
    public var margin: Double
    /// Fraction of pairs whose chosen reward beats the rejected one.
    public var accuracy: Double
}

/// What one micro-batch group contributed: mean loss and the tokens or pairs it covered.
public struct ObjectiveResult: Sendable, Equatable {
    /// Mean loss over the group.
    public var loss: Double
    /// Loss tokens (SFT) or response tokens (DPO).
    public var tokens: Int
    /// DPO metrics, when the objective is DPO.
    public var dpo: DPOMetrics?

    /// Creates a result.
    public init(loss: Double, tokens: Int, dpo: DPOMetrics? = nil) {
        self.loss = loss
        self.tokens = tokens
        self.dpo = dpo
    }
}

/// A training objective: owns its data, turns micro-batches into gradients.
public protocol TrainingObjective {
    /// Micro-batches in one epoch.
    var microBatchesPerEpoch: Int { get }
    /// Runs forward and backward on the micro-batches `indices` of `epoch` (gradients are added to the
    /// model's; the caller zeroes them), returning the mean loss of the group.
    func accumulate(model: LlamaTrainModel, indices: [Int], epoch: Int, dropoutSeed: UInt64) throws -> ObjectiveResult
    /// Mean loss (and metrics) on the evaluation set with adapters on and no dropout; nil without one.
    func evaluate(model: LlamaTrainModel) throws -> ObjectiveResult?
}

/// One optimiser step's log line.
public struct StepRecord: Sendable, Equatable, Codable {
    /// 1-based optimiser step.
    public var step: Int
    /// 0-based epoch.
    public var epoch: Int
    /// Mean training loss of the step.
    public var loss: Double
    /// Learning rate used.
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradientNorm: Double
    /// Loss tokens in the step.
    public var tokens: Int
    /// DPO metrics of the step.
    public var dpo: DPOMetrics?
    /// Evaluation loss, on steps where evaluation ran.
    public var evalLoss: Double?
    /// DPO evaluation metrics, on steps where evaluation ran.
    public var evalDPO: DPOMetrics?
}
