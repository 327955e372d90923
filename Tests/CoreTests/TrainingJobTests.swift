import Foundation
import Testing
@testable import Core
import Neural

/// The `train` job end to end on the real SmolLM2 weights, real Redis and PostgreSQL, through a worker:
/// progress rows and events, checkpoints in the object store, resume after a crash with the same losses,
/// divergence, bad input, exports and the registry entry. Sequences are short and runs a few steps long
/// to keep CI cheap.
@Suite(.serialized)
struct TrainingJobTests {
    static var modelsDirectory: String {
        ProcessInfo.processInfo.environment["TWIN_MODELS_DIR"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("models").path
    }
    static var hasModel: Bool {
        FileManager.default.fileExists(atPath: modelsDirectory + "/" + DecoderModelResolver.defaultFileName)
    }

    /// A test bench: an environment whose worker runs `train` (with injected faults) over a fresh object store.
    struct Bench {
        let env: TestEnvironment
        let objects: ObjectStore
        let datasets: TrainingDatasets
        let directory: URL

        init(faults: TrainJob.Faults = TrainJob.Faults()) async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-train-test-\(UUIDv7.make())")
            directory = dir
            let objects = ObjectStore(directory: dir.appendingPathComponent("objects").path)
            self.objects = objects
            let env = try await TestEnvironment(lease: .seconds(30), retryBase: .milliseconds(20))
            self.env = env
            let artifacts = ArtifactStore(namespace: env.prefix, objects: objects, maxInlineBytes: 64 * 1024)
            datasets = TrainingDatasets(postgres: env.postgres, artifacts: artifacts)
            var registry = env.queue.registry
            registry.register(TrainJob(postgres: env.postgres, objects: objects, artifacts: artifacts,
                                       modelsDirectory: TrainingJobTests.modelsDirectory, namespace: env.prefix, faults: faults))
            queue = JobQueue(settings: env.configuration.queue, redis: env.redis, postgres: env.postgres, registry: registry)
        }

        /// The queue whose registry includes `train`.
        let queue: JobQueue

        func worker() -> WorkerService {
            var settings = env.configuration.worker
            settings.queues = ["default"]
            settings.concurrency = 2
            settings.fetchBatch = 1
            settings.shutdownGrace = .seconds(5)
            return WorkerService(queue: queue, settings: settings, logger: env.logger)
        }

        /// Submits a train job and waits (while a worker runs) until it is final.
        func train(_ payload: String, maxAttempts: Int = 3) async throws -> (id: String, status: JobStatus) {
            try await env.running(worker()) {
                let id = try await queue.enqueue(JobSpec(kind: "train", payload: payload, maxAttempts: maxAttempts))
                let deadline = ContinuousClock.now + .seconds(600)
                while ContinuousClock.now < deadline {
                    let s = try await queue.status(id: id)
                    if JobState(rawValue: s.state)?.isFinal == true { return (id, s) }
                    try await Task.sleep(for: .milliseconds(100))
                }
                throw TwinError.timeout("train job \(id) did not finish")
            }
        }

        func importSFT(_ name: String, rows: Int = 4) async throws -> String {
            let text = (0..<rows).map { i in
                #"{"instruction": "Name colour number \#(i).", "output": "Colour \#(i) is \#(["red", "green", "blue", "amber"][i % 4])."}"#
            }.joined(separator: "\n")
            let path = directory.appendingPathComponent("\(name).jsonl").path
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try await datasets.importFiles([path], name: name).artifact
        }

        func cleanUp() { try? FileManager.default.removeItem(at: directory) }
    }

    /// A small, fast run (4 steps of at most 40 tokens, rank 4) with `overrides` on top.
    static func payload(_ dataset: String, _ overrides: [String: Any] = [:]) -> String {
        var p: [String: Any] = ["dataset": dataset, "per_device_train_batch_size": 1, "max_seq_length": 40, "r": 4, "alpha": 8,
                                "learning_rate": 0.002, "save_steps": 2, "max_steps": 4, "export_gguf": [String](),
                                "model_name": "twin-test"]
        p.merge(overrides) { _, new in new }
        return String(decoding: try! JSONSerialization.data(withJSONObject: p, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test(.enabled(if: hasModel))
    func sftJobStreamsProgressCheckpointsExportsAndRegisters() async throws {
        let bench = try await Bench()
        defer { bench.cleanUp() }
        let dataset = try await bench.importSFT("colours")
        let testPath = bench.directory.appendingPathComponent("test.jsonl").path
        try #"{"instruction": "Name colour number 1.", "output": "Colour 1 is green."}"#.write(toFile: testPath, atomically: true, encoding: .utf8)
        #expect(try await bench.datasets.importFiles([testPath], name: "colours", split: "test").artifact == "colours:2")
        #expect(dataset == "colours:1")
        let (id, status) = try await bench.train(Self.payload("colours", ["export_gguf": ["q8_0"], "export_perplexity": true,
                                                                         "eval_steps": 2]))
        #expect(status.state == "succeeded", "\(status.error ?? "")")
        let result = try #require(status.result)
        #expect(result["model"]?.stringValue == "twin-test:1")
        #expect(result["stage"]?.stringValue == "candidate")
        #expect(result["dataset"]?.stringValue == "colours:2")
        // Re-quantisation cost: q8_0 stays within a few percent of the f32 merge's perplexity.
        let f32 = try #require(result["perplexity"]?["merged_f32"].flatMap { if case .number(let n) = $0 { n } else { nil } })
        let q8 = try #require(result["perplexity"]?["q8_0"].flatMap { if case .number(let n) = $0 { n } else { nil } })
        #expect(f32 > 1 && abs(q8 - f32) / f32 < 0.05, "f32 \(f32), q8_0 \(q8)")
        #expect(result["eval_loss"] != nil)
        #expect(result["resumed_from_step"] == nil || result["resumed_from_step"] == .null)

        let runs = TrainingRunStore(postgres: bench.env.postgres, namespace: bench.env.prefix)
        let steps = try await runs.steps(jobID: id)
        #expect(steps.map(\.step) == [1, 2, 3, 4])
        #expect(steps.allSatisfy { $0.loss.isFinite && $0.grad_norm > 0 && $0.tokens > 0 && $0.tokens_per_second > 0 && $0.learning_rate > 0 })
        #expect(steps.map { $0.eval_loss != nil } == [false, true, false, true])
        #expect(steps.last!.loss < steps.first!.loss, "losses \(steps.map(\.loss))")
        #expect(try await runs.checkpoints(jobID: id).map(\.step) == [2, 4])

        let events = try await bench.env.queue.events.read(jobID: id)
        let partial = events.filter { $0.type == "partial" }.compactMap { try? JSONValue.parse($0.data) }
        #expect(partial.compactMap { $0["step"]?.intValue } == [1, 2, 3, 4])
        #expect(partial.allSatisfy { $0["loss"] != nil && $0["lr"] != nil && $0["grad_norm"] != nil && $0["tokens_per_second"] != nil && $0["eta_seconds"] != nil })
        #expect(events.contains { $0.type == "progress" })

        let registry = ModelRegistry(postgres: bench.env.postgres, namespace: bench.env.prefix)
        let entry = try await registry.show("twin-test:1")
        #expect(entry.job_id == id && entry.dataset == "colours:2" && entry.base_model == DecoderModelResolver.defaultFileName)
        #expect(entry.code_version == TwinVersion.current && entry.config["r"]?.intValue == 4)
        #expect(entry.metrics["final_loss"] != nil)

        // The adapter is in PEFT's layout and the merged q8_0 GGUF reads back as the same architecture.
        let config = try #require(entry.artifacts["adapter"]?["adapter_config.json"]?["uri"]?.stringValue)
        let adapterConfig = try JSONDecoder().decode(PEFTExport.AdapterConfig.self, from: Data(try bench.objects.get(config)))
        #expect(adapterConfig.r == 4 && adapterConfig.lora_alpha == 8 && adapterConfig.target_modules.count == 7)
        #expect(entry.artifacts["adapter"]?["adapter_model.safetensors"]?["uri"]?.stringValue != nil)
        let gguf = try #require(entry.artifacts["gguf"]?["q8_0"]?["uri"]?.stringValue)
        let path = bench.directory.appendingPathComponent("merged.gguf")
        try Data(try bench.objects.get(gguf)).write(to: path)
        let file = try GGUFFile(path: path.path)
        #expect(file.metadata["general.architecture"]?.stringValue == "llama")
        #expect(file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count == 49152)
        let artifact = try #require(entry.artifacts["artifact"]?.stringValue)
        #expect(artifact == "twin-test:1")
    }

    @Test(.enabled(if: hasModel))
    func aCrashedRunResumesFromItsLatestCheckpointOnTheSameTrajectory() async throws {
        let clean = try await Bench()
        defer { clean.cleanUp() }
        let crashing = try await Bench(faults: TrainJob.Faults(crashAfterStep: 3))
        defer { crashing.cleanUp() }
        // Dropout on: the resumed run must also replay the random stream.
        let extra: [String: Any] = ["dropout": 0.1]
        let a = try await clean.train(Self.payload(try await clean.importSFT("colours"), extra))
        let b = try await crashing.train(Self.payload(try await crashing.importSFT("colours"), extra))
        #expect(a.status.state == "succeeded" && b.status.state == "succeeded", "\(b.status.error ?? "")")
        #expect(b.status.attempts == 2)
        #expect(b.status.result?["resumed_from_step"]?.intValue == 2)
        let stepsA = try await TrainingRunStore(postgres: clean.env.postgres, namespace: clean.env.prefix).steps(jobID: a.id)
        let stepsB = try await TrainingRunStore(postgres: crashing.env.postgres, namespace: crashing.env.prefix).steps(jobID: b.id)
        #expect(stepsB.map(\.step) == [1, 2, 3, 4])
        #expect(stepsB.map(\.attempt) == [1, 1, 2, 2])   // steps 3 and 4 were redone after the resume
        for (x, y) in zip(stepsA, stepsB) {
            #expect(abs(x.loss - y.loss) <= 1e-4 * max(1, abs(x.loss)), "step \(x.step): \(x.loss) vs \(y.loss)")
        }
    }

    @Test(.enabled(if: hasModel))
    func aDivergingLossFailsPermanentlyNamingTheStepAndKeepsTheCheckpoint() async throws {
        let bench = try await Bench(faults: TrainJob.Faults(poisonAfterStep: 1))
        defer { bench.cleanUp() }
        let dataset = try await bench.importSFT("colours")
        let (id, status) = try await bench.train(Self.payload(dataset, ["save_steps": 1]))
        #expect(status.state == "dead")
        #expect(status.attempts == 1)
        let error = status.error ?? ""
        #expect(error.contains("step 2") && error.contains("nan"), "\(error)")
        #expect(error.contains("the last checkpoint (step 1"), "\(error)")
        let checkpoints = try await TrainingRunStore(postgres: bench.env.postgres, namespace: bench.env.prefix).checkpoints(jobID: id)
        #expect(checkpoints.map(\.step) == [1])
        #expect(try bench.objects.get(checkpoints[0].uri).count == checkpoints[0].size_bytes)
    }

    @Test(.enabled(if: hasModel))
    func badInputFailsPermanentlyWithAClearMessage() async throws {
        let bench = try await Bench()
        defer { bench.cleanUp() }
        let missing = try await bench.train(Self.payload("nope"))
        #expect(missing.status.state == "dead" && missing.status.attempts == 1)
        #expect(missing.status.error?.contains("dataset nope not found") == true, "\(missing.status.error ?? "")")

        // Policy: by default an over-long sample is truncated; `truncation: fail` refuses the dataset.
        let long = try await bench.importSFT("colours")
        let refused = try await bench.train(Self.payload(long, ["truncation": "fail", "max_seq_length": 8]))
        #expect(refused.status.state == "dead" && refused.status.attempts == 1)
        #expect(refused.status.error?.contains("exceed the maximum sequence length 8") == true, "\(refused.status.error ?? "")")

        let wrongKind = try await bench.train(Self.payload(long, ["finetuning_type": "dpo"]))
        #expect(wrongKind.status.state == "dead")
        #expect(wrongKind.status.error?.contains("holds sft rows") == true, "\(wrongKind.status.error ?? "")")

        let badModel = try await bench.train(Self.payload(long, ["base_model": "no-such-model.gguf"]))
        #expect(badModel.status.state == "dead")
        #expect(badModel.status.error?.contains("decoder model not found") == true, "\(badModel.status.error ?? "")")

        await #expect { try await bench.queue.enqueue(JobSpec(kind: "train", payload: Self.payload(long, ["learning_rate": 2]))) } throws: {
            ($0 as? TwinError)?.message.contains("learning_rate must be in (0, 1]") == true
        }
    }

    @Test(.enabled(if: hasModel))
    func dpoJobRecordsPreferenceMetrics() async throws {
        let bench = try await Bench()
        defer { bench.cleanUp() }
        let path = bench.directory.appendingPathComponent("prefs.jsonl").path
        try FileManager.default.createDirectory(at: bench.directory, withIntermediateDirectories: true)
        try """
        {"prompt": "Say hello.", "chosen": "Hello there.", "rejected": "No."}
        {"prompt": "Name a colour.", "chosen": "Blue.", "rejected": "Seven."}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let dataset = try await bench.datasets.importFiles([path], name: "prefs").artifact
        let (id, status) = try await bench.train(Self.payload(dataset, ["finetuning_type": "dpo", "model_name": "twin-test-dpo", "beta": 0.5, "max_steps": 2]))
        #expect(status.state == "succeeded", "\(status.error ?? "")")
        #expect(status.result?["model"]?.stringValue == "twin-test-dpo:1")
        let steps = try await TrainingRunStore(postgres: bench.env.postgres, namespace: bench.env.prefix).steps(jobID: id)
        #expect(steps.count == 2)
        #expect(steps.allSatisfy { $0.metrics["dpo"]?["margin"] != nil && $0.metrics["dpo"]?["accuracy"] != nil })
    }

    @Test(.enabled(if: hasModel))
    func qloraTrainsAndOverLongSamplesAreTruncatedByDefault() async throws {
        let bench = try await Bench()
        defer { bench.cleanUp() }
        let path = bench.directory.appendingPathComponent("long.jsonl").path
        try FileManager.default.createDirectory(at: bench.directory, withIntermediateDirectories: true)
        let long = (1...80).map { "word\($0)" }.joined(separator: " ")
        try """
        {"instruction": "Repeat the words.", "output": "\(long)"}
        {"instruction": "Say yes.", "output": "Yes."}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let dataset = try await bench.datasets.importFiles([path], name: "long").artifact
        let (_, status) = try await bench.train(Self.payload(dataset, ["mode": "qlora", "quantization": "q8_0", "max_seq_length": 64,
                                                                       "max_steps": 2, "save_steps": 0]))
        #expect(status.state == "succeeded", "\(status.error ?? "")")
        #expect(status.result?["dataset_report"]?["truncated"]?.intValue == 1)
        #expect(status.result?["dataset_report"]?["kept"]?.intValue == 2)
        // save_steps 0: one checkpoint, at the end.
        #expect(status.result?["checkpoints"].map { if case .array(let a) = $0 { a.count } else { -1 } } == 1)
    }
}
