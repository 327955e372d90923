import NeuralVNNI

/// A Q4_1 or Q8_0 weight matrix re-laid at load time for NeuralVNNI's interleaved loops: still 4- or
/// 8-bit blocks (no dequantised copy), but each group of 16 rows is stored block by block with the
/// rows side by side, so one 512-bit `vpdpbusd` computes the same lane — four consecutive products of
/// one block — for 16 weight rows at once, and 16 results come out in one register, ready to store.
///
/// Why: llama.cpp's arithmetic (which the decoder reproduces bit for bit) keeps eight float lanes per
/// (weight row, activation row) and block, each converted and fused-multiply-added on its own. In the
/// GGUF layout a 512-bit register holds those eight lanes for only one or two blocks of one row pair,
/// so every block also costs scale broadcasts, half extractions and horizontal sums; with 16 rows per
/// register those vanish and the product runs at the rate of its integer dots and fused multiply-adds.
/// llama.cpp's own CPU back end repacks Q4_0 the same way ("CPU_REPACK") for such loops.
///
/// Layout per group of 16 rows, blocks in order, `bytesPerGroupBlock` each (64-byte aligned):
/// - Q4_1 (320 bytes): for k in 0..<4, 16 dwords: row j's nibble bytes 4k…4k+3 (low nibbles are its
///   elements 4k…4k+3, high nibbles 16+4k…); then the 16 rows' f16 d, then their f16 m.
/// - Q8_0 (576 bytes): for i in 0..<8, 16 dwords: row j's int8 values 4i…4i+3, each plus 128 (so they
///   are unsigned for `vpdpbusd`; the activations carry the −128·Σx correction); then the 16 f16 d, then
///   32 bytes of padding (whole cache lines: no load of a lane's 64 bytes straddles two).
public final class InterleavedQuantMatrix: @unchecked Sendable {
    // @unchecked Sendable: written only by the initialiser, read-only afterwards.

    /// Rows interleaved per group.
    public static let groupRows = 16

    /// Q4_1 or Q8_0.
    public let type: GGMLType
    /// Rows (a multiple of 16) and columns (a multiple of 32) of the matrix.
    public let rows: Int
    public let columns: Int
    /// The re-laid bytes.
    let bytes: UnsafeMutableRawPointer
    let byteCount: Int

    var blocksPerRow: Int { columns / 32 }

    /// Bytes of one block of one group of 16 rows.
    static func bytesPerGroupBlock(_ type: GGMLType) -> Int {
        type == .q4_1 ? VNNIKernels.q4_1GroupBlockBytes : VNNIKernels.q8_0GroupBlockBytes
    }

    /// Whether `tensor` can be re-laid: Q4_1 or Q8_0, rows a multiple of 16.
    public static func canInterleave(_ tensor: GGUFTensor) -> Bool {
        (tensor.type == .q4_1 || tensor.type == .q8_0) && tensor.rows % groupRows == 0 && tensor.columns % 32 == 0
            && tensor.shape.count == 2
    }

    /// Re-lays `tensor`, which must pass `canInterleave`.
    public init(_ tensor: GGUFTensor) {
        precondition(Self.canInterleave(tensor), "\(tensor.name): cannot interleave \(tensor.type) \(tensor.shape)")
        type = tensor.type
        rows = tensor.rows
        columns = tensor.columns
        let nb = columns / 32
        let groups = rows / Self.groupRows
        let blockBytes = Self.bytesPerGroupBlock(type)
        byteCount = groups * nb * blockBytes
        bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let source = tensor.data
        let sourceRowBytes = tensor.rowBytes
        for g in 0..<groups {
            for b in 0..<nb {
                let out = bytes + (g * nb + b) * blockBytes
                for j in 0..<Self.groupRows {
                    let block = source + (g * Self.groupRows + j) * sourceRowBytes + b * type.blockBytes
                    if type == .q4_1 {
                        // GGUF block: f16 d, f16 m, 16 bytes of nibbles.
                        for k in 0..<4 {
                            (out + (k * 16 + j) * 4).copyMemory(from: block + 4 + k * 4, byteCount: 4)
                        }
                        (out + 256 + j * 2).copyMemory(from: block, byteCount: 2)
                        (out + 288 + j * 2).copyMemory(from: block + 2, byteCount: 2)
                    } else {
                        // GGUF block: f16 d, 32 int8.
                        for i in 0..<8 {
                            let dst = (out + (i * 16 + j) * 4).assumingMemoryBound(to: UInt8.self)
                            for e in 0..<4 { dst[e] = block.load(fromByteOffset: 2 + i * 4 + e, as: UInt8.self) ^ 0x80 }
                        }
                        (out + 512 + j * 2).copyMemory(from: block, byteCount: 2)
                    }
                }
            }
        }
    }

    deinit { bytes.deallocate() }
}
