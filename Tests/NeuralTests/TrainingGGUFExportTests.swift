import Foundation
import Testing
@testable import Neural

/// Merged-model GGUF export read back through the decoder's GGUF reader; real SmolLM2 weights load.
struct TrainingGGUFExportTests {
    static func temporaryFile(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-gguf-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name)
    }

    static func adaptedModel() throws -> LlamaTrainModel {
        let c = TrainingFixtures.tinyQuantConfig()
        let m = try LlamaTrainModel(parameters: .random(config: c, seed: 12, std: 0.3), mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                    capacity: TrainCapacity(maxTokens: 16, maxSegmentLength: 8))
        TrainingFixtures.randomiseAdapters(m, seed: 2)
        return m
    }

    static func logProbs(_ m: LlamaTrainModel, _ batch: TrainBatch) throws -> [Float] {
        try m.forward(batch)
        return (0..<batch.count).map { m.logProb(at: $0) }
    }

    @Test func mergedExportReloadsThroughTheDecoderToTheAdaptedModelsLogProbs() throws {
        let adapted = try Self.adaptedModel()
        let c = adapted.config
        let batch = TrainingFixtures.batch(segmentLengths: [8, 5], vocab: c.vocabSize, seed: 6)
        let expected = try Self.logProbs(adapted, batch)
        let merged = try adapted.mergedParameters()
        // Per type: max |Δw| / max |w| of a reloaded matrix (half a quantisation step, plus the f16 scale),
        // and the log-prob tolerance where the format is (nearly) lossless.
        let bounds: [(GGUFExport.TensorType, Float, Float?)] = [
            (.f32, 0, 1e-4), (.f16, 1e-3, 5e-3), (.q8_0, 0.01, nil), (.q4_1, 0.08, nil), (.q4_0, 0.13, nil),
        ]
        for (type, weightBound, logProbBound) in bounds {
            let url = try Self.temporaryFile("merged-\(type).gguf")
            defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
            try GGUFExport.write(merged, type: type, name: "twin-test",
                                 metadata: [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.eos_token_id", .uint32(2)),
                                            ("tokenizer.ggml.tokens", .array((0..<c.vocabSize).map { .string("t\($0)") }))],
                                 to: url)
            let file = try GGUFFile(path: url.path)
            #expect(file.metadata["general.architecture"]?.stringValue == "llama")
            #expect(file.metadata["tokenizer.ggml.eos_token_id"]?.intValue == 2)
            #expect(file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count == c.vocabSize)
            #expect(file.tensor(named: "output.weight") == nil)
            #expect(file.tensor(named: "blk.0.ffn_down.weight")?.shape == [c.ffnDim, c.dim])
            let reloaded = try LlamaTrainParameters(gguf: file)
            #expect(reloaded.config == c)
            for (a, b) in zip(reloaded.all, merged.all) {
                let scale = b.array.map(abs).max()!
                let err = zip(a.array, b.array).map { abs($0 - $1) }.max()!
                #expect(err <= weightBound * scale + 1e-7, "\(type) \(b.name): error \(err) for max |w| \(scale)")
            }
            if let logProbBound {
                let model = try LlamaTrainModel(parameters: reloaded, mode: .full, capacity: adapted.capacity)
                let got = try Self.logProbs(model, batch)
                let err = zip(got, expected).map { abs($0 - $1) }.max()!
                #expect(err <= logProbBound, "\(type): max log-prob difference \(err)")
            }
        }
    }

    @Test func modelLoadedBlockByBlockFromGGUFMatchesOneBuiltFromParameters() throws {
        let c = TrainingFixtures.tinyQuantConfig()
        let params = try LlamaTrainParameters.random(config: c, seed: 5, std: 0.3)
        let url = try Self.temporaryFile("base.gguf")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        try GGUFExport.write(params, type: .f32, to: url)
        let file = try GGUFFile(path: url.path)
        let cap = TrainCapacity(maxTokens: 16, maxSegmentLength: 8)
        let batch = TrainingFixtures.batch(segmentLengths: [8, 4], vocab: c.vocabSize, seed: 1)
        for mode in [TrainingMode.lora(LoRAConfig(rank: 2, alpha: 4)), .qlora(LoRAConfig(rank: 2, alpha: 4), .q8_0), .full] {
            let a = try LlamaTrainModel(parameters: LlamaTrainParameters(gguf: file), mode: mode, capacity: cap, seed: 3)
            let b = try LlamaTrainModel(gguf: file, mode: mode, capacity: cap, seed: 3)
            #expect(try Self.logProbs(a, batch) == Self.logProbs(b, batch), "\(mode)")
            #expect(a.trainableTensors.map(\.name) == b.trainableTensors.map(\.name))
        }
    }

    @Test func halvesOrderedWeightsArePermutedToGGUFOrder() {
        let m: [Float] = (0..<8).map(Float.init)
        let g = GGUFExport.toGGUFRows(m, heads: 2, headDim: 4, columns: 1)
        #expect(g == [0, 2, 1, 3, 4, 6, 5, 7])
        #expect(PEFTExport.toHuggingFaceRows(g, heads: 2, headDim: 4, columns: 1) == m)
    }

    @Test func quantisedExportRefusesWidthsThatAreNotBlocks() throws {
        let p = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 1)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never.gguf")
        #expect { try GGUFExport.write(p, type: .q8_0, to: url) } throws: {
            ($0 as? TrainingError)?.message.contains("not a multiple of 32") == true
        }
    }

    static var smolLM2Path: String {
        let dir = ProcessInfo.processInfo.environment["TWIN_MODELS_DIR"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("models").path
        return dir + "/SmolLM2-135M-Instruct.Q4_1.gguf"
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: smolLM2Path)))
    func realSmolLM2LoadsAndPredictsTextBetterThanShuffledText() throws {
        let file = try GGUFFile(path: Self.smolLM2Path)
        let params = try LlamaTrainParameters(gguf: file)
        #expect(params.config == .smolLM2_135M)
        let vocab = try file.requireStrings("tokenizer.ggml.tokens")
        let words = ["The", "Ġcat", "Ġsat", "Ġon", "Ġthe", "Ġmat", ".", "ĠThe", "Ġdog", "Ġsat", "Ġon", "Ġthe", "Ġrug", "."]
        let ids = try words.map { w in
            guard let i = vocab.firstIndex(of: w) else { throw TrainingError.invalidInput("token \(w) not in the vocabulary") }
            return Int32(i)
        }
        let model = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 8, alpha: 16)),
                                        capacity: TrainCapacity(maxTokens: 16, maxSegmentLength: 16))
        func loss(_ t: [Int32]) throws -> Double {
            let batch = TrainBatch(tokens: t, targets: t.indices.map { $0 + 1 < t.count ? t[$0 + 1] : -1 },
                                   segments: [TrainSegment(start: 0, count: t.count)])
            return -(try model.forward(batch)) / Double(t.count - 1)
        }
        let natural = try loss(ids)
        let shuffled = try loss([ids[5], ids[2], ids[12], ids[0], ids[6], ids[9], ids[3], ids[11], ids[1], ids[13], ids[8], ids[4], ids[10], ids[7]])
        #expect(natural < 4, "natural text: \(natural) nats/token")
        #expect(natural + 2 < shuffled, "natural \(natural) vs shuffled \(shuffled)")
    }
}
