/// One tensor of a mapped GGUF file: name, shape, element type and a pointer to its bytes.
///
/// `shape` is in ggml order: `shape[0]` is the innermost (contiguous) dimension. A 2-D weight with
/// `shape == [in, out]` is stored as `out` rows of `in` elements, i.e. a row-major `[out, in]` matrix, the
/// layout of PyTorch `Linear` weights. The pointer is valid while the owning `GGUFFile` lives.
public struct GGUFTensor: @unchecked Sendable {
    // @unchecked Sendable: `data` points into a read-only mapping that is never written.

    /// The tensor name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions, innermost first (ggml `ne`).
    public let shape: [Int]
    /// Element type (F32, F16 or a block quantisation).
    public let type: GGMLType
    /// First byte of the tensor data inside the mapping.
    public let data: UnsafeRawPointer
    /// Size of the tensor data in bytes.
    public let byteCount: Int

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Elements per row (`shape[0]`).
    public var columns: Int { shape[0] }
    /// Number of rows (product of the outer dimensions).
    public var rows: Int { elementCount / shape[0] }
    /// Bytes per row.
    public var rowBytes: Int { columns / type.blockSize * type.blockBytes }

    /// Throws unless this code can dequantise the tensor's type.
    public func requireSupportedType() throws(GGUFError) {
        guard type.isSupported else {
            throw .unsupportedType(
                "tensor \(name) uses \(type); supported types are F32, F16, Q4_0, Q4_1 and Q8_0")
        }
    }

    /// All elements as `Float`, row-major with `shape[0]` innermost.
    public func dequantize() throws(GGUFError) -> [Float] {
        try requireSupportedType()
        return [Float](unsafeUninitializedCapacity: elementCount) { buffer, initialized in
            Quant.dequantize(type, from: data, count: elementCount, into: buffer.baseAddress!)
            initialized = elementCount
        }
    }

    /// Dequantises rows `range` into `out`, which must hold `range.count * columns` floats.
    public func dequantizeRows(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws(GGUFError) {
        try requireSupportedType()
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) outside 0..<\(rows)")
        Quant.dequantize(type, from: data + range.lowerBound * rowBytes, count: range.count * columns, into: out)
    }
}
