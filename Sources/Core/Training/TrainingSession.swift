import Foundation
import Neural

/// One training run's heavy state — the model, the objective and the trainer — driven step by step by
/// ``TrainJob``. Every method blocks for seconds of BLAS work, so the session lives on its own
/// ``BlockingLane`` thread and is never touched from the cooperative pool.
final class TrainingSession {
    /// SFT and DPO trainers differ only in their objective type.
    enum Run {
        case sft(Trainer<SFTObjective>)
        case dpo(Trainer<DPOObjective>)
    }

    let config: TrainingJobConfig
    let model: LlamaTrainModel
    let run: Run
    /// Kept, truncated and dropped samples of the training split.
    let report: DatasetReport
    /// Evaluation samples (the dataset's `test` split), if any.
    let evalCount: Int
    /// The source GGUF, for the tokenizer keys of merged exports.
    let source: GGUFFile
    /// The SFT evaluation set (for export perplexities).
    let sftEval: SFTDataset?

    /// Loads the base model and tokenises the dataset (every sample problem names the row).
    init(config: TrainingJobConfig, dataset: TrainingDatasets.Loaded, modelPath: String) throws {
        self.config = config
        let file: GGUFFile
        do { file = try GGUFFile(path: modelPath) } catch { throw TwinError.model("cannot read base model \(modelPath): \(error.message)") }
        source = file
        let tokenizer: BPETokenizer
        do { tokenizer = try BPETokenizer(gguf: file) } catch { throw TwinError.model("base model \(modelPath): \(error.message)") }
        let tokenize: (String) throws -> [Int32] = { tokenizer.encode($0).map(Int32.init) }
        let eos = Int32(tokenizer.eosId)
        let maxLength = config.max_seq_length
        let policy = TruncationPolicy(rawValue: config.truncation) ?? .truncate
        let options = config.options
        let batch = config.per_device_train_batch_size
        let name = dataset.artifact.name
        do {
            switch dataset.format {
            case .sft:
                guard config.finetuning_type == "sft" else {
                    throw TwinError.invalidInput("dataset \(name) holds sft rows (instruction, output); dpo needs prompt, chosen, rejected")
                }
                let train = try SFTDataset(examples: dataset.train.enumerated().map { try SFTExample(record: $1, index: $0) },
                                           tokenize: tokenize, eos: eos, maxSequenceLength: maxLength, truncation: policy)
                var eval: SFTDataset?
                if !dataset.test.isEmpty {
                    eval = try SFTDataset(examples: dataset.test.enumerated().map { try SFTExample(record: $1, index: $0) },
                                          tokenize: tokenize, eos: eos, maxSequenceLength: maxLength, truncation: policy)
                }
                let capacity = TrainCapacity(maxTokens: batch * maxLength, maxSegmentLength: maxLength)
                model = try LlamaTrainModel(gguf: file, mode: config.trainingMode, capacity: capacity, seed: UInt64(config.seed))
                let objective = try SFTObjective(train: train, eval: eval, options: options, capacity: capacity)
                run = .sft(try Trainer(model: model, objective: objective, options: options))
                report = train.report
                evalCount = eval?.samples.count ?? 0
                sftEval = eval
            case .dpo:
                guard config.finetuning_type == "dpo" else {
                    throw TwinError.invalidInput("dataset \(name) holds dpo rows (prompt, chosen, rejected); sft needs instruction, output")
                }
                let train = try DPODataset(examples: dataset.train.enumerated().map { try DPOExample(record: $1, index: $0) },
                                           tokenize: tokenize, eos: eos, maxSequenceLength: maxLength, truncation: policy)
                var eval: DPODataset?
                if !dataset.test.isEmpty {
                    eval = try DPODataset(examples: dataset.test.enumerated().map { try DPOExample(record: $1, index: $0) },
                                          tokenize: tokenize, eos: eos, maxSequenceLength: maxLength, truncation: policy)
                }
                let capacity = TrainCapacity(maxTokens: 2 * batch * maxLength, maxSegmentLength: maxLength)
                model = try LlamaTrainModel(gguf: file, mode: config.trainingMode, capacity: capacity, seed: UInt64(config.seed))
                let objective = try DPOObjective(model: model, train: train, eval: eval, beta: config.beta, options: options)
                run = .dpo(try Trainer(model: model, objective: objective, options: options))
                report = train.report
                evalCount = eval?.pairs.count ?? 0
                sftEval = nil
            }
        } catch let e as TrainingError {
            throw TwinError.invalidInput("dataset \(name): \(e.message)")
        }
        model.threadBudget = config.threads ?? ProcessInfo.processInfo.activeProcessorCount
    }

    /// Optimiser steps done.
    var step: Int {
        switch run {
        case .sft(let t): t.step
        case .dpo(let t): t.step
        }
    }

    /// Steps of the whole run, capped by `max_steps`.
    var totalSteps: Int {
        let all: Int
        switch run {
        case .sft(let t): all = t.totalSteps
        case .dpo(let t): all = t.totalSteps
        }
        return min(all, config.max_steps.flatMap { $0 > 0 ? $0 : nil } ?? all)
    }

    var isFinished: Bool { step >= totalSteps }

    /// One optimiser step (throws `TrainingError.diverged` on NaN/inf, before any weight changes).
    func trainStep() throws -> StepRecord {
        switch run {
        case .sft(let t): try t.trainStep()
        case .dpo(let t): try t.trainStep()
        }
    }

    /// Evaluation loss and metrics on the test split (nil without one).
    func evaluate() throws -> ObjectiveResult? {
        switch run {
        case .sft(let t): try t.evaluate()
        case .dpo(let t): try t.evaluate()
        }
    }

    /// The full training state as checkpoint bytes.
    func checkpoint() throws -> [UInt8] {
        let url = Self.temporary("checkpoint.safetensors")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        switch run {
        case .sft(let t): try TrainingCheckpoint.save(t, to: url)
        case .dpo(let t): try TrainingCheckpoint.save(t, to: url)
        }
        guard let data = FileManager.default.contents(atPath: url.path) else { throw TwinError.io("checkpoint: cannot read \(url.path)") }
        return [UInt8](data)
    }

    /// Restores a state made by ``checkpoint()`` (same model layout, seed and step count).
    func restore(_ bytes: [UInt8]) throws {
        let url = Self.temporary("checkpoint.safetensors")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do { try Data(bytes).write(to: url) } catch { throw TwinError.io("checkpoint: cannot write \(url.path): \(error.localizedDescription)") }
        switch run {
        case .sft(let t): try TrainingCheckpoint.restore(t, from: url)
        case .dpo(let t): try TrainingCheckpoint.restore(t, from: url)
        }
    }

    /// Sets one trainable weight to NaN (tests: the next step must fail as diverged).
    func poison() {
        model.trainableTensors.first?.data[0] = .nan
    }

    /// PEFT files (`adapter_model.safetensors`, `adapter_config.json`) by name; empty in full fine-tuning.
    func adapterFiles(baseModel: String) throws -> [(name: String, bytes: [UInt8])] {
        guard model.mode.lora != nil else { return [] }
        let dir = Self.temporary("adapter")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        try PEFTExport.write(model: model, baseModel: baseModel, to: dir)
        return try ["adapter_model.safetensors", "adapter_config.json"].map { name in
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path) else {
                throw TwinError.io("adapter export: \(name) was not written")
            }
            return (name, [UInt8](data))
        }
    }

    /// The merged model as GGUF bytes of each requested type, with the perplexity of each on the SFT
    /// evaluation split when asked (and the f32 merge's, the baseline the re-quantisation cost is read from).
    func mergedExports(types: [GGUFExport.TensorType], name: String, perplexity: Bool)
        throws -> (files: [(type: GGUFExport.TensorType, bytes: [UInt8])], perplexity: [String: Double])
    {
        guard !types.isEmpty else { return ([], [:]) }
        let merged = try model.mergedParameters()
        let metadata = GGUFExport.tokenizerMetadata(from: source)
        var files: [(type: GGUFExport.TensorType, bytes: [UInt8])] = []
        var ppl: [String: Double] = [:]
        let dir = Self.temporary("gguf")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw TwinError.io("gguf export: cannot create \(dir.path): \(error.localizedDescription)")
        }
        let measure = perplexity ? sftEval : nil
        if let eval = measure { ppl["merged_f32"] = try Self.perplexity(parameters: merged, eval: eval, config: config) }
        for type in types {
            let url = dir.appendingPathComponent("model-\(type).gguf")
            try GGUFExport.write(merged, type: type, name: name, metadata: metadata, to: url)
            guard let data = FileManager.default.contents(atPath: url.path) else { throw TwinError.io("gguf export: \(url.path) was not written") }
            files.append((type: type, bytes: [UInt8](data)))
            if let eval = measure {
                let reloaded: LlamaTrainParameters
                do { reloaded = try LlamaTrainParameters(gguf: try GGUFFile(path: url.path)) } catch {
                    throw TwinError.io("gguf export \(type) does not read back: \(error)")
                }
                ppl["\(type)"] = try Self.perplexity(parameters: reloaded, eval: eval, config: config)
            }
            try? FileManager.default.removeItem(at: url)
        }
        return (files, ppl)
    }

    /// exp(mean response-token loss) of `parameters` on `eval`, adapters absent.
    static func perplexity(parameters: LlamaTrainParameters, eval: SFTDataset, config: TrainingJobConfig) throws -> Double {
        let capacity = TrainCapacity(maxTokens: config.per_device_train_batch_size * config.max_seq_length,
                                     maxSegmentLength: config.max_seq_length)
        // A rank-1 adapter on one projection starts with B = 0, so the model computes the base exactly
        // without the gradient buffers that full mode would allocate for every weight.
        let model = try LlamaTrainModel(parameters: parameters, mode: .lora(LoRAConfig(rank: 1, alpha: 1, targets: [.q])),
                                        capacity: capacity)
        var options = config.options
        options.evalEvery = 0
        let objective = try SFTObjective(train: eval, eval: eval, options: options, capacity: capacity)
        model.isTraining = false
        guard let r = try objective.evaluate(model: model) else { return .nan }
        return Foundation.exp(r.loss)
    }

    /// `<tmp>/twin-train-<uuid>/<name>`, its folder created (the caller removes the folder).
    static func temporary(_ name: String) -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-train-\(UUIDv7.make())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)  // a failure surfaces at the write
        return dir.appendingPathComponent(name)
    }
}
