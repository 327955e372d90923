#if NEURAL_AVX2
import _Builtin_intrinsics.intel
#endif

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
        setRows(rows)
        quantizeRows(x, 0..<rows)
    }

    /// Declares that the next product reads `rows` rows, which `quantizeRows` then fills; the decoder
    /// quantises the rows of a batch from several threads at once (disjoint ranges).
    func setRows(_ rows: Int) {
        precondition(rows <= capacity, "\(rows) rows, capacity \(capacity)")
        self.rows = rows
    }

    /// Quantises rows `range` of the batch whose row 0 starts at `x` (row stride `columns`).
    func quantizeRows(_ x: UnsafePointer<Float>, _ range: Range<Int>) {
        let nb = blocksPerRow
        for b in (range.lowerBound &* nb)..<(range.upperBound &* nb) {
            quantizeBlock(b, x + b &* 32)
        }
    }

    /// Block `b` from the 32 floats at `src`: llama.cpp's `quantize_row_q8_1` (x86 build): d = amax / 127,
    /// q = round-to-nearest-even(x · (127 / amax)), s = d · Σq, d and s rounded to half precision.
    @inline(__always)
    private func quantizeBlock(_ b: Int, _ src: UnsafePointer<Float>) {
        #if NEURAL_AVX2
        // The same arithmetic eight lanes at a time (cvtps rounds to nearest even, as llama.cpp's
        // round_ps does); the block's lane sums come from the packed bytes (maddubs + madd by ones).
        let r = UnsafeRawPointer(src)
        @inline(__always) func load(_ i: Int) -> __m256 {
            unsafeBitCast(r.loadUnaligned(fromByteOffset: i &* 32, as: SIMD8<Float>.self), to: __m256.self)
        }
        let v0 = load(0), v1 = load(1), v2 = load(2), v3 = load(3)
        let sign = _mm256_set1_ps(-0.0)
        let m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                              _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)))
        let mv = unsafeBitCast(m, to: SIMD8<Float>.self)
        let m4 = _mm_max_ps(unsafeBitCast(mv.lowHalf, to: __m128.self), unsafeBitCast(mv.highHalf, to: __m128.self))
        let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4))
        let amax = _mm_cvtss_f32(_mm_max_ss(m2, _mm_movehdup_ps(m2)))
        let dv = amax / 127
        let mul = _mm256_set1_ps(amax != 0 ? 127 / amax : 0)
        let i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, mul)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, mul))
        let i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, mul)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, mul))
        // packs interleave 128-bit halves; the permutation restores element order.
        let packed = _mm256_permutevar8x32_epi32(
            _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3)),
            _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
        UnsafeMutableRawPointer(q + b &* 32).storeBytes(of: unsafeBitCast(packed, to: SIMD32<Int8>.self), as: SIMD32<Int8>.self)
        let lanes = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), packed), _mm256_set1_epi16(1))
        let lv = unsafeBitCast(lanes, to: SIMD8<Int32>.self)
        let s4 = _mm_add_epi32(unsafeBitCast(lv.lowHalf, to: __m128i.self), unsafeBitCast(lv.highHalf, to: __m128i.self))
        let s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4))
        let sum = _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_srli_epi64(s2, 32)))
        UnsafeMutableRawPointer(laneCorrection + b &* 8).storeBytes(
            of: unsafeBitCast(_mm256_mullo_epi32(lanes, _mm256_set1_epi32(-128)), to: SIMD8<Int32>.self), as: SIMD8<Int32>.self)
        // F16C conversions (round to nearest even, like `Quant.roundToHalf`).
        d[b] = Float(Float16(dv))
        s[b] = Float(Float16(dv * Float(sum)))
        #else
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
        let lanes = laneCorrection + b &* 8
        for i in 0..<8 {
            let v = dst + i &* 4
            lanes[i] = -128 &* (Int32(v[0]) &+ Int32(v[1]) &+ Int32(v[2]) &+ Int32(v[3]))
        }
        d[b] = Quant.roundToHalf(dv)
        s[b] = Quant.roundToHalf(dv * Float(sum))
        #endif
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
