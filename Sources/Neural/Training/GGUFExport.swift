import Foundation

/// Writes a (merged) Llama model as a GGUF v3 file that llama.cpp-family loaders read.
///
/// Tensors use llama.cpp's names (`token_embd.weight`, `blk.{i}.attn_q.weight`, …; the output matrix
/// is tied, so there is no `output.weight`) and GGUF's dimension order (innermost first). Norms stay
/// F32; matrices are written as the chosen type. Query/key rows are written in GGUF order (interleaved
/// RoPE); a model trained on Hugging Face-ordered weights is permuted on the way out.
/// Tokenizer and other metadata are supplied by the caller: `tokenizerMetadata(from:)` copies them from the source GGUF.
public enum GGUFExport {
    /// Tensor storage types (ggml type ids).
    public enum TensorType: UInt32, Sendable, CaseIterable {
        case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8

        /// The `general.file_type` value llama.cpp uses for a file mostly of this type.
        public var fileType: UInt32 {
            switch self {
            case .f32: 0
            case .f16: 1
            case .q4_0: 2
            case .q4_1: 3
            case .q8_0: 7
            }
        }
    }

    /// The architecture keys llama.cpp needs for a Llama model of `config`.
    public static func architectureMetadata(config c: LlamaTrainConfig, contextLength: Int, name: String,
                                            type: TensorType) -> [(String, GGUFValue)] {
        [
            ("general.architecture", .string("llama")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(type.fileType)),
            ("llama.context_length", .uint32(UInt32(contextLength))),
            ("llama.embedding_length", .uint32(UInt32(c.dim))),
            ("llama.block_count", .uint32(UInt32(c.layers))),
            ("llama.feed_forward_length", .uint32(UInt32(c.ffnDim))),
            ("llama.rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("llama.attention.head_count", .uint32(UInt32(c.heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(c.normEps)),
            ("llama.rope.freq_base", .float32(Float(c.ropeTheta))),
            ("llama.vocab_size", .uint32(UInt32(c.vocabSize))),
        ]
    }

    /// Every `tokenizer.*` key of a source GGUF file, in file order (to carry the vocabulary into an export).
    public static func tokenizerMetadata(from file: GGUFFile) -> [(String, GGUFValue)] {
        file.metadataKeys.filter { $0.hasPrefix("tokenizer.") }.map { ($0, file.metadata[$0]!) }
    }

    /// Writes `parameters` to `url`; `metadata` is appended after the architecture keys (a key given
    /// in both wins from `metadata`).
    public static func write(
        _ parameters: LlamaTrainParameters, type: TensorType, contextLength: Int = 8192, name: String = "twin",
        metadata: [(String, GGUFValue)] = [], to url: URL
    ) throws {
        let c = parameters.config
        var kv = architectureMetadata(config: c, contextLength: contextLength, name: name, type: type)
        let overridden = Set(metadata.map(\.0))
        kv.removeAll { overridden.contains($0.0) }
        kv += metadata
        kv.append(("general.alignment", .uint32(32)))

        var tensors: [(name: String, rows: Int, columns: Int, oneD: Bool, type: TensorType, values: [Float])] = []
        func add(_ name: String, _ t: TrainTensor, _ kind: TensorType) throws {
            let rows = t.shape.count == 2 ? t.shape[0] : 1
            let cols = t.shape.last!
            if kind != .f32 && kind != .f16 && cols % 32 != 0 {
                throw TrainingError.invalidInput("gguf export: \(t.name) has \(cols) columns, not a multiple of 32 for \(kind)")
            }
            tensors.append((name, rows, cols, t.shape.count == 1, kind, t.array))
        }
        try add("token_embd.weight", parameters.embedding, type)
        try add("output_norm.weight", parameters.finalNorm, .f32)
        for (i, l) in parameters.layers.enumerated() {
            let p = "blk.\(i)."
            try add(p + "attn_norm.weight", l.attnNorm, .f32)
            try add(p + "attn_q.weight", l.wq, type)
            try add(p + "attn_k.weight", l.wk, type)
            try add(p + "attn_v.weight", l.wv, type)
            try add(p + "attn_output.weight", l.wo, type)
            try add(p + "ffn_norm.weight", l.ffnNorm, .f32)
            try add(p + "ffn_gate.weight", l.wGate, type)
            try add(p + "ffn_up.weight", l.wUp, type)
            try add(p + "ffn_down.weight", l.wDown, type)
        }
        if c.ropeStyle == .halves {
            for k in tensors.indices where tensors[k].name.hasSuffix("attn_q.weight") || tensors[k].name.hasSuffix("attn_k.weight") {
                let heads = tensors[k].name.hasSuffix("attn_q.weight") ? c.heads : c.kvHeads
                tensors[k].values = toGGUFRows(tensors[k].values, heads: heads, headDim: c.headDim, columns: tensors[k].columns)
            }
        }

        var out = GGUFBytes()
        out.raw(UInt32(0x4655_4747))  // "GGUF"
        out.raw(UInt32(3))
        out.raw(UInt64(tensors.count))
        out.raw(UInt64(kv.count))
        for (key, value) in kv {
            out.string(key)
            out.value(value)
        }
        var offset = 0
        var encoded: [[UInt8]] = []
        for t in tensors {
            let bytes = encode(t.values, type: t.type)
            out.string(t.name)
            let dims: [UInt64] = t.oneD ? [UInt64(t.columns)] : [UInt64(t.columns), UInt64(t.rows)]
            out.raw(UInt32(dims.count))
            for d in dims { out.raw(d) }
            out.raw(t.type.rawValue)
            out.raw(UInt64(offset))
            offset += (bytes.count + 31) / 32 * 32
            encoded.append(bytes)
        }
        out.pad(to: 32)
        for bytes in encoded {
            out.bytes += bytes
            out.pad(to: 32)
        }
        do {
            try Data(out.bytes).write(to: url, options: .atomic)
        } catch {
            throw TrainingError.io("gguf export: cannot write \(url.path): \(error)")
        }
    }

    /// Hugging Face row (h, s·hd/2 + i) → GGUF row (h, 2i + s): llama.cpp's conversion permutation.
    public static func toGGUFRows(_ m: [Float], heads: Int, headDim: Int, columns: Int) -> [Float] {
        permuteRoPERows(m, heads: heads, headDim: headDim, columns: columns, toHuggingFace: false)
    }

    /// Encodes row-major values in ggml's block layout for `type`.
    public static func encode(_ x: [Float], type: TensorType) -> [UInt8] {
        var out: [UInt8] = []
        switch type {
        case .f32:
            out.reserveCapacity(x.count * 4)
            for v in x { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .f16:
            out.reserveCapacity(x.count * 2)
            for v in x { appendHalf(v, to: &out) }
        case .q8_0:
            for b in stride(from: 0, to: x.count, by: 32) {
                var amax: Float = 0
                for i in 0..<32 { amax = max(amax, abs(x[b + i])) }
                let d = amax / 127
                let id: Float = d > 0 ? 1 / d : 0
                appendHalf(d, to: &out)
                for i in 0..<32 { out.append(UInt8(bitPattern: Int8((x[b + i] * id).rounded()))) }
            }
        case .q4_0:
            for b in stride(from: 0, to: x.count, by: 32) {
                var amax: Float = 0, signed: Float = 0
                for i in 0..<32 where abs(x[b + i]) > amax {
                    amax = abs(x[b + i])
                    signed = x[b + i]
                }
                let d = signed / -8
                let id: Float = d != 0 ? 1 / d : 0
                appendHalf(d, to: &out)
                for j in 0..<16 {
                    let q0 = UInt8(min(15, Int8(clamping: Int((x[b + j] * id + 8.5).rounded(.down)))))
                    let q1 = UInt8(min(15, Int8(clamping: Int((x[b + j + 16] * id + 8.5).rounded(.down)))))
                    out.append(q0 | (q1 << 4))
                }
            }
        case .q4_1:
            for b in stride(from: 0, to: x.count, by: 32) {
                var lo = x[b], hi = x[b]
                for i in 0..<32 { lo = min(lo, x[b + i]); hi = max(hi, x[b + i]) }
                let d = (hi - lo) / 15
                let id: Float = d != 0 ? 1 / d : 0
                appendHalf(d, to: &out)
                appendHalf(lo, to: &out)
                for j in 0..<16 {
                    let q0 = UInt8(min(15, Int8(clamping: Int(((x[b + j] - lo) * id + 0.5).rounded(.down)))))
                    let q1 = UInt8(min(15, Int8(clamping: Int(((x[b + j + 16] - lo) * id + 0.5).rounded(.down)))))
                    out.append(q0 | (q1 << 4))
                }
            }
        }
        return out
    }

    private static func appendHalf(_ v: Float, to out: inout [UInt8]) {
        let h = Float16(v).bitPattern
        out.append(UInt8(h & 0xFF))
        out.append(UInt8(h >> 8))
    }
}

/// Little-endian GGUF byte builder.
struct GGUFBytes {
    var bytes: [UInt8] = []

    mutating func raw<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ s: String) {
        raw(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func value(_ v: GGUFValue) {
        raw(GGUFBytes.tag(v))
        payload(v)
    }

    /// The on-disk type tag (an empty array is written as an array of uint8).
    static func tag(_ v: GGUFValue) -> UInt32 {
        switch v {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    mutating func payload(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): raw(x)
        case .int8(let x): raw(x)
        case .uint16(let x): raw(x)
        case .int16(let x): raw(x)
        case .uint32(let x): raw(x)
        case .int32(let x): raw(x)
        case .float32(let x): raw(x.bitPattern)
        case .bool(let x): bytes.append(x ? 1 : 0)
        case .string(let x): string(x)
        case .uint64(let x): raw(x)
        case .int64(let x): raw(x)
        case .float64(let x): raw(x.bitPattern)
        case .array(let xs):
            raw(xs.first.map(GGUFBytes.tag) ?? 0)
            raw(UInt64(xs.count))
            for x in xs { payload(x) }
        }
    }
}
