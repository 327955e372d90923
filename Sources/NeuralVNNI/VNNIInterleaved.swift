#if NEURAL_VNNI
import _Builtin_intrinsics.intel
import CPrefetch
#endif

/// The decoder's quantised matrix products on weights interleaved 16 rows at a time (Neural's
/// `InterleavedQuantMatrix` describes the layout): lane j of every 512-bit register belongs to weight
/// row j of the group, so one `vpdpbusd` gives one of llama.cpp's eight integer lanes (four products) of
/// a block for 16 rows, and the float work — conversion, fused multiply-add with d_w·d_x, the
/// `hsum_float_8` reduction, the Q4_1 minima — is done for 16 rows per instruction.
///
/// Bit-identical to the GGUF-layout loops (Neural's `QuantBlockDot`, llama.cpp's x86 `vec_dot_q4_1_q8_1`
/// and `vec_dot_q8_0_q8_0`): every (weight row, activation row) keeps its eight float chains in block
/// order, the same products, the same reduction order. Two integer tricks keep it exact:
/// - Q4_1 high nibbles are used in place (`w & 0xF0` = 16·nibble): the lane sum is exactly 16 times
///   larger and is multiplied by (d_w/16)·d_x, the same real number, so the fused multiply-add rounds to
///   the same float (dividing by 16 is exact: scales are far from the subnormal range).
/// - Q8_0 weights are stored plus 128 (unsigned for `vpdpbusd`); each lane's dot starts from
///   −128·(x₀+x₁+x₂+x₃), precomputed per activation lane, so the integer is exactly Σ w·x.
///
/// Activation rows are taken two at a time (16 float chains + 2 minima chains fill the registers;
/// the group's weights are read from L1 again for each pair), one at a time for an odd last row.
/// Like every function in this module these run only after `VNNIKernels.isCompiled` and the CPU check.
extension VNNIKernels {
    /// Bytes per (16-row group, block): Q4_1 320 (five cache lines), Q8_0 576 (nine, 32 bytes padding).
    public static let q4_1GroupBlockBytes = 320
    public static let q8_0GroupBlockBytes = 576

    #if NEURAL_VNNI
    /// y[t·ldy + 16g + j] for activation rows t in 0..<count, groups g in `groups`, j in 0..<16.
    /// `x` holds `count` rows of int8 (stride `columns`), `xd`/`xs` their block scales (stride nb).
    public static func q4_1Interleaved(
        _ w: UnsafeRawPointer, nb: Int, groups: Range<Int>, end: UnsafeRawPointer,
        x: UnsafeRawPointer, columns: Int, xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, count: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let groupBytes = nb &* q4_1GroupBlockBytes
        let lookahead = groupBytes &* l2GroupsAhead
        for g in groups {
            let wg = w + g &* groupBytes
            var t = 0
            while t &+ 2 <= count {
                q4_1Pair(wg, nb: nb, end: end, prefetch: t == 0, lookahead: lookahead, x: x + t &* columns, columns: columns,
                         xd: xd + t &* nb, xs: xs + t &* nb, y: y + (t &* ldy &+ g &* 16), ldy: ldy)
                t &+= 2
            }
            if t < count {
                q4_1One(wg, nb: nb, end: end, prefetch: t == 0, lookahead: lookahead, x: x + t &* columns, xd: xd + t &* nb,
                        xs: xs + t &* nb, y: y + (t &* ldy &+ g &* 16))
            }
        }
    }

    /// As `q4_1Interleaved` for Q8_0 weights; `xc` holds −128·Σ of each activation lane's four values,
    /// [row][block][8] (stride nb·8).
    public static func q8_0Interleaved(
        _ w: UnsafeRawPointer, nb: Int, groups: Range<Int>, end: UnsafeRawPointer,
        x: UnsafeRawPointer, columns: Int, xd: UnsafePointer<Float>, xc: UnsafePointer<Int32>, count: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let groupBytes = nb &* q8_0GroupBlockBytes
        let lookahead = groupBytes &* l2GroupsAhead
        for g in groups {
            let wg = w + g &* groupBytes
            var t = 0
            while t &+ 2 <= count {
                q8_0Pair(wg, nb: nb, end: end, prefetch: t == 0, lookahead: lookahead, x: x + t &* columns, columns: columns,
                         xd: xd + t &* nb, xc: xc + t &* nb &* 8, y: y + (t &* ldy &+ g &* 16), ldy: ldy)
                t &+= 2
            }
            if t < count {
                q8_0One(wg, nb: nb, end: end, prefetch: t == 0, lookahead: lookahead, x: x + t &* columns, xd: xd + t &* nb,
                        xc: xc + t &* nb &* 8, y: y + (t &* ldy &+ g &* 16))
            }
        }
    }

    // MARK: Q4_1

    @inline(__always)
    static func q4_1Pair(
        _ wg: UnsafeRawPointer, nb: Int, end: UnsafeRawPointer, prefetch: Bool, lookahead: Int, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        var a = Chains(), c = Chains()
        var ma = Vec.zero, mc = Vec.zero
        let x1 = x + columns
        let low = _mm512_set1_epi8(0x0f), high = _mm512_set1_epi8(-16)
        for b in 0..<nb {
            let p = wg + b &* q4_1GroupBlockBytes
            if prefetch { prefetchAhead(p, lines: 5, lookahead: lookahead, end: end) }
            let dw = halves(p + 256), mw = halves(p + 288)
            let dw16 = dw * Vec(repeating: 0.0625)
            let sa = dw * Vec(repeating: xd[b]), sc = dw * Vec(repeating: xd[nb &+ b])
            let sa16 = dw16 * Vec(repeating: xd[b]), sc16 = dw16 * Vec(repeating: xd[nb &+ b])
            ma = fma(mw, Vec(repeating: xs[b]), ma)
            mc = fma(mw, Vec(repeating: xs[nb &+ b]), mc)
            let xa = x + b &* 32, xc = x1 + b &* 32
            @inline(__always) func lanePair(_ k: Int, _ lo: inout Vec, _ hi: inout Vec, _ lo2: inout Vec, _ hi2: inout Vec) {
                let packed = load(p + k &* 64)
                let wl = _mm512_and_si512(packed, low), wh = _mm512_and_si512(packed, high)
                lo = fma(sa, dot(wl, xa + k &* 4), lo)
                hi = fma(sa16, dot(wh, xa + (16 &+ k &* 4)), hi)
                lo2 = fma(sc, dot(wl, xc + k &* 4), lo2)
                hi2 = fma(sc16, dot(wh, xc + (16 &+ k &* 4)), hi2)
            }
            lanePair(0, &a.l0, &a.l4, &c.l0, &c.l4)
            lanePair(1, &a.l1, &a.l5, &c.l1, &c.l5)
            lanePair(2, &a.l2, &a.l6, &c.l2, &c.l6)
            lanePair(3, &a.l3, &a.l7, &c.l3, &c.l7)
        }
        store(a.sum() + ma, y)
        store(c.sum() + mc, y + ldy)
    }

    @inline(__always)
    static func q4_1One(
        _ wg: UnsafeRawPointer, nb: Int, end: UnsafeRawPointer, prefetch: Bool, lookahead: Int, x: UnsafeRawPointer,
        xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        var a = Chains()
        var ma = Vec.zero
        let low = _mm512_set1_epi8(0x0f), high = _mm512_set1_epi8(-16)
        for b in 0..<nb {
            let p = wg + b &* q4_1GroupBlockBytes
            if prefetch { prefetchAhead(p, lines: 5, lookahead: lookahead, end: end) }
            let dw = halves(p + 256), mw = halves(p + 288)
            let sa = dw * Vec(repeating: xd[b])
            let sa16 = (dw * Vec(repeating: 0.0625)) * Vec(repeating: xd[b])
            ma = fma(mw, Vec(repeating: xs[b]), ma)
            let xa = x + b &* 32
            @inline(__always) func lanes(_ k: Int, _ lo: inout Vec, _ hi: inout Vec) {
                let packed = load(p + k &* 64)
                lo = fma(sa, dot(_mm512_and_si512(packed, low), xa + k &* 4), lo)
                hi = fma(sa16, dot(_mm512_and_si512(packed, high), xa + (16 &+ k &* 4)), hi)
            }
            lanes(0, &a.l0, &a.l4)
            lanes(1, &a.l1, &a.l5)
            lanes(2, &a.l2, &a.l6)
            lanes(3, &a.l3, &a.l7)
        }
        store(a.sum() + ma, y)
    }

    // MARK: Q8_0

    @inline(__always)
    static func q8_0Pair(
        _ wg: UnsafeRawPointer, nb: Int, end: UnsafeRawPointer, prefetch: Bool, lookahead: Int, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, xc: UnsafePointer<Int32>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        var a = Chains(), c = Chains()
        let x1 = x + columns
        let xc1 = xc + nb &* 8
        for b in 0..<nb {
            let p = wg + b &* q8_0GroupBlockBytes
            if prefetch { prefetchAhead(p, lines: 9, lookahead: lookahead, end: end) }
            let dw = halves(p + 512)
            let sa = dw * Vec(repeating: xd[b]), sc = dw * Vec(repeating: xd[nb &+ b])
            let xa = x + b &* 32, xb = x1 + b &* 32
            let ca = xc + b &* 8, cb = xc1 + b &* 8
            @inline(__always) func lane(_ i: Int, _ acc: inout Vec, _ acc2: inout Vec) {
                let wv = load(p + i &* 64)
                acc = fma(sa, dot(wv, xa + i &* 4, from: ca[i]), acc)
                acc2 = fma(sc, dot(wv, xb + i &* 4, from: cb[i]), acc2)
            }
            lane(0, &a.l0, &c.l0); lane(1, &a.l1, &c.l1); lane(2, &a.l2, &c.l2); lane(3, &a.l3, &c.l3)
            lane(4, &a.l4, &c.l4); lane(5, &a.l5, &c.l5); lane(6, &a.l6, &c.l6); lane(7, &a.l7, &c.l7)
        }
        store(a.sum(), y)
        store(c.sum(), y + ldy)
    }

    @inline(__always)
    static func q8_0One(
        _ wg: UnsafeRawPointer, nb: Int, end: UnsafeRawPointer, prefetch: Bool, lookahead: Int, x: UnsafeRawPointer,
        xd: UnsafePointer<Float>, xc: UnsafePointer<Int32>, y: UnsafeMutablePointer<Float>
    ) {
        var a = Chains()
        for b in 0..<nb {
            let p = wg + b &* q8_0GroupBlockBytes
            if prefetch { prefetchAhead(p, lines: 9, lookahead: lookahead, end: end) }
            let sa = halves(p + 512) * Vec(repeating: xd[b])
            let xa = x + b &* 32
            let ca = xc + b &* 8
            @inline(__always) func lane(_ i: Int, _ acc: inout Vec) {
                acc = fma(sa, dot(load(p + i &* 64), xa + i &* 4, from: ca[i]), acc)
            }
            lane(0, &a.l0); lane(1, &a.l1); lane(2, &a.l2); lane(3, &a.l3)
            lane(4, &a.l4); lane(5, &a.l5); lane(6, &a.l6); lane(7, &a.l7)
        }
        store(a.sum(), y)
    }

    // MARK: lane arithmetic

    typealias Vec = SIMD16<Float>

    /// The eight float chains of one activation row for 16 weight rows (chain i: llama.cpp's lane i).
    struct Chains {
        var l0 = Vec.zero, l1 = Vec.zero, l2 = Vec.zero, l3 = Vec.zero
        var l4 = Vec.zero, l5 = Vec.zero, l6 = Vec.zero, l7 = Vec.zero

        /// llama.cpp's `hsum_float_8` per weight row: (l4+l0) + (l6+l2), (l5+l1) + (l7+l3), then their sum.
        @inline(__always)
        func sum() -> Vec {
            let s0 = l4 + l0, s1 = l5 + l1, s2 = l6 + l2, s3 = l7 + l3
            return (s0 + s2) + (s1 + s3)
        }
    }

    /// Per lane j: Σ of the four products w[j][0…3]·x[0…3] (`x` one dword of activations, broadcast),
    /// plus `start`, as floats.
    @inline(__always)
    static func dot(_ w: __m512i, _ x: UnsafeRawPointer, from start: Int32 = 0) -> Vec {
        let xv = _mm512_set1_epi32(x.loadUnaligned(as: Int32.self))
        let sums = _mm512_maskz_dpbusd_epi32(0xffff, _mm512_set1_epi32(start), w, xv)
        return unsafeBitCast(_mm512_cvtepi32_ps(sums), to: Vec.self)
    }

    @inline(__always)
    static func fma(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec {
        unsafeBitCast(_mm512_fmadd_ps(unsafeBitCast(a, to: __m512.self), unsafeBitCast(b, to: __m512.self),
                                      unsafeBitCast(c, to: __m512.self)), to: Vec.self)
    }

    @inline(__always)
    static func load(_ p: UnsafeRawPointer) -> __m512i {
        unsafeBitCast(p.loadUnaligned(as: SIMD64<Int8>.self), to: __m512i.self)
    }

    /// 16 f16 values as floats (one conversion).
    @inline(__always)
    static func halves(_ p: UnsafeRawPointer) -> Vec {
        unsafeBitCast(_mm512_cvtph_ps(unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt16>.self), to: __m256i.self)), to: Vec.self)
    }

    @inline(__always)
    static func store(_ v: Vec, _ y: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(y).storeBytes(of: v, as: Vec.self)
    }

    /// Groups of 16 rows ahead of the first pass that `prefetchAhead` brings into L2. With several
    /// activation rows the first pass over a group also computes, so the L1 prefetch alone (a few
    /// blocks ahead) left it waiting on DRAM: single-thread 8-row products over the model's matrices
    /// ran 20 % (layers) and 58 % (the Q8_0 output head) slower than on L2-resident weights. Three
    /// groups ahead (17–46 KiB) brought that to 13 % and 12 %; 2, 4 and 6 measured the same.
    static let l2GroupsAhead = 3

    /// Prefetches the `lines` cache lines `prefetchDistance` bytes past `p` into L1 and those
    /// `lookahead` bytes past it into L2 (the weights are one stream, ending at `end`).
    @inline(__always)
    static func prefetchAhead(_ p: UnsafeRawPointer, lines: Int, lookahead: Int, end: UnsafeRawPointer) {
        let near = p + prefetchDistance, far = p + lookahead
        if near < end {
            for l in 0..<lines { twin_prefetch(near + l &* 64) }
        }
        if far < end {
            for l in 0..<lines { twin_prefetch_l2(far + l &* 64) }
        }
    }
    #else
    public static func q4_1Interleaved(
        _ w: UnsafeRawPointer, nb: Int, groups: Range<Int>, end: UnsafeRawPointer,
        x: UnsafeRawPointer, columns: Int, xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, count: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }
    public static func q8_0Interleaved(
        _ w: UnsafeRawPointer, nb: Int, groups: Range<Int>, end: UnsafeRawPointer,
        x: UnsafeRawPointer, columns: Int, xd: UnsafePointer<Float>, xc: UnsafePointer<Int32>, count: Int,
        y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }
    #endif
}
