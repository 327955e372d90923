/// The optimisation loop shared by SFT and DPO: gradient accumulation, clipping, AdamW, schedule,
/// divergence checks, periodic evaluation, and the state checkpoints save.
public final class Trainer<Objective: TrainingObjective> {
    /// The model being trained.
    public let model: LlamaTrainModel
    /// The data and loss.
    public let objective: Objective
    /// Optimisation settings.
    public let options: TrainingOptions
    /// The optimiser (moments are part of checkpoints).
    public let optimizer: AdamW
    /// Learning rate per step.
    public let schedule: LearningRateSchedule
    /// Optimiser steps per epoch.
    public let stepsPerEpoch: Int
    /// Optimiser steps of the whole run.
    public let totalSteps: Int
    /// Optimiser steps done.
    public internal(set) var step = 0

    /// Prepares a run; the model's trainable tensors get AdamW moments.
    public init(model: LlamaTrainModel, objective: Objective, options: TrainingOptions) throws {
        try options.validate()
        let tensors = model.trainableTensors
        if tensors.isEmpty { throw TrainingError.invalidConfiguration("the model has no trainable tensors") }
        let micro = objective.microBatchesPerEpoch
        if micro < 1 { throw TrainingError.invalidInput("training data yields no micro-batches") }
        self.model = model
        self.objective = objective
        self.options = options
        optimizer = AdamW(tensors: tensors, hyper: options.adam)
        stepsPerEpoch = (micro + options.gradientAccumulation - 1) / options.gradientAccumulation
        totalSteps = stepsPerEpoch * options.epochs
        schedule = LearningRateSchedule(kind: options.schedule, peak: options.learningRate,
                                        warmupSteps: options.warmupSteps, totalSteps: totalSteps)
    }

    /// True when every step of every epoch is done.
    public var isFinished: Bool { step >= totalSteps }

    /// Runs one optimiser step; throws `TrainingError.diverged` (naming the step) on a NaN/inf loss or
    /// gradient, before any weight changes.
    public func trainStep() throws -> StepRecord {
        precondition(!isFinished, "trainStep after the last step")
        let number = step + 1
        let epoch = step / stepsPerEpoch
        let first = (step % stepsPerEpoch) * options.gradientAccumulation
        let last = Swift.min(first + options.gradientAccumulation, objective.microBatchesPerEpoch)
        model.zeroGradients()
        model.adaptersEnabled = true
        model.isTraining = true
        let result = try objective.accumulate(
            model: model, indices: Array(first..<last), epoch: epoch,
            dropoutSeed: TrainingRandom.derive(options.seed, 0xD209, UInt64(step)))
        if !result.loss.isFinite {
            throw TrainingError.diverged(step: number, reason: "loss is \(result.loss)")
        }
        let norm = optimizer.clipGradients(maxNorm: options.maxGradNorm)
        if !norm.isFinite {
            throw TrainingError.diverged(step: number, reason: "gradient norm is \(norm)")
        }
        let lr = schedule.rate(at: step)
        optimizer.step(learningRate: lr)
        step = number
        var record = StepRecord(step: number, epoch: epoch, loss: result.loss, learningRate: lr, gradientNorm: norm,
                                tokens: result.tokens, dpo: result.dpo)
        if options.evalEvery > 0 && number % options.evalEvery == 0, let e = try evaluate() {
            record.evalLoss = e.loss
            record.evalDPO = e.dpo
        }
        return record
    }

    /// Runs steps until the end (or `maxSteps` more), calling `onStep` after each one.
    @discardableResult
    public func train(maxSteps: Int? = nil, onStep: (StepRecord) throws -> Void = { _ in }) throws -> [StepRecord] {
        var records: [StepRecord] = []
        var done = 0
        while !isFinished && done < (maxSteps ?? Int.max) {
            let r = try trainStep()
            records.append(r)
            try onStep(r)
            done += 1
        }
        return records
    }

    /// Evaluation loss (adapters on, no dropout); nil when the objective has no evaluation set.
    public func evaluate() throws -> ObjectiveResult? {
        model.adaptersEnabled = true
        model.isTraining = false
        defer { model.isTraining = true }
        return try objective.evaluate(model: model)
    }
}
