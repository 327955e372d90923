import Foundation
import Testing
@testable import Neural

/// Checkpoint/resume equivalence, PEFT layout, adapter merging.
struct TrainingCheckpointTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("twin-training-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func options() -> TrainingOptions {
        var o = TrainingOptions()
        o.epochs = 4
        o.learningRate = 1e-2
        o.schedule = .cosine
        o.warmupSteps = 2
        o.packing = false
        o.seed = 9
        return o
    }

    @Test func resumingGivesTheSameLossTrajectory() throws {
        let mode = TrainingMode.lora(LoRAConfig(rank: 2, alpha: 4, dropout: 0.1))
        let full = try TrainingOptimisationTests.trainer(mode: mode, options: Self.options())
        let reference = try full.train().map(\.loss)
        #expect(reference.count == 16)

        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("checkpoint.safetensors")
        let first = try TrainingOptimisationTests.trainer(mode: mode, options: Self.options())
        let head = try first.train(maxSteps: 7).map(\.loss)
        try TrainingCheckpoint.save(first, to: file)

        // A fresh process: new model from the same base, different adapter init, then restore.
        let resumed = try TrainingOptimisationTests.trainer(mode: mode, options: Self.options(), seed: 1234)
        try TrainingCheckpoint.restore(resumed, from: file)
        #expect(resumed.step == 7)
        let tail = try resumed.train().map(\.loss)
        #expect(head + tail == reference)
    }

    @Test func restoreRefusesAMismatchedRun() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("c.safetensors")
        let t = try TrainingOptimisationTests.trainer(options: Self.options())
        try TrainingCheckpoint.save(t, to: file)
        var other = Self.options()
        other.seed = 10
        let u = try TrainingOptimisationTests.trainer(options: other)
        #expect { try TrainingCheckpoint.restore(u, from: file) } throws: { ($0 as? TrainingError)?.message.contains("seed") == true }
        let v = try TrainingOptimisationTests.trainer(mode: .lora(LoRAConfig(rank: 3, alpha: 4)), options: Self.options())
        #expect { try TrainingCheckpoint.restore(v, from: file) } throws: { ($0 as? TrainingError)?.message.contains("shape") == true }
        try Data("garbage".utf8).write(to: file)
        #expect(throws: TrainingError.self) { try TrainingCheckpoint.restore(t, from: file) }
        #expect(throws: TrainingError.self) { try TrainingCheckpoint.restore(t, from: dir.appendingPathComponent("missing")) }
    }

    @Test func peftExportHasPEFTNamesShapesAndConfig() throws {
        let c = TrainingFixtures.tinyConfig()
        let params = try LlamaTrainParameters.random(config: c, seed: 2)
        let lora = LoRAConfig(rank: 4, alpha: 16, dropout: 0.05, targets: Set(LoRATarget.allCases))
        let m = try LlamaTrainModel(parameters: params, mode: .lora(lora), capacity: TrainCapacity(maxTokens: 8, maxSegmentLength: 8))
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try PEFTExport.write(model: m, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", to: dir)
        let file = try SafeTensorsFile(path: dir.appendingPathComponent("adapter_model.safetensors").path)
        #expect(file.tensors.count == c.layers * 7 * 2)
        let expected: [(String, String, Int, Int)] = [
            ("self_attn", "q_proj", c.qDim, c.dim), ("self_attn", "k_proj", c.kvDim, c.dim),
            ("self_attn", "v_proj", c.kvDim, c.dim), ("self_attn", "o_proj", c.dim, c.qDim),
            ("mlp", "gate_proj", c.ffnDim, c.dim), ("mlp", "up_proj", c.ffnDim, c.dim), ("mlp", "down_proj", c.dim, c.ffnDim),
        ]
        for l in 0..<c.layers {
            for (parent, module, out, inp) in expected {
                let stem = "base_model.model.model.layers.\(l).\(parent).\(module)"
                #expect(file.info(named: stem + ".lora_A.weight")?.shape == [4, inp], "\(stem) A")
                #expect(file.info(named: stem + ".lora_B.weight")?.shape == [out, 4], "\(stem) B")
                #expect(file.info(named: stem + ".lora_B.weight")?.dtype == .f32)
            }
        }
        // Values round-trip (k is not permuted on A; B is zero at initialisation).
        let a0 = try file.tensor(named: "base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight")
        #expect(a0.data == m.adapter(layer: 1, target: .k)!.a.array)
        #expect(try file.tensor(named: "base_model.model.model.layers.0.mlp.up_proj.lora_B.weight").data.allSatisfy { $0 == 0 })
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("adapter_config.json"))) as! [String: Any]
        #expect(json["r"] as? Int == 4)
        #expect(json["lora_alpha"] as? Double == 16)
        #expect(abs((json["lora_dropout"] as? Double ?? 0) - 0.05) < 1e-6)
        #expect(json["peft_type"] as? String == "LORA")
        #expect(json["task_type"] as? String == "CAUSAL_LM")
        #expect(json["bias"] as? String == "none")
        #expect(json["base_model_name_or_path"] as? String == "HuggingFaceTB/SmolLM2-135M-Instruct")
        #expect(json["target_modules"] as? [String] == ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    }

    @Test func peftExportPutsQueryRowsBackInHuggingFaceOrder() throws {
        // heads 2, headDim 4: GGUF rows (h, 2i+s) ↔ HF rows (h, s·2+i).
        let m: [Float] = (0..<8).map(Float.init)
        #expect(PEFTExport.toHuggingFaceRows(m, heads: 2, headDim: 4, columns: 1) == [0, 2, 1, 3, 4, 6, 5, 7])
        // And the permuted adapter on halves-RoPE weights computes what the interleaved model computes.
        let ci = TrainingFixtures.tinyConfig(rope: .interleaved)
        var ch = ci
        ch.ropeStyle = .halves
        let pi = try LlamaTrainParameters.random(config: ci, seed: 5, std: 0.3)
        let ph = try LlamaTrainParameters(config: ch)
        for (a, b) in zip(ph.all, pi.all) { a.copy(from: b) }
        for l in 0..<ci.layers {
            for (t, heads) in [(ph.layers[l].wq, ci.heads), (ph.layers[l].wk, ci.kvHeads)] {
                let hf = PEFTExport.toHuggingFaceRows(t.array, heads: heads, headDim: ci.headDim, columns: ci.dim)
                hf.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
            }
        }
        let cap = TrainCapacity(maxTokens: 8, maxSegmentLength: 8)
        let lora = LoRAConfig(rank: 2, alpha: 4, targets: [.q, .k])
        let mi = try LlamaTrainModel(parameters: pi, mode: .lora(lora), capacity: cap)
        TrainingFixtures.randomiseAdapters(mi, seed: 3)
        let mh = try LlamaTrainModel(parameters: ph, mode: .lora(lora), capacity: cap)
        let exported = try PEFTExport.tensors(of: mi)
        for l in 0..<ci.layers {
            for t in [LoRATarget.q, .k] {
                let a = mh.adapter(layer: l, target: t)!
                for (x, suffix) in [(a.a, "A"), (a.b, "B")] {
                    let v = exported.first { $0.name == PEFTExport.tensorName(layer: l, target: t, matrix: suffix) }!.values
                    v.withUnsafeBufferPointer { x.data.update(from: $0.baseAddress!, count: x.count) }
                }
            }
        }
        let batch = TrainingFixtures.batch(segmentLengths: [7], vocab: 32, seed: 4)
        let li = try mi.forward(batch), lh = try mh.forward(batch)
        #expect(abs(li - lh) < 1e-4 * abs(li))
    }

    @Test func mergedWeightsGiveTheAdaptedModelsLogProbs() throws {
        for mode in [TrainingMode.lora(LoRAConfig(rank: 3, alpha: 6)), .qlora(LoRAConfig(rank: 3, alpha: 6), .q4_1)] {
            let c = TrainingFixtures.tinyQuantConfig()
            let params = try LlamaTrainParameters.random(config: c, seed: 6, std: 0.3)
            let cap = TrainCapacity(maxTokens: 16, maxSegmentLength: 8)
            let adapted = try LlamaTrainModel(parameters: params, mode: mode, capacity: cap)
            TrainingFixtures.randomiseAdapters(adapted, seed: 8)
            let merged = try LlamaTrainModel(parameters: adapted.mergedParameters(), mode: .full, capacity: cap)
            let batch = TrainingFixtures.batch(segmentLengths: [8, 6], vocab: 32, seed: 2)
            try adapted.forward(batch)
            let a = (0..<batch.count).map { adapted.logProb(at: $0) }
            try merged.forward(batch)
            let b = (0..<batch.count).map { merged.logProb(at: $0) }
            for t in 0..<batch.count { #expect(abs(a[t] - b[t]) < 1e-4, "token \(t)") }
            adapted.adaptersEnabled = false
            try adapted.forward(batch)
            #expect((0..<batch.count).contains { abs(adapted.logProb(at: $0) - a[$0]) > 1e-3 })
        }
    }

    @Test func qloraBaseStaysCloseToTheF32Base() throws {
        let c = TrainingFixtures.tinyQuantConfig()
        let cap = TrainCapacity(maxTokens: 16, maxSegmentLength: 8)
        let batch = TrainingFixtures.batch(segmentLengths: [8], vocab: 32, seed: 3)
        let f32 = try LlamaTrainModel(parameters: .random(config: c, seed: 6, std: 0.1), mode: .lora(LoRAConfig(rank: 2)), capacity: cap)
        let ref = try f32.forward(batch)
        for (kind, tol) in [(BaseQuantization.q8_0, 0.01), (.q4_1, 0.1)] {
            let q = try LlamaTrainModel(parameters: .random(config: c, seed: 6, std: 0.1), mode: .qlora(LoRAConfig(rank: 2), kind), capacity: cap)
            let v = try q.forward(batch)
            #expect(abs(v - ref) < tol * abs(ref), "\(kind): \(v) vs \(ref)")
            #expect(q.weightBytes < f32.weightBytes)
        }
    }
}
