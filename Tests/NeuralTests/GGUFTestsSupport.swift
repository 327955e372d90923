import Foundation
@testable import Neural

/// Builds small GGUF files byte by byte for reader and model tests.
struct GGUFBuilder {
    enum Meta {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String), strings([String]), i32s([Int32])
        case f64(Double), u8(UInt8), i64(Int64)
    }

    var version: UInt32 = 3
    var metadata: [(String, Meta)] = []
    var tensors: [(name: String, shape: [Int], type: UInt32, data: [UInt8])] = []
    var alignment = 32

    private static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    private static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    private static func encode(_ m: Meta) -> [UInt8] {
        switch m {
        case .u8(let v): le(UInt32(0)) + [v]
        case .u32(let v): le(UInt32(4)) + le(v)
        case .i32(let v): le(UInt32(5)) + le(v)
        case .f32(let v): le(UInt32(6)) + le(v.bitPattern)
        case .bool(let v): le(UInt32(7)) + [v ? 1 : 0]
        case .string(let v): le(UInt32(8)) + str(v)
        case .i64(let v): le(UInt32(11)) + le(v)
        case .f64(let v): le(UInt32(12)) + le(v.bitPattern)
        case .strings(let a): le(UInt32(9)) + le(UInt32(8)) + le(UInt64(a.count)) + a.flatMap(str)
        case .i32s(let a): le(UInt32(9)) + le(UInt32(5)) + le(UInt64(a.count)) + a.flatMap { le($0) }
        }
    }

    /// The file bytes: header, metadata, tensor infos, padding, aligned tensor data.
    func bytes() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8) + Self.le(version)
        out += Self.le(UInt64(tensors.count)) + Self.le(UInt64(metadata.count))
        for (k, v) in metadata { out += Self.str(k) + Self.encode(v) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            out += Self.str(t.name) + Self.le(UInt32(t.shape.count))
            for d in t.shape { out += Self.le(UInt64(d)) }
            out += Self.le(t.type) + Self.le(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes `bytes` to a fresh temporary file and returns its path.
    static func write(_ bytes: [UInt8], name: String = "fixture") throws -> String {
        let path = NSTemporaryDirectory() + "twin-\(name)-\(UUID().uuidString).gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func f32Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { le($0.bitPattern) } }
    static func f16Bytes(_ values: [Float]) -> [UInt8] { values.flatMap { le(Quant.floatToHalf($0)) } }
    static func half(_ v: Float) -> [UInt8] { le(Quant.floatToHalf(v)) }
}

/// Where the real model lives for tests: `$TWIN_MODELS_DIR`, else `<package root>/models`.
enum TestModels {
    static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["TWIN_MODELS_DIR"], !dir.isEmpty { return dir }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent("models").path
    }

    static var smolLMPath: String { directory + "/SmolLM2-135M-Instruct.Q4_1.gguf" }

    /// Loads a JSON fixture from `Fixtures/decoder/`.
    static func fixture<T: Decodable>(_ name: String, as: T.Type) throws -> T {
        guard let url = Bundle.module.url(forResource: "Fixtures/decoder/\(name)", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }
}
