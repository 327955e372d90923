import Foundation
import Logging
import Neural

/// Job kind `train`: fine-tunes the base model on a dataset artifact (SFT or DPO; LoRA, QLoRA or full),
/// checkpointing to the object store every `save_steps` and resuming from the latest checkpoint when the
/// job is retried after a crash. Each step is stored in `platform.training_steps` and streamed as job
/// events; the adapter (PEFT layout) and merged GGUF exports go to the object store and the model into
/// the registry as a candidate.
///
/// The BLAS work runs on the session's own ``BlockingLane`` thread, one step per hop, so the cooperative
/// pool only awaits; the worker's lease heartbeat runs on its own thread meanwhile.
public struct TrainJob: JobHandler {
    public static let kind = "train"
    public typealias Payload = TrainingJobConfig

    /// What a finished run produced.
    public struct Output: Encodable, Sendable {
        /// The registry entry, `name:version`.
        public var model: String
        public var model_id: String
        public var stage: String
        public var dataset: String
        public var steps: Int
        public var final_loss: Double
        public var eval_loss: Double?
        /// The step the run resumed from after a crash (nil: it ran from the start).
        public var resumed_from_step: Int?
        public var checkpoints: [TrainingRunStore.Checkpoint]
        /// The output manifest: `adapter` and `gguf` files with their object uris.
        public var artifacts: JSONValue
        /// Perplexity of each export on the test split (when `export_perplexity`).
        public var perplexity: [String: Double]
        public var dataset_report: DatasetReport
        /// Mean trained tokens per second over the steps this attempt ran.
        public var tokens_per_second: Double
    }

    /// Failures injected by tests to prove crash recovery and divergence handling.
    struct Faults: Sendable {
        /// On the first attempt, fail (retryably) right after this step is stored.
        var crashAfterStep: Int?
        /// Set a weight to NaN after this step, so the next one diverges.
        var poisonAfterStep: Int?
    }

    let postgres: PostgresClient
    let objects: (any BlobStore)?
    let artifacts: ArtifactStore
    let modelsDirectory: String
    let namespace: String
    let faults: Faults

    init(postgres: PostgresClient, objects: (any BlobStore)?, artifacts: ArtifactStore, modelsDirectory: String,
         namespace: String, faults: Faults = Faults()) {
        self.postgres = postgres
        self.objects = objects
        self.artifacts = artifacts
        self.modelsDirectory = modelsDirectory
        self.namespace = namespace
        self.faults = faults
    }

    public func handle(_ config: TrainingJobConfig, context: JobContext) async throws -> Output {
        let job = context.job
        guard let objects else {
            throw JobFailure.permanent("train: checkpoints and outputs need an object store; set TWIN_OBJECTS_DIR or TWIN_S3_ENDPOINT")
        }
        let runs = TrainingRunStore(postgres: postgres, namespace: namespace)
        let dataset: TrainingDatasets.Loaded
        let modelPath: String
        do {
            dataset = try await TrainingDatasets(postgres: postgres, artifacts: artifacts).load(config.dataset)
            guard !dataset.train.isEmpty else { throw TwinError.invalidInput("dataset \(config.dataset) has no train split") }
            modelPath = try DecoderModelResolver.path(for: config.base_model, modelsDirectory: modelsDirectory)
        } catch let e as TwinError where e.isNotFound || e.isInvalidInput || e.shortDescription == "model" {
            throw JobFailure.permanent("train: \(e.message)")
        }
        let datasetRef = "\(dataset.artifact.name):\(dataset.artifact.version)"
        let lane = BlockingLane(label: "twin.train.\(job.id)", resource: SessionBox())
        do {
            try await lane.run { box in box.session = try TrainingSession(config: config, dataset: dataset, modelPath: modelPath) }
        } catch let e as TwinError where e.isInvalidInput || e.shortDescription == "model" {
            throw JobFailure.permanent("train: \(e.message)")
        } catch let e as TrainingError {
            throw JobFailure.permanent("train: \(e.message)")
        }
        defer { lane.runSync { $0.session = nil } }   // frees the model's buffers before the job returns

        var checkpoints = try await runs.checkpoints(jobID: job.id)
        var resumedFrom: Int?
        if let latest = checkpoints.last {
            // Object-store I/O is blocking file or HTTP work: it runs on the lane too, never on the pool.
            do { try await lane.run { box in try box.get().restore(try objects.get(latest.uri)) } } catch let e as TrainingError {
                throw JobFailure.permanent("train: cannot resume from checkpoint at step \(latest.step) (\(latest.uri)): \(e.message)")
            }
            resumedFrom = latest.step
            context.logger.info("train resumed", metadata: ["job.id": "\(job.id)", "step": "\(latest.step)"])
        }
        let (startStep, total, report) = try await lane.run { box in
            let s = try box.get()
            return (s.step, s.totalSteps, s.report)
        }

        var last: StepRecord?
        var tokens = 0
        var seconds = 0.0
        while true {
            let done = try await lane.run { box in try box.get().isFinished }
            if done { break }
            try Task.checkCancellation()
            let start = ContinuousClock.now
            let record: StepRecord
            do { record = try await lane.run { box in try box.get().trainStep() } } catch let e as TrainingError where e.isDivergence {
                let kept = checkpoints.last.map { "the last checkpoint (step \($0.step), \($0.uri)) is kept" } ?? "no checkpoint was written yet"
                throw JobFailure.permanent("train: \(e.message); \(kept)")
            }
            let elapsed = Self.seconds(ContinuousClock.now - start)
            tokens += record.tokens
            seconds += elapsed
            last = record
            let rate = elapsed > 0 ? Double(record.tokens) / elapsed : 0
            let eta = Double(total - record.step) * seconds / Double(record.step - startStep)
            var metrics: [String: JSONValue] = ["eta_seconds": .number(eta.rounded())]
            if let d = record.dpo { metrics["dpo"] = Self.json(d) }
            if let d = record.evalDPO { metrics["eval_dpo"] = Self.json(d) }
            try await runs.record(jobID: job.id, TrainingRunStore.Step(
                step: record.step, epoch: record.epoch, loss: record.loss, learning_rate: Double(record.learningRate),
                grad_norm: record.gradientNorm, tokens: record.tokens, tokens_per_second: rate, eval_loss: record.evalLoss,
                metrics: .object(metrics), attempt: job.attempt))
            var event: [String: JSONValue] = [
                "step": .number(Double(record.step)), "total_steps": .number(Double(total)), "loss": .number(record.loss),
                "lr": .number(Double(record.learningRate)), "grad_norm": .number(record.gradientNorm),
                "tokens_per_second": .number(rate.rounded()), "eta_seconds": .number(eta.rounded()),
            ]
            if let e = record.evalLoss { event["eval_loss"] = .number(e) }
            await context.emit(JSONValue.object(event).jsonText)
            await context.progress(Double(record.step) / Double(total),
                                   "step \(record.step)/\(total) loss \(String(format: "%.4f", record.loss))")
            let finished = record.step >= total
            if finished || (config.save_steps > 0 && record.step % config.save_steps == 0) {
                let (stored, size) = try await lane.run { box in
                    let bytes = try box.get().checkpoint()
                    return (try objects.put(bytes), bytes.count)
                }
                let c = TrainingRunStore.Checkpoint(step: record.step, uri: stored.uri, sha256: stored.sha256, size_bytes: size)
                try await runs.addCheckpoint(jobID: job.id, c)
                checkpoints.append(c)
            }
            if job.attempt == 1, let k = faults.crashAfterStep, record.step == k {
                throw TwinError.io("train: injected crash after step \(k)")
            }
            if let k = faults.poisonAfterStep, record.step == k { try await lane.run { box in try box.get().poison() } }
        }

        // Outputs: the adapter (PEFT layout) and merged GGUF exports, into the object store.
        let baseName = (modelPath as NSString).lastPathComponent
        let types = config.export_gguf.compactMap(TrainingExports.tensorType)
        let registryName = config.registryName
        let (adapter, gguf, perplexity, evalResult) = try await lane.run { box in
            let s = try box.get()
            var adapter: [String: JSONValue] = [:]
            for f in try s.adapterFiles(baseModel: baseName) { adapter[f.name] = try Self.put(f.bytes, objects) }
            let merged = try s.mergedExports(types: types, name: registryName, perplexity: config.export_perplexity)
            var gguf: [String: JSONValue] = [:]
            for f in merged.files { gguf["\(f.type)"] = try Self.put(f.bytes, objects) }
            return (adapter, gguf, merged.perplexity, try s.evaluate())
        }
        var manifest: [String: JSONValue] = ["gguf": .object(gguf)]
        if !adapter.isEmpty { manifest["adapter"] = .object(adapter) }
        if let c = checkpoints.last { manifest["checkpoint"] = .object(["step": .number(Double(c.step)), "uri": .string(c.uri)]) }

        var finalLoss = last?.loss ?? .nan
        if last == nil { finalLoss = try await runs.steps(jobID: job.id).last?.loss ?? .nan }   // resumed after the last step
        var metrics: [String: JSONValue] = [
            "final_loss": .number(finalLoss), "steps": .number(Double(total)),
            "train_samples": .number(Double(report.kept)), "truncated": .number(Double(report.truncated)),
            "dropped": .number(Double(report.dropped)),
        ]
        if let e = evalResult {
            metrics["eval_loss"] = .number(e.loss)
            if let d = e.dpo { metrics["eval_dpo"] = Self.json(d) }
        }
        if !perplexity.isEmpty { metrics["perplexity"] = .object(perplexity.mapValues(JSONValue.number)) }
        let configJSON = try Self.canonical(config)
        let artifactMetadata = JSONValue.object([
            "base_model": .string(baseName), "dataset": .string(datasetRef), "mode": .string(config.mode),
            "finetuning_type": .string(config.finetuning_type), "metrics": .object(metrics),
        ])
        let store = artifacts
        let step = job.pipelineStep
        let manifestValue = JSONValue.object(manifest)
        let made = try await postgres.withTransaction { pg in
            try store.create(name: registryName, type: "model", value: manifestValue, metadata: artifactMetadata,
                             runID: step?.run, step: step?.step, inputs: [dataset.artifact.id], on: pg)
        }
        manifest["artifact"] = .string("\(registryName):\(made.version)")
        manifest["artifact_id"] = .string(made.id)
        let entry = try await ModelRegistry(postgres: postgres, namespace: namespace).register(ModelRegistry.Registration(
            name: registryName, baseModel: baseName, dataset: datasetRef, datasetID: dataset.artifact.id, config: configJSON,
            jobID: job.id, metrics: .object(metrics), artifacts: .object(manifest)))
        return Output(model: "\(entry.name):\(entry.version)", model_id: entry.id, stage: entry.stage, dataset: datasetRef,
                      steps: total, final_loss: finalLoss, eval_loss: evalResult?.loss, resumed_from_step: resumedFrom,
                      checkpoints: checkpoints, artifacts: entry.artifacts, perplexity: perplexity, dataset_report: report,
                      tokens_per_second: seconds > 0 ? Double(tokens) / seconds : 0)
    }

    /// Holds the session on its lane (created there, used there, released there).
    final class SessionBox {
        var session: TrainingSession?
        func get() throws -> TrainingSession {
            guard let session else { throw TwinError.io("train: the training session is gone") }
            return session
        }
    }

    static func put(_ bytes: [UInt8], _ objects: any BlobStore) throws -> JSONValue {
        let stored = try objects.put(bytes)
        return .object(["uri": .string(stored.uri), "sha256": .string(stored.sha256), "size_bytes": .number(Double(bytes.count))])
    }

    static func json(_ d: DPOMetrics) -> JSONValue {
        .object(["chosen_reward": .number(d.chosenReward), "rejected_reward": .number(d.rejectedReward),
                 "margin": .number(d.margin), "accuracy": .number(d.accuracy)])
    }

    /// The config with every default filled in (so equal runs hash equally however they were written).
    static func canonical(_ config: TrainingJobConfig) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try JSONValue.parse(String(decoding: try encoder.encode(config), as: UTF8.self))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Export format names as the config spells them.
enum TrainingExports {
    /// `f32`, `f16`, `q8_0`, `q4_0`, `q4_1` → the exporter's type.
    static func tensorType(_ name: String) -> GGUFExport.TensorType? {
        GGUFExport.TensorType.allCases.first { "\($0)" == name }
    }
}

/// Registers the training job kinds.
public enum TrainingJobs {
    /// Replaces OpenBLAS's misdetected generic kernels with the CPU's best ones (training is several
    /// times slower without). Call once at process start-up, before any thread runs a matrix product:
    /// the kernel table is swapped in place. Returns the core in use.
    @discardableResult
    public static func selectBLASKernels() -> String { BLAS.useBestKernels() }

    /// Registers `train` with the configuration's Postgres, object store and models folder.
    public static func register(into registry: inout JobRegistry, configuration: TwinConfiguration) {
        let postgres = PostgresClient(endpoint: configuration.postgres, connections: 2)
        // Validated at configuration load; an invalid endpoint here means no object store (the job says so).
        let objects = (try? configuration.artifacts.blobStore()) ?? nil
        registry.register(TrainJob(
            postgres: postgres, objects: objects,
            artifacts: ArtifactStore(namespace: configuration.queue.keyPrefix, objects: objects,
                                     maxInlineBytes: configuration.artifacts.maxInlineBytes),
            modelsDirectory: configuration.modelsDirectory, namespace: configuration.queue.keyPrefix))
    }
}
