import Foundation
import Testing
@testable import Core

/// `configs/pipelines/training.yaml` with `configs/training_demo.yaml` resolves to a valid `train` payload.
struct TrainingPipelineConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theDemoRunConfigResolvesToAValidTrainPayload() throws {
        var registry = JobRegistry()
        registry.register(TrainJob(postgres: PostgresClient(endpoint: TwinConfiguration().postgres, connections: 1), objects: nil,
                                   artifacts: ArtifactStore(namespace: "t", objects: nil, maxInlineBytes: 1024),
                                   modelsDirectory: "models", namespace: "t"))
        let def = try PipelineDefinition.load(file: Self.root.appendingPathComponent("configs/pipelines/training.yaml").path,
                                              registry: registry)
        #expect(def.name == "training" && def.steps.map(\.kind) == ["train"])
        let file = Self.root.appendingPathComponent("configs/training_demo.yaml").path
        guard case .object(let doc) = try YAMLDocumentPublic.parse(try String(contentsOfFile: file, encoding: .utf8), file: file),
              case .object(let overrides)? = doc["parameters"] else { Issue.record("no parameters in \(file)"); return }
        let params = try def.resolveParameters(overrides)
        let payload = try Templates.resolve(def.steps[0].params, scope: ["params": .object(params)], context: "train")
        let config = try JSONDecoder().decode(TrainingJobConfig.self, from: Data(payload.jsonText.utf8))
        #expect(config.dataset == "demo-sft" && config.registryName == "twin-demo-sft" && config.max_seq_length == 64)
        #expect(config.export_gguf == ["q8_0"] && config.learning_rate == 3e-4 && config.base_model == "")
        // The pipeline's defaults are the reference's SFT settings.
        let defaults = try def.resolveParameters(["dataset": .string("d")])
        let reference = try JSONDecoder().decode(TrainingJobConfig.self, from: Data(
            try Templates.resolve(def.steps[0].params, scope: ["params": .object(defaults)], context: "train").jsonText.utf8))
        #expect(reference.num_train_epochs == 3 && reference.per_device_train_batch_size == 2)
        #expect(reference.gradient_accumulation_steps == 8 && reference.warmup_steps == 10 && reference.r == 32)
    }
}
