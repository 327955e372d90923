import Foundation
import Testing
@testable import Neural

/// Merged-model GGUF export: layout, metadata, block encodings, and logits after reloading.
struct TrainingGGUFExportTests {
    /// A small GGUF v3 reader for what `GGUFExport` writes (test-only; the decoder owns the real reader).
    struct Parsed {
        var metadata: [String: Any] = [:]
        var tensors: [String: (dims: [Int], type: GGUFExport.TensorType, values: [Float])] = [:]
    }

    static func parse(_ data: [UInt8]) throws -> Parsed {
        var pos = 0
        func u32() -> UInt32 { defer { pos += 4 }; return (0..<4).reduce(0) { $0 | UInt32(data[pos + $1]) << (8 * $1) } }
        func u64() -> UInt64 { defer { pos += 8 }; return (0..<8).reduce(0) { $0 | UInt64(data[pos + $1]) << (8 * $1) } }
        func str() -> String {
            let n = Int(u64())
            defer { pos += n }
            return String(decoding: data[pos..<(pos + n)], as: UTF8.self)
        }
        func scalar(_ type: UInt32) -> Any {
            switch type {
            case 4: return u32()
            case 5: return Int32(bitPattern: u32())
            case 6: return Float(bitPattern: u32())
            case 7: pos += 1; return data[pos - 1] != 0
            case 8: return str()
            case 10: return u64()
            default: fatalError("type \(type)")
            }
        }
        guard u32() == 0x4655_4747, u32() == 3 else { throw TrainingError.format("not GGUF v3") }
        let nTensors = Int(u64()), nKV = Int(u64())
        var p = Parsed()
        for _ in 0..<nKV {
            let key = str()
            let type = u32()
            if type == 9 {
                let et = u32(), n = Int(u64())
                p.metadata[key] = (0..<n).map { _ in scalar(et) }
            } else {
                p.metadata[key] = scalar(type)
            }
        }
        var infos: [(String, [Int], GGUFExport.TensorType, Int)] = []
        for _ in 0..<nTensors {
            let name = str()
            let nd = Int(u32())
            let dims = (0..<nd).map { _ in Int(u64()) }
            let type = GGUFExport.TensorType(rawValue: u32())!
            infos.append((name, dims, type, Int(u64())))
        }
        let start = (pos + 31) / 32 * 32
        for (name, dims, type, offset) in infos {
            let count = dims.reduce(1, *)
            let size = switch type {
            case .f32: count * 4
            case .f16: count * 2
            case .q8_0: count / 32 * 34
            case .q4_0: count / 32 * 18
            case .q4_1: count / 32 * 20
            }
            p.tensors[name] = (dims, type, GGUFExport.decode(data[(start + offset)..<(start + offset + size)], count: count, type: type))
        }
        return p
    }

    /// Loads parsed GGUF tensors back into parameters of `config`.
    static func parameters(_ p: Parsed, config: LlamaTrainConfig) throws -> LlamaTrainParameters {
        let out = try LlamaTrainParameters(config: config)
        func load(_ name: String, _ t: TrainTensor) {
            let v = p.tensors[name]!.values
            v.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
        }
        load("token_embd.weight", out.embedding)
        load("output_norm.weight", out.finalNorm)
        for (i, l) in out.layers.enumerated() {
            for (suffix, t) in [("attn_norm", l.attnNorm), ("attn_q", l.wq), ("attn_k", l.wk), ("attn_v", l.wv),
                                ("attn_output", l.wo), ("ffn_norm", l.ffnNorm), ("ffn_gate", l.wGate), ("ffn_up", l.wUp),
                                ("ffn_down", l.wDown)] {
                load("blk.\(i).\(suffix).weight", t)
            }
        }
        return out
    }

    static func adaptedModel() throws -> LlamaTrainModel {
        let c = TrainingFixtures.tinyQuantConfig()
        let m = try LlamaTrainModel(parameters: .random(config: c, seed: 12, std: 0.3), mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                    capacity: TrainCapacity(maxTokens: 16, maxSegmentLength: 8))
        TrainingFixtures.randomiseAdapters(m, seed: 2)
        return m
    }

    @Test func mergedF32ExportReloadsToTheAdaptedModelsLogProbs() throws {
        let adapted = try Self.adaptedModel()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-gguf-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("merged.gguf")
        try GGUFExport.write(adapted.mergedParameters(), type: .f32, name: "twin-test",
                             metadata: [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.eos_token_id", .uint32(2))],
                             to: file)
        let parsed = try Self.parse(Array(try Data(contentsOf: file)))
        let c = adapted.config
        #expect(parsed.metadata["general.architecture"] as? String == "llama")
        #expect(parsed.metadata["llama.block_count"] as? UInt32 == UInt32(c.layers))
        #expect(parsed.metadata["llama.attention.head_count_kv"] as? UInt32 == UInt32(c.kvHeads))
        #expect(parsed.metadata["tokenizer.ggml.eos_token_id"] as? UInt32 == 2)
        #expect(parsed.tensors.count == 2 + 9 * c.layers)
        #expect(parsed.tensors["token_embd.weight"]?.dims == [c.dim, c.vocabSize])
        #expect(parsed.tensors["blk.0.ffn_down.weight"]?.dims == [c.ffnDim, c.dim])
        #expect(parsed.tensors["blk.1.attn_norm.weight"]?.dims == [c.dim])
        #expect(parsed.tensors["output.weight"] == nil)

        let reloaded = try LlamaTrainModel(parameters: Self.parameters(parsed, config: c), mode: .full, capacity: adapted.capacity)
        let batch = TrainingFixtures.batch(segmentLengths: [8, 5], vocab: c.vocabSize, seed: 6)
        try adapted.forward(batch)
        let a = (0..<batch.count).map { adapted.logProb(at: $0) }
        try reloaded.forward(batch)
        for t in 0..<batch.count { #expect(abs(reloaded.logProb(at: t) - a[t]) < 1e-4) }
    }

    @Test func blockEncodingsRoundTripWithinTheirPrecision() {
        var rng = TrainingRandom(seed: 3)
        let x = (0..<256).map { _ in rng.nextNormal() }
        for (type, tolerance) in [(GGUFExport.TensorType.f32, Float(0)), (.f16, 2e-3), (.q8_0, 0.02), (.q4_1, 0.25), (.q4_0, 0.35)] {
            let bytes = GGUFExport.encode(x, type: type)
            let y = GGUFExport.decode(bytes[...], count: x.count, type: type)
            let err = zip(x, y).map { abs($0 - $1) }.max()!
            #expect(err <= tolerance, "\(type): max error \(err)")
        }
        #expect(GGUFExport.encode(x, type: .q8_0).count == 256 / 32 * 34)
        #expect(GGUFExport.encode(x, type: .q4_1).count == 256 / 32 * 20)
        #expect(GGUFExport.encode(x, type: .q4_0).count == 256 / 32 * 18)
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
}
