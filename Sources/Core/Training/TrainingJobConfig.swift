import Foundation
import Neural

/// The payload of a `train` job: the reference's training configuration (`finetuning_type`,
/// `num_train_epochs`, `per_device_train_batch_size`, …) plus what a native run needs (mode, seed,
/// intervals, export formats). Every key is validated when the payload is decoded, so a bad config is
/// refused at submit time with a message naming the key; unknown keys are refused too (a typo must not
/// silently train with a default).
public struct TrainingJobConfig: Codable, Sendable, Equatable {
    /// `sft` (instruction tuning) or `dpo` (preference tuning).
    public var finetuning_type = "sft"
    /// The dataset artifact, `name`, `name:latest` or `name:3` (made by `twin datasets import`).
    public var dataset = ""
    /// The base model: a GGUF file name inside the models directory or a path (nil or empty: SmolLM2-135M).
    public var base_model: String?
    /// `lora` (f32 base), `qlora` (quantised base) or `full` (every weight trained).
    public var mode = "lora"
    /// QLoRA base storage: `q4_1` or `q8_0`.
    public var quantization = "q4_1"
    /// Passes over the training split.
    public var num_train_epochs = 1
    /// Stops after this many optimiser steps (nil or 0: all epochs).
    public var max_steps: Int?
    /// Rows (SFT) or pairs (DPO) per micro-batch.
    public var per_device_train_batch_size = 2
    /// Micro-batches per optimiser step.
    public var gradient_accumulation_steps = 1
    /// Peak learning rate, 0 < lr ≤ 1.
    public var learning_rate = 3e-4
    /// `constant`, `linear` or `cosine` after warm-up.
    public var lr_scheduler_type = "linear"
    /// Linear warm-up steps.
    public var warmup_steps = 0
    /// AdamW weight decay.
    public var weight_decay = 0.01
    /// Gradient-norm clip (0 disables clipping; the norm is reported either way).
    public var max_grad_norm = 1.0
    /// LoRA rank.
    public var r = 32
    /// LoRA alpha (the update is scaled by alpha / r).
    public var alpha = 32.0
    /// LoRA dropout on the adapter input.
    public var dropout = 0.0
    /// Projections that get adapters: q, k, v, o, gate, up, down (or their `_proj` names).
    public var target_modules = LoRATarget.allCases.map(\.moduleName)
    /// Longest training sequence in tokens.
    public var max_seq_length = 256
    /// Pack several SFT samples into one row (attention never crosses samples).
    public var packing = true
    /// Samples longer than `max_seq_length`: `truncate` (default: cut the response), `drop`, or `fail`
    /// (refuse the dataset, naming the sample).
    public var truncation = "truncate"
    /// DPO inverse temperature β (the reference uses 0.5).
    public var beta = 0.5
    /// Seed of data order and dropout: the same seed gives the same loss trajectory.
    public var seed = 0
    /// Evaluation loss on the dataset's `test` split every N steps (0: only at the end).
    public var eval_steps = 0
    /// A checkpoint to the object store every N steps (0: only at the end).
    public var save_steps = 10
    /// The registry name of the trained model (nil or empty: `twin-<finetuning_type>`).
    public var model_name: String?
    /// Merged GGUF exports: any of f32, f16, q8_0, q4_0, q4_1 (empty: adapter only).
    public var export_gguf = ["f16"]
    /// Also measure each export's perplexity on the evaluation split (costs one forward pass per format).
    public var export_perplexity = false
    /// Threads of each training step (nil: every core of the worker's machine). The step splits its own
    /// products and kernels over them with OpenBLAS held to one thread, which scales better than
    /// OpenBLAS's own threads at these shapes (docs/benchmarks/train.md).
    public var threads: Int?

    /// Every key a payload may carry (`inputs` is added by the pipeline engine).
    static let keys: Set<String> = [
        "finetuning_type", "dataset", "base_model", "mode", "quantization", "num_train_epochs", "max_steps",
        "per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type",
        "warmup_steps", "weight_decay", "max_grad_norm", "r", "alpha", "dropout", "target_modules",
        "max_seq_length", "packing", "truncation", "beta", "seed", "eval_steps", "save_steps", "model_name",
        "export_gguf", "export_perplexity", "threads", "inputs",
    ]

    /// A config with every default and the given dataset.
    public init(dataset: String) {
        self.dataset = dataset
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let unknown = c.allKeys.map(\.stringValue).filter({ !Self.keys.contains($0) }).sorted().first {
            throw TwinError.invalidInput("train: unknown key \"\(unknown)\" (known: \(Self.keys.subtracting(["inputs"]).sorted().joined(separator: ", ")))")
        }
        func take<T: Decodable>(_ key: String, _ value: inout T) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: Key(key)) { value = v }
        }
        func takeOptional<T: Decodable>(_ key: String, _ value: inout T?) throws {
            if let v = try c.decodeIfPresent(T.self, forKey: Key(key)) { value = v }
        }
        try take("finetuning_type", &finetuning_type)
        try take("dataset", &dataset)
        try takeOptional("base_model", &base_model)
        try take("mode", &mode)
        try take("quantization", &quantization)
        try take("num_train_epochs", &num_train_epochs)
        try takeOptional("max_steps", &max_steps)
        try take("per_device_train_batch_size", &per_device_train_batch_size)
        try take("gradient_accumulation_steps", &gradient_accumulation_steps)
        try take("learning_rate", &learning_rate)
        try take("lr_scheduler_type", &lr_scheduler_type)
        try take("warmup_steps", &warmup_steps)
        try take("weight_decay", &weight_decay)
        try take("max_grad_norm", &max_grad_norm)
        try take("r", &r)
        try take("alpha", &alpha)
        try take("dropout", &dropout)
        try take("target_modules", &target_modules)
        try take("max_seq_length", &max_seq_length)
        try take("packing", &packing)
        try take("truncation", &truncation)
        try take("beta", &beta)
        try take("seed", &seed)
        try take("eval_steps", &eval_steps)
        try take("save_steps", &save_steps)
        try takeOptional("model_name", &model_name)
        try take("export_gguf", &export_gguf)
        try take("export_perplexity", &export_perplexity)
        try takeOptional("threads", &threads)
        try validate()
    }

    /// Checks every key's range; errors name the key and the allowed values.
    public func validate() throws {
        func bad(_ message: String) -> TwinError { TwinError.invalidInput("train: \(message)") }
        guard ["sft", "dpo"].contains(finetuning_type) else { throw bad("finetuning_type must be sft or dpo, got \"\(finetuning_type)\"") }
        guard !dataset.isEmpty else { throw bad("dataset is required (a dataset artifact name[:version], see twin datasets import)") }
        guard ["lora", "qlora", "full"].contains(mode) else { throw bad("mode must be lora, qlora or full, got \"\(mode)\"") }
        guard BaseQuantization(rawValue: quantization) != nil else { throw bad("quantization must be q4_1 or q8_0, got \"\(quantization)\"") }
        guard (1...1000).contains(num_train_epochs) else { throw bad("num_train_epochs must be 1…1000, got \(num_train_epochs)") }
        if let t = threads, !(1...256).contains(t) { throw bad("threads must be in 1...256, got \(t)") }
        if let m = max_steps, m < 0 { throw bad("max_steps must be ≥ 0 (0: every epoch), got \(m)") }
        guard (1...256).contains(per_device_train_batch_size) else {
            throw bad("per_device_train_batch_size must be 1…256, got \(per_device_train_batch_size)")
        }
        guard (1...1024).contains(gradient_accumulation_steps) else {
            throw bad("gradient_accumulation_steps must be 1…1024, got \(gradient_accumulation_steps)")
        }
        guard learning_rate > 0, learning_rate <= 1, learning_rate.isFinite else {
            throw bad("learning_rate must be in (0, 1], got \(learning_rate)")
        }
        guard LRScheduleKind(rawValue: lr_scheduler_type) != nil else {
            throw bad("lr_scheduler_type must be constant, linear or cosine, got \"\(lr_scheduler_type)\"")
        }
        guard warmup_steps >= 0 else { throw bad("warmup_steps must be ≥ 0, got \(warmup_steps)") }
        guard weight_decay >= 0, weight_decay.isFinite else { throw bad("weight_decay must be ≥ 0, got \(weight_decay)") }
        guard max_grad_norm >= 0, max_grad_norm.isFinite else { throw bad("max_grad_norm must be ≥ 0, got \(max_grad_norm)") }
        if mode != "full" {
            guard (1...256).contains(r) else { throw bad("r (LoRA rank) must be 1…256, got \(r)") }
            guard alpha > 0, alpha.isFinite else { throw bad("alpha must be > 0, got \(alpha)") }
            guard dropout >= 0, dropout < 1 else { throw bad("dropout must be in [0, 1), got \(dropout)") }
            guard !target_modules.isEmpty else { throw bad("target_modules must name at least one of q, k, v, o, gate, up, down") }
            for m in target_modules where LoRATarget(name: m) == nil {
                throw bad("target_modules: unknown module \"\(m)\" (known: \(LoRATarget.allCases.map(\.moduleName).joined(separator: ", ")))")
            }
        }
        guard (8...8192).contains(max_seq_length) else { throw bad("max_seq_length must be 8…8192, got \(max_seq_length)") }
        guard TruncationPolicy(rawValue: truncation) != nil else {
            throw bad("truncation must be truncate, drop or fail, got \"\(truncation)\"")
        }
        guard beta > 0, beta.isFinite else { throw bad("beta must be > 0, got \(beta)") }
        guard seed >= 0 else { throw bad("seed must be ≥ 0, got \(seed)") }
        guard eval_steps >= 0 else { throw bad("eval_steps must be ≥ 0, got \(eval_steps)") }
        guard save_steps >= 0 else { throw bad("save_steps must be ≥ 0, got \(save_steps)") }
        if let name = model_name, !name.isEmpty, !JobQueue.isName(name) {
            throw bad("model_name must be ASCII letters, digits, '-', '_' or '.', got \"\(name)\"")
        }
        for f in export_gguf where TrainingExports.tensorType(f) == nil {
            throw bad("export_gguf: unknown format \"\(f)\" (known: f32, f16, q8_0, q4_0, q4_1)")
        }
    }

    /// The registry name: `model_name` or `twin-<finetuning_type>`.
    public var registryName: String { model_name.flatMap { $0.isEmpty ? nil : $0 } ?? "twin-\(finetuning_type)" }

    /// What the trainer trains.
    var trainingMode: TrainingMode {
        let lora = LoRAConfig(rank: r, alpha: Float(alpha), dropout: Float(dropout),
                              targets: Set(target_modules.compactMap(LoRATarget.init(name:))))
        switch mode {
        case "full": return .full
        case "qlora": return .qlora(lora, BaseQuantization(rawValue: quantization) ?? .q4_1)
        default: return .lora(lora)
        }
    }

    /// The optimiser settings.
    var options: TrainingOptions {
        var o = TrainingOptions()
        o.epochs = num_train_epochs
        o.learningRate = Float(learning_rate)
        o.schedule = LRScheduleKind(rawValue: lr_scheduler_type) ?? .linear
        o.warmupSteps = warmup_steps
        o.adam.weightDecay = Float(weight_decay)
        o.batchSize = per_device_train_batch_size
        o.gradientAccumulation = gradient_accumulation_steps
        o.maxGradNorm = max_grad_norm > 0 ? Float(max_grad_norm) : nil
        o.seed = UInt64(seed)
        o.evalEvery = eval_steps
        o.packing = packing
        return o
    }
}
