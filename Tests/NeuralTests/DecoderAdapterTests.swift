import Foundation
import Testing
@testable import Neural

/// A PEFT adapter applied by the decoder at load time, against the same adapter merged and exported to GGUF.
struct DecoderAdapterTests {
    /// Files made once from the real SmolLM2: a Q8_0 copy of the base, a random rank-8 adapter over it in
    /// PEFT layout, and the adapted model merged and exported as Q8_0.
    struct Exported {
        let directory: URL
        var baseQ8: String { directory.appendingPathComponent("base-q8_0.gguf").path }
        var adapter: String { directory.appendingPathComponent("adapter").path }
        var merged: String { directory.appendingPathComponent("merged-q8_0.gguf").path }
    }

    /// Makes the files in a fresh temporary directory; the caller removes it (about 300 MB).
    static func export() throws -> Exported {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-adapter-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let e = Exported(directory: dir)
        do {
            let source = try GGUFFile(path: TestModels.smolLMPath)
            let tokenizer = GGUFExport.tokenizerMetadata(from: source)
            // The base is re-exported as Q8_0 first so both sides start from the same Q8_0 embedding: the merged
            // export re-quantises every matrix (embedding included) to Q8_0, which is idempotent on Q8_0 values
            // but not on the original Q4_1 ones.
            try GGUFExport.write(LlamaTrainParameters(gguf: source), type: .q8_0, metadata: tokenizer, to: URL(fileURLWithPath: e.baseQ8))
            let model = try LlamaTrainModel(gguf: GGUFFile(path: e.baseQ8), mode: .lora(LoRAConfig(rank: 8, alpha: 16)),
                                            capacity: TrainCapacity(maxTokens: 8, maxSegmentLength: 8))
            TrainingFixtures.randomiseAdapters(model, seed: 7, std: 0.05)
            try PEFTExport.write(model: model, baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", to: URL(fileURLWithPath: e.adapter))
            try GGUFExport.write(model.mergedParameters(), type: .q8_0, metadata: tokenizer, to: URL(fileURLWithPath: e.merged))
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        return e
    }

    static func firstStepLogits(_ model: LlamaModel) -> [Float] {
        let prompt = model.tokenizer.encode("The capital of France is a city called")
        let generator = LlamaGenerator(model: model, contextLength: 64, threads: 2)
        // The returned buffer lives in the generator's engine: copy it while the generator is alive.
        return withExtendedLifetime(generator) { Array(generator.prefill(prompt)) }
    }

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-adapter-bad-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func writeConfig(_ json: String, in dir: URL) throws {
        try Data(json.utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
    }

    /// The adapter error loading SmolLM2 with `dir` (nil when it loads).
    static func adapterError(_ dir: URL) throws -> LlamaAdapterError? {
        do {
            _ = try LlamaModel(path: TestModels.smolLMPath, adapterDirectory: dir.path)
            return nil
        } catch let e as LlamaAdapterError { return e }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestModels.smolLMPath)))
    func loadTimeAdapterEqualsTheMergedQ8Export() throws {
        let e = try Self.export()
        defer { try? FileManager.default.removeItem(at: e.directory) }
        let adapted = try LlamaModel(path: e.baseQ8, adapterDirectory: e.adapter)
        let merged = try LlamaModel(path: e.merged)
        let base = try LlamaModel(path: e.baseQ8)
        for (x, y) in zip(adapted.weights.layers.flatMap(\.matrices), merged.weights.layers.flatMap(\.matrices)) {
            #expect(x.tensor.type == .q8_0 && x.tensor.byteCount == y.tensor.byteCount)
            #expect(memcmp(x.tensor.data, y.tensor.data, x.tensor.byteCount) == 0, "\(x.tensor.name) bytes differ from the merged export")
        }
        // The embedding (Q8_0 on both sides) re-quantises to the same bytes: Q8_0 is idempotent on Q8_0 values.
        let ea = adapted.weights.tokenEmbedding, em = merged.weights.tokenEmbedding
        #expect(ea.byteCount == em.byteCount && memcmp(ea.data, em.data, ea.byteCount) == 0)
        let a = Self.firstStepLogits(adapted), m = Self.firstStepLogits(merged), b = Self.firstStepLogits(base)
        #expect(a.map(abs).max()! < 100, "logits should be finite and of ordinary size")
        // Same f32 merge (one sgemm, same operands and order) and the same Q8_0 quantiser, so every matrix is
        // byte-identical (checked above) and the forward passes, hence the logits, are equal.
        let toMerged = zip(a, m).map { abs($0 - $1) }.max()!
        #expect(toMerged == 0, "adapter vs merged export: max |Δlogit| \(toMerged)")
        let toBase = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(toBase > 0.5, "the adapter should move the logits clearly; max |Δlogit| vs base \(toBase)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestModels.smolLMPath)))
    func adapterOverTheQ4ModelMergesTargetsToQ8AndLeavesTheRest() throws {
        let e = try Self.export()
        defer { try? FileManager.default.removeItem(at: e.directory) }
        let adapted = try LlamaModel(path: TestModels.smolLMPath, adapterDirectory: e.adapter)
        let plain = try LlamaModel(path: TestModels.smolLMPath)
        #expect(adapted.weights.layers.flatMap(\.matrices).allSatisfy { $0.tensor.type == .q8_0 })
        #expect(adapted.weights.tokenEmbedding.type == plain.weights.tokenEmbedding.type)
        #expect(memcmp(adapted.weights.tokenEmbedding.data, plain.weights.tokenEmbedding.data, plain.weights.tokenEmbedding.byteCount) == 0)
        let delta = zip(Self.firstStepLogits(adapted), Self.firstStepLogits(plain)).map { abs($0 - $1) }.max()!
        #expect(delta > 0.5, "max |Δlogit| vs the plain Q4_1 model \(delta)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestModels.smolLMPath)))
    func onlyTheConfiguredTargetsAreMerged() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try LlamaModel(path: TestModels.smolLMPath).config
        try Self.writeConfig(#"{"r": 2, "lora_alpha": 4, "target_modules": ["v_proj"]}"#, in: dir)
        let entries = (0..<c.layerCount).flatMap { l in
            [(name: PEFTExport.tensorName(layer: l, target: .v, matrix: "A"), shape: [2, c.modelDim], values: [Float](repeating: 0.01, count: 2 * c.modelDim)),
             (name: PEFTExport.tensorName(layer: l, target: .v, matrix: "B"), shape: [c.kvDim, 2], values: [Float](repeating: 0.01, count: 2 * c.kvDim))]
        }
        try SafeTensorsWriter.write(entries, to: dir.appendingPathComponent("adapter_model.safetensors").path)
        let m = try LlamaModel(path: TestModels.smolLMPath, adapterDirectory: dir.path)
        #expect(m.weights.layers.allSatisfy { $0.value.type == .q8_0 && $0.query.type == .q4_1 && $0.down.type == .q4_1 })
    }

    @Test func missingSafetensorsIsAnErrorNamingTheFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeConfig(#"{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"]}"#, in: dir)
        #expect { try LlamaAdapter(directory: dir.path) } throws: {
            ($0 as? LlamaAdapterError).map { $0.message.contains("adapter_model.safetensors is missing") && $0.shortDescription == "io" } == true
        }
    }

    @Test func badConfigsAreErrorsNamingTheFile() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect { try LlamaAdapter(directory: dir.path) } throws: {
            ($0 as? LlamaAdapterError)?.message.contains("cannot read \(dir.path)/adapter_config.json") == true
        }
        let cases: [(String, String)] = [
            ("{not json", "adapter_config.json: not a PEFT adapter config"),
            (#"{"lora_alpha": 16, "target_modules": ["q_proj"]}"#, "missing key r"),
            (#"{"r": "eight", "lora_alpha": 16, "target_modules": ["q_proj"]}"#, "bad value at r"),
            (#"{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "lm_head"]}"#, "unknown target module 'lm_head'"),
            (#"{"r": 0, "lora_alpha": 16, "target_modules": ["q_proj"]}"#, "r must be ≥ 1"),
            (#"{"r": 8, "lora_alpha": 16, "target_modules": []}"#, "target_modules is empty"),
            (#"{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"], "use_dora": true}"#, "DoRA"),
            (#"{"r": 8, "lora_alpha": 16, "target_modules": ["q_proj"], "peft_type": "IA3"}"#, "only LORA"),
        ]
        for (json, expected) in cases {
            try Self.writeConfig(json, in: dir)
            #expect { try LlamaAdapter(directory: dir.path) } throws: {
                ($0 as? LlamaAdapterError)?.message.contains(expected) == true
            }
        }
    }

    @Test func strayOrUnpairedTensorsAreErrorsNamingTheTensor() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.writeConfig(#"{"r": 1, "lora_alpha": 1, "target_modules": ["q_proj"]}"#, in: dir)
        let a = PEFTExport.tensorName(layer: 0, target: .q, matrix: "A")
        let b = PEFTExport.tensorName(layer: 0, target: .q, matrix: "B")
        let path = dir.appendingPathComponent("adapter_model.safetensors").path
        try SafeTensorsWriter.write([(a, [1, 32], [Float](repeating: 0, count: 32))], to: path)
        #expect { try LlamaAdapter(directory: dir.path) } throws: {
            ($0 as? LlamaAdapterError)?.message.contains("\(b) is missing") == true
        }
        let stray = PEFTExport.tensorName(layer: 0, target: .v, matrix: "A")
        try SafeTensorsWriter.write([(a, [1, 32], [Float](repeating: 0, count: 32)), (b, [32, 1], [Float](repeating: 0, count: 32)),
                                     (stray, [1, 32], [Float](repeating: 0, count: 32))], to: path)
        #expect { try LlamaAdapter(directory: dir.path) } throws: {
            ($0 as? LlamaAdapterError)?.message.contains("unexpected tensor \(stray)") == true
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TestModels.smolLMPath)))
    func adaptersThatDoNotFitTheModelAreErrors() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try LlamaModel(path: TestModels.smolLMPath).config
        try Self.writeConfig(#"{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}"#, in: dir)
        let path = dir.appendingPathComponent("adapter_model.safetensors").path
        func write(layers: Int, aColumns: Int) throws {
            try SafeTensorsWriter.write((0..<layers).flatMap { l in
                [(name: PEFTExport.tensorName(layer: l, target: .q, matrix: "A"), shape: [4, aColumns], values: [Float](repeating: 0, count: 4 * aColumns)),
                 (name: PEFTExport.tensorName(layer: l, target: .q, matrix: "B"), shape: [c.modelDim, 4], values: [Float](repeating: 0, count: 4 * c.modelDim))]
            }, to: path)
        }
        try write(layers: 2, aColumns: c.modelDim)
        let layerError = try Self.adapterError(dir)
        #expect(layerError?.message.contains("the adapter has 2 layers, the model has \(c.layerCount)") == true)
        #expect(layerError?.shortDescription == "mismatch")
        try write(layers: c.layerCount, aColumns: 64)
        let shapeError = try Self.adapterError(dir)?.message ?? "loaded"
        #expect(shapeError.contains("\(PEFTExport.tensorName(layer: 0, target: .q, matrix: "A")) has shape [4, 64], expected [4, \(c.modelDim)]"),
                "\(shapeError)")
    }
}
