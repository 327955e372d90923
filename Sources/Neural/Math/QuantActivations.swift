/// Rows of activations quantised to 8 bits in blocks of 32, the way llama.cpp quantises the right-hand
/// side of a quantised matrix product (`Q8_0` / `Q8_1`): d = max|x| / 127 (kept at half precision),
/// q = round(x / d), s = d · Σq (half precision). Q4_1 weights use s; Q8_0 and Q4_0 weights do not.
///
/// Buffers are allocated once for `capacity` rows of `columns` and reused for every step.
public final class QuantActivations: @unchecked Sendable {
    // @unchecked Sendable: owned by one model context; kernels only read it while it is not written.

    /// Values per row (a multiple of 32).
    public let columns: Int
    /// The most rows the buffers hold.
    public let capacity: Int
    /// Rows currently quantised.
    public private(set) var rows = 0
    let q: UnsafeMutablePointer<Int8>
    let d: UnsafeMutablePointer<Float>
    let s: UnsafeMutablePointer<Float>
    /// −128 · (q[4i] + … + q[4i+3]) for each block's eight lanes i, [row][block][8]: the correction that
    /// makes the interleaved Q8_0 loops' unsigned (w + 128) dots exact (`VNNIKernels.q8_0Interleaved`).
    let laneCorrection: UnsafeMutablePointer<Int32>

    var blocksPerRow: Int { columns / 32 }

    /// Buffers for up to `capacity` rows of `columns` values.
    public init(columns: Int, capacity: Int) {
        precondition(columns % 32 == 0, "columns must be a multiple of 32")
        self.columns = columns
        self.capacity = capacity
        q = .allocate(capacity: columns * capacity)
        d = .allocate(capacity: columns / 32 * capacity)
        s = .allocate(capacity: columns / 32 * capacity)
        laneCorrection = .allocate(capacity: columns / 32 * 8 * capacity)
    }

    deinit {
        q.deallocate()
        d.deallocate()
        s.deallocate()
        laneCorrection.deallocate()
    }

    /// Quantises `rows` rows of `columns` floats starting at `x` (row stride `columns`).
    public func quantize(_ x: UnsafePointer<Float>, rows: Int) {
        precondition(rows <= capacity)
        self.rows = rows
        let nb = blocksPerRow
        for b in 0..<(rows &* nb) {
            let src = x + b &* 32
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(src[j])) }
            let dv = amax / 127
            let id: Float = amax != 0 ? 127 / amax : 0
            let dst = q + b &* 32
            var sum: Int32 = 0
            for j in 0..<32 {
                let v = Int32((src[j] * id).rounded(.toNearestOrEven))
                dst[j] = Int8(truncatingIfNeeded: v)
                sum &+= v
            }
            d[b] = Quant.roundToHalf(dv)
            s[b] = Quant.roundToHalf(dv * Float(sum))
            let lanes = laneCorrection + b &* 8
            for i in 0..<8 {
                let v = dst + i &* 4
                lanes[i] = -128 &* (Int32(v[0]) &+ Int32(v[1]) &+ Int32(v[2]) &+ Int32(v[3]))
            }
        }
    }
}

extension QuantActivations {
    /// Writes the quantised rows back as floats (q·d), so an f32 sgemm sees exactly the activations the
    /// integer kernels see: dequantised weights times these values is llama.cpp's quantised product.
    func dequantize(into out: UnsafeMutablePointer<Float>) {
        for b in 0..<(rows &* blocksPerRow) {
            let scale = d[b]
            let src = q + b &* 32
            let dst = out + b &* 32
            for j in 0..<32 { dst[j] = Float(src[j]) * scale }
        }
    }
}

extension Quant {
    /// `f` rounded to the nearest half-precision value (as llama.cpp stores block scales).
    @inline(__always)
    static func roundToHalf(_ f: Float) -> Float { halfToFloat(floatToHalf(f)) }

    /// Every half-precision bit pattern as a Float: one load instead of a branchy conversion in kernels.
    // nonisolated(unsafe): written once by the lazy initialiser, read-only afterwards.
    nonisolated(unsafe) static let halfTable: UnsafeMutablePointer<Float> = {
        let table = UnsafeMutablePointer<Float>.allocate(capacity: 65536)
        for i in 0..<65536 { table[i] = halfToFloat(UInt16(i)) }
        return table
    }()
}
