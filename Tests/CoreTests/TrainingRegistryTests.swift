import Foundation
import Testing
@testable import Core

/// The model registry in the real PostgreSQL: lineage, promotion order, one production model per name,
/// and rollback to the model production replaced.
struct TrainingRegistryTests {
    static func register(_ registry: ModelRegistry, _ name: String, loss: Double) async throws -> ModelRegistry.Entry {
        try await registry.register(ModelRegistry.Registration(
            name: name, baseModel: "SmolLM2-135M-Instruct.Q4_1.gguf", dataset: "demo:1", datasetID: nil,
            config: .object(["r": .number(8)]), jobID: UUIDv7.make(), metrics: .object(["final_loss": .number(loss)]),
            artifacts: .object([:])))
    }

    @Test func registersVersionsWithLineage() async throws {
        let env = try await TestEnvironment()
        let registry = ModelRegistry(postgres: env.postgres, namespace: env.prefix)
        let a = try await Self.register(registry, "twin-sft", loss: 2)
        let b = try await Self.register(registry, "twin-sft", loss: 1)
        #expect(a.version == 1 && b.version == 2 && a.stage == "candidate")
        #expect(a.config_hash == ModelRegistry.configHash(.object(["r": .number(8)])))
        #expect(a.code_version == TwinVersion.current && a.dataset == "demo:1")
        #expect(try await registry.show("twin-sft").version == 2)
        #expect(try await registry.show("twin-sft:1").id == a.id)
        #expect(try await registry.show(a.id).version == 1)
        #expect(try await registry.list(name: "twin-sft").map(\.version) == [2, 1])
        await #expect { try await registry.show("twin-sft:9") } throws: { ($0 as? TwinError)?.isNotFound == true }
        await #expect { try await registry.show("twin-sft:bogus") } throws: { ($0 as? TwinError)?.isInvalidInput == true }
        await #expect { try await registry.list(stage: "retired") } throws: { ($0 as? TwinError)?.isInvalidInput == true }
    }

    @Test func promotionGoesOneStageAtATime() async throws {
        let env = try await TestEnvironment()
        let registry = ModelRegistry(postgres: env.postgres, namespace: env.prefix)
        let a = try await Self.register(registry, "m", loss: 2)
        await #expect { try await registry.promote("m:1", to: "production") } throws: {
            ($0 as? TwinError)?.message.contains("can only move to staging, not production") == true
        }
        #expect(try await registry.promote("m:1").stage == "staging")
        #expect(try await registry.promote("m:1", to: "production").stage == "production")
        await #expect { try await registry.promote("m:1") } throws: {
            ($0 as? TwinError)?.message.contains("already in production") == true
        }
        // A second model reaching production archives the first.
        let b = try await Self.register(registry, "m", loss: 1)
        _ = try await registry.promote(b.id)
        _ = try await registry.promote(b.id)
        #expect(try await registry.show(a.id).stage == "archived")
        #expect(try await registry.show("m:production").id == b.id)
        await #expect { try await registry.promote(a.id) } throws: { ($0 as? TwinError)?.message.contains("archived") == true }
        #expect(try await registry.history(a.id).map(\.to) == ["staging", "production", "archived"])
    }

    @Test func rollbackReturnsProductionToThePreviousModelsInOrder() async throws {
        let env = try await TestEnvironment()
        let registry = ModelRegistry(postgres: env.postgres, namespace: env.prefix)
        var ids: [String] = []
        for loss in [3.0, 2.0, 1.0] {
            let e = try await Self.register(registry, "r", loss: loss)
            _ = try await registry.promote(e.id)
            _ = try await registry.promote(e.id)
            ids.append(e.id)
        }
        let first = try await registry.rollback("r")
        #expect(first.restored.id == ids[1] && first.restored.stage == "production")
        #expect(first.retired.id == ids[2] && first.retired.stage == "archived")
        let second = try await registry.rollback("r")
        #expect(second.restored.id == ids[0])
        await #expect { try await registry.rollback("r") } throws: {
            ($0 as? TwinError)?.message.contains("nothing to roll back to") == true
        }
        #expect(try await registry.list(stage: "production").map(\.id) == [ids[0]])
        await #expect { try await registry.rollback("nope") } throws: { ($0 as? TwinError)?.isNotFound == true }
        _ = try await Self.register(registry, "fresh", loss: 1)
        await #expect { try await registry.rollback("fresh") } throws: {
            ($0 as? TwinError)?.message.contains("no production model") == true
        }
    }
}
