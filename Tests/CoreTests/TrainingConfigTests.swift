import Foundation
import Testing
@testable import Core

/// The `train` payload: defaults as in the reference, and every out-of-range value refused at submit
/// time with a message naming the key.
struct TrainingConfigTests {
    static func decode(_ json: String) throws -> TrainingJobConfig {
        try JSONDecoder().decode(TrainingJobConfig.self, from: Data(json.utf8))
    }

    static func message(_ json: String) -> String? {
        do { _ = try decode(json); return nil } catch let e as TwinError { return e.message } catch { return "\(error)" }
    }

    @Test func defaultsFollowTheReference() throws {
        let c = try Self.decode(#"{"dataset": "d"}"#)
        #expect(c.finetuning_type == "sft")
        #expect(c.r == 32 && c.alpha == 32 && c.dropout == 0)
        #expect(c.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
        #expect(c.learning_rate == 3e-4)
        #expect(c.registryName == "twin-sft")
        #expect(c.options.batchSize == 2)
        #expect(c.threads == nil)   // every core of the worker's machine
        #expect(try Self.decode(#"{"dataset": "d", "threads": 2}"#).threads == 2)
        if case .lora(let l) = c.trainingMode { #expect(l.targets.count == 7) } else { Issue.record("expected lora") }
    }

    @Test func modesAndTargetsMapOntoTheTrainer() throws {
        let c = try Self.decode(#"{"dataset": "d", "mode": "qlora", "quantization": "q8_0", "target_modules": ["q", "v_proj"], "r": 4}"#)
        guard case .qlora(let l, let q) = c.trainingMode else { Issue.record("expected qlora"); return }
        #expect(q == .q8_0)
        #expect(l.targets == [.q, .v] && l.rank == 4)
        #expect(try Self.decode(#"{"dataset": "d", "mode": "full"}"#).trainingMode == .full)
    }

    @Test(arguments: [
        (#"{"dataset": "d", "learning_rate": 5}"#, "learning_rate must be in (0, 1], got 5.0"),
        (#"{"dataset": "d", "learning_rate": 0}"#, "learning_rate must be in (0, 1]"),
        (#"{"dataset": "d", "r": 0}"#, "r (LoRA rank) must be 1…256, got 0"),
        (#"{"dataset": "d", "r": 1000}"#, "r (LoRA rank) must be 1…256, got 1000"),
        (#"{"dataset": "d", "target_modules": ["q_proj", "lm_head"]}"#, "unknown module \"lm_head\""),
        (#"{"dataset": "d", "dropout": 1}"#, "dropout must be in [0, 1)"),
        (#"{"dataset": "d", "finetuning_type": "ppo"}"#, "finetuning_type must be sft or dpo"),
        (#"{"dataset": "d", "mode": "half"}"#, "mode must be lora, qlora or full"),
        (#"{"dataset": "d", "max_seq_length": 4}"#, "max_seq_length must be 8…8192"),
        (#"{"dataset": "d", "truncation": "cut"}"#, "truncation must be truncate, drop or fail"),
        (#"{"dataset": "d", "export_gguf": ["q2_k"]}"#, "export_gguf: unknown format \"q2_k\""),
        (#"{"dataset": "d", "learning_rte": 0.1}"#, "unknown key \"learning_rte\""),
        (#"{"num_train_epochs": 1}"#, "dataset is required"),
        (#"{"dataset": "d", "beta": 0}"#, "beta must be > 0"),
        (#"{"dataset": "d", "threads": 0}"#, "threads must be in 1...256, got 0"),
    ])
    func refusesOutOfRangeValuesNamingTheKey(json: String, expected: String) {
        let m = Self.message(json)
        #expect(m?.contains(expected) == true, "got \(m ?? "no error")")
    }

    @Test func theJobRegistryRefusesABadPayloadAtSubmitTime() throws {
        var registry = JobRegistry()
        // The handler itself, not TrainingJobs.register: that one also swaps BLAS kernels, which is only
        // safe at process start-up, not while other tests run matrix products.
        registry.register(TrainJob(postgres: PostgresClient(endpoint: TwinConfiguration().postgres, connections: 1), objects: nil,
                                   artifacts: ArtifactStore(namespace: "t", objects: nil, maxInlineBytes: 1024),
                                   modelsDirectory: "models", namespace: "t"))
        #expect(registry.contains("train"))
        #expect(throws: TwinError.self) { try registry.validate(kind: "train", payload: #"{"dataset": "d", "r": -1}"#) }
        try registry.validate(kind: "train", payload: #"{"dataset": "d", "inputs": {}}"#)
    }

    @Test func equalConfigsHashEquallyHoweverTheyAreWritten() throws {
        let a = try TrainJob.canonical(Self.decode(#"{"dataset": "d"}"#))
        let b = try TrainJob.canonical(Self.decode(#"{"r": 32, "dataset": "d", "mode": "lora"}"#))
        let c = try TrainJob.canonical(Self.decode(#"{"dataset": "d", "r": 16}"#))
        #expect(ModelRegistry.configHash(a) == ModelRegistry.configHash(b))
        #expect(ModelRegistry.configHash(a) != ModelRegistry.configHash(c))
    }
}
