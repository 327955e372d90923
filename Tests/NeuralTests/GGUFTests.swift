import Foundation
import Testing
@testable import Neural

struct GGUFTests {
    private func sampleBuilder() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.metadata = [
            ("general.architecture", .string("llama")), ("some.u32", .u32(7)), ("some.i32", .i32(-3)),
            ("some.f32", .f32(1.5)), ("some.bool", .bool(true)), ("some.list", .strings(["a", "é", ""])),
            ("some.ints", .i32s([1, -2])), ("some.f64", .f64(0.25)), ("some.u8", .u8(9)), ("some.i64", .i64(-5)),
        ]
        // Q4_1 block: d = 0.5, m = -1, byte j = (j & 0xF) | ((15 - j) << 4).
        let q41 = GGUFBuilder.half(0.5) + GGUFBuilder.half(-1) + (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        // Q4_0 block: d = 2, byte j = j | (j << 4).
        let q40 = GGUFBuilder.half(2) + (0..<16).map { UInt8($0) | UInt8($0) << 4 }
        // Q8_0 block: d = 0.25, q = -16 … 15.
        let q80 = GGUFBuilder.half(0.25) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        b.tensors = [
            ("f32", [3], 0, GGUFBuilder.f32Bytes([1, -2, 3.5])),
            ("f16", [2, 2], 1, GGUFBuilder.f16Bytes([0.5, -1, 65504, 0x1p-24])),
            ("q4_1", [32], 3, q41), ("q4_0", [32], 2, q40), ("q8_0", [32], 8, q80),
        ]
        return b
    }

    @Test func readsMetadataOfEveryType() throws {
        let path = try GGUFBuilder.write(sampleBuilder().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(file.version == 3)
        #expect(file.metadataKeys.first == "general.architecture")
        #expect(file.metadata["some.u32"] == .uint32(7))
        #expect(file.metadata["some.i32"]?.intValue == -3)
        #expect(file.metadata["some.f32"]?.doubleValue == 1.5)
        #expect(file.metadata["some.bool"]?.boolValue == true)
        #expect(try file.requireStrings("some.list") == ["a", "é", ""])
        #expect(file.metadata["some.ints"] == .array([.int32(1), .int32(-2)]))
        #expect(file.metadata["some.f64"] == .float64(0.25))
        #expect(file.metadata["some.u8"]?.intValue == 9)
        #expect(file.metadata["some.i64"]?.intValue == -5)
        #expect(file.tensors.map(\.name) == ["f32", "f16", "q4_1", "q4_0", "q8_0"])
        #expect(file.tensor(named: "f16")?.shape == [2, 2])
        #expect(file.tensor(named: "f16")?.rows == 2)
    }

    @Test func dequantisesEverySupportedType() throws {
        let path = try GGUFBuilder.write(sampleBuilder().bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect(try file.requireTensor("f32").dequantize() == [1, -2, 3.5])
        #expect(try file.requireTensor("f16").dequantize() == [0.5, -1, 65504, 0x1p-24])
        let q41 = try file.requireTensor("q4_1").dequantize()
        let low: [Float] = (0..<16).map { (i: Int) -> Float in Float(i) * 0.5 - 1 }
        let high: [Float] = (0..<16).map { (i: Int) -> Float in Float(15 - i) * 0.5 - 1 }
        #expect(q41 == low + high)
        let q40 = try file.requireTensor("q4_0").dequantize()
        let expected40: [Float] = (0..<32).map { (i: Int) -> Float in Float(i % 16 - 8) * 2 }
        #expect(q40 == expected40)
        let q80 = try file.requireTensor("q8_0").dequantize()
        let expected80: [Float] = (0..<32).map { (i: Int) -> Float in Float(i - 16) * 0.25 }
        #expect(q80 == expected80)
        var row = [Float](repeating: 0, count: 2)
        try row.withUnsafeMutableBufferPointer { try file.requireTensor("f16").dequantizeRows(1..<2, into: $0.baseAddress!) }
        #expect(row == [65504, 0x1p-24])
    }

    @Test func halfConversionRoundTrips() {
        for bits in stride(from: 0, through: 0xffff, by: 7) where (bits >> 10) & 0x1f != 31 {
            let h = UInt16(bits)
            #expect(Quant.floatToHalf(Quant.halfToFloat(h)) == h)
        }
        #expect(Quant.halfToFloat(0x3c00) == 1)
        #expect(Quant.halfToFloat(0xfc00) == -.infinity)
        #expect(Quant.halfToFloat(0x7e00).isNaN)
    }

    private func expectError(_ bytes: [UInt8], _ kind: GGUFError, containing text: String) throws {
        let path = try GGUFBuilder.write(bytes)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try GGUFFile(path: path)
            Issue.record("expected \(kind.shortDescription)")
        } catch {
            #expect(error.isSameKind(as: kind), "\(error)")
            #expect(error.message.contains(text), "\(error)")
            #expect(error.message.contains(path), "\(error)")
        }
    }

    @Test func rejectsBadMagic() throws {
        var bytes = sampleBuilder().bytes()
        bytes[0] = UInt8(ascii: "X")
        try expectError(bytes, .badMagic(""), containing: "does not start with GGUF")
    }

    @Test func rejectsUnsupportedVersion() throws {
        var b = sampleBuilder()
        b.version = 9
        try expectError(b.bytes(), .unsupportedVersion(""), containing: "version 9")
    }

    @Test func rejectsTruncationAtEveryLength() throws {
        let bytes = sampleBuilder().bytes()
        // Cut inside the header, inside metadata, inside tensor infos and inside tensor data.
        for cut in [0, 3, 7, 20, 60, 200, 400, bytes.count - 40, bytes.count - 63] {
            let path = try GGUFBuilder.write(Array(bytes[0..<cut]))
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: GGUFError.self, "cut at \(cut)") { try GGUFFile(path: path) }
        }
    }

    @Test func rejectsTensorPastEndOfFile() throws {
        let bytes = sampleBuilder().bytes()
        try expectError(Array(bytes[0..<(bytes.count - 40)]), .truncated(""), containing: "runs past the end")
    }

    @Test func rejectsUnknownQuantisationType() throws {
        var b = sampleBuilder()
        b.tensors.append(("weird", [32], 99, [UInt8](repeating: 0, count: 32)))
        try expectError(b.bytes(), .unsupportedType(""), containing: "unknown ggml type 99")
    }

    @Test func knownButUnsupportedTypeFailsOnDequantise() throws {
        var b = sampleBuilder()
        b.tensors.append(("k", [256], 12, [UInt8](repeating: 0, count: 144)))  // Q4_K
        let path = try GGUFBuilder.write(b.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect {
            _ = try file.requireTensor("k").dequantize()
        } throws: { error in
            (error as? GGUFError)?.message.contains("uses Q4_K") == true
        }
    }

    @Test func rejectsMissingFileWithPath() {
        #expect {
            _ = try GGUFFile(path: "/nonexistent/model.gguf")
        } throws: { error in
            (error as? GGUFError)?.message.contains("/nonexistent/model.gguf") == true
        }
    }

    @Test func rejectsHugeArrayCount() throws {
        var bytes: [UInt8] = Array("GGUF".utf8) + [3, 0, 0, 0] + [0, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0]
        bytes += [1, 0, 0, 0, 0, 0, 0, 0, UInt8(ascii: "a"), 9, 0, 0, 0, 4, 0, 0, 0]
        bytes += [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
        try expectError(bytes, .truncated(""), containing: "runs past the end")
    }

    @Test func rejectsNonLlamaArchitecture() throws {
        var b = sampleBuilder()
        b.metadata[0] = ("general.architecture", .string("mamba"))
        let path = try GGUFBuilder.write(b.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        #expect {
            _ = try LlamaConfig(gguf: file)
        } throws: { error in
            (error as? GGUFError)?.message.contains("architecture \"mamba\"") == true
        }
    }

    @Test func readsTheRealModel() throws {
        let file = try GGUFFile(path: TestModels.smolLMPath)
        let config = try LlamaConfig(gguf: file)
        #expect(config == LlamaConfig(
            layerCount: 30, modelDim: 576, headCount: 9, kvHeadCount: 3, ffnDim: 1536, ropeTheta: 100_000,
            rmsEpsilon: 1e-5, vocabSize: 49152, trainedContextLength: 8192))
        let weights = try LlamaWeights(gguf: file)
        #expect(weights.layers.count == 30)
        #expect(weights.layers[0].query.type == .q4_1)
        #expect(weights.tokenEmbedding.type == .q8_0)
        #expect(weights.output.name == "token_embd.weight")
        let down = try weights.layers[29].down.dequantize()
        #expect(down.count == 576 * 1536)
        #expect(down.allSatisfy { $0.isFinite } && down.contains { $0 != 0 })
    }

    /// Released pages of a mapped tensor read back from the file unchanged; a tensor outside the
    /// mapping (an owned buffer) is left alone rather than zeroed.
    @Test func releasedPagesReadBackUnchanged() throws {
        let file = try GGUFFile(path: TestModels.smolLMPath)
        let tensor = try file.requireTensor("blk.3.ffn_up.weight")
        let before = Array(UnsafeRawBufferPointer(start: tensor.data, count: tensor.byteCount))
        file.releasePages(of: tensor)
        #expect(Array(UnsafeRawBufferPointer(start: tensor.data, count: tensor.byteCount)) == before)

        let owned = UnsafeMutableRawPointer.allocate(byteCount: tensor.byteCount, alignment: 4096)
        defer { owned.deallocate() }
        owned.copyMemory(from: tensor.data, byteCount: tensor.byteCount)
        let copy = GGUFTensor(name: "copy", shape: tensor.shape, type: tensor.type, data: UnsafeRawPointer(owned),
                              byteCount: tensor.byteCount)
        file.releasePages(of: copy)
        #expect(Array(UnsafeRawBufferPointer(start: owned, count: tensor.byteCount)) == before)
    }
}
