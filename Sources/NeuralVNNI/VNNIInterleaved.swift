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
            while t &+ 4 <= count {
                q4_1Quad(wg, nb: nb, end: end, prefetch: t == 0, lookahead: lookahead, x: x + t &* columns, columns: columns,
                         xd: xd + t &* nb, xs: xs + t &* nb, y: y + (t &* ldy &+ g &* 16), ldy: ldy)
                t &+= 4
            }
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

    /// Four activation rows in two passes over the group's blocks: llama.cpp's lanes 0–3 (low nibbles,
    /// with the minima), then lanes 4–7 (high nibbles). Each pass keeps 16 chains in registers, and the
    /// weights' nibble masks and f16 scales serve four rows instead of two (~8 % fewer vector operations
    /// than two pairs); the chains are the same, so the sums are too.
    @inline(__always)
    static func q4_1Quad(
        _ wg: UnsafeRawPointer, nb: Int, end: UnsafeRawPointer, prefetch: Bool, lookahead: Int, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let x1 = x + columns, x2 = x1 + columns, x3 = x2 + columns
        let nb2 = nb &* 2, nb3 = nb &* 3
        // Pass 1: lanes 0–3 and the minima.
        var a = Quarter(), b = Quarter(), c = Quarter(), d = Quarter()
        var ma = Vec.zero, mb = Vec.zero, mc = Vec.zero, md = Vec.zero
        let low = _mm512_set1_epi8(0x0f)
        for k in 0..<nb {
            let p = wg + k &* q4_1GroupBlockBytes
            if prefetch { prefetchAhead(p, lines: 5, lookahead: lookahead, end: end) }
            let dw = halves(p + 256), mw = halves(p + 288)
            let sa = dw * Vec(repeating: xd[k]), sb = dw * Vec(repeating: xd[nb &+ k])
            let sc = dw * Vec(repeating: xd[nb2 &+ k]), sd = dw * Vec(repeating: xd[nb3 &+ k])
            ma = fma(mw, Vec(repeating: xs[k]), ma)
            mb = fma(mw, Vec(repeating: xs[nb &+ k]), mb)
            mc = fma(mw, Vec(repeating: xs[nb2 &+ k]), mc)
            md = fma(mw, Vec(repeating: xs[nb3 &+ k]), md)
            let o = k &* 32
            @inline(__always) func lane(_ i: Int, _ la: inout Vec, _ lb: inout Vec, _ lc: inout Vec, _ ld: inout Vec) {
                let wl = _mm512_and_si512(load(p + i &* 64), low)
                let e = o &+ i &* 4
                la = fma(sa, dot(wl, x + e), la)
                lb = fma(sb, dot(wl, x1 + e), lb)
                lc = fma(sc, dot(wl, x2 + e), lc)
                ld = fma(sd, dot(wl, x3 + e), ld)
            }
            lane(0, &a.l0, &b.l0, &c.l0, &d.l0)
            lane(1, &a.l1, &b.l1, &c.l1, &d.l1)
            lane(2, &a.l2, &b.l2, &c.l2, &d.l2)
            lane(3, &a.l3, &b.l3, &c.l3, &d.l3)
        }
        // Pass 2: lanes 4–7 (high nibbles in place, scales divided by 16; see the type's comment).
        var ha = Quarter(), hb = Quarter(), hc = Quarter(), hd = Quarter()
        let high = _mm512_set1_epi8(-16)
        for k in 0..<nb {
            let p = wg + k &* q4_1GroupBlockBytes
            let dw16 = halves(p + 256) * Vec(repeating: 0.0625)
            let sa = dw16 * Vec(repeating: xd[k]), sb = dw16 * Vec(repeating: xd[nb &+ k])
            let sc = dw16 * Vec(repeating: xd[nb2 &+ k]), sd = dw16 * Vec(repeating: xd[nb3 &+ k])
            let o = k &* 32 &+ 16
            @inline(__always) func lane(_ i: Int, _ la: inout Vec, _ lb: inout Vec, _ lc: inout Vec, _ ld: inout Vec) {
                let wh = _mm512_and_si512(load(p + i &* 64), high)
                let e = o &+ i &* 4
                la = fma(sa, dot(wh, x + e), la)
                lb = fma(sb, dot(wh, x1 + e), lb)
                lc = fma(sc, dot(wh, x2 + e), lc)
                ld = fma(sd, dot(wh, x3 + e), ld)
            }
            lane(0, &ha.l0, &hb.l0, &hc.l0, &hd.l0)
            lane(1, &ha.l1, &hb.l1, &hc.l1, &hd.l1)
            lane(2, &ha.l2, &hb.l2, &hc.l2, &hd.l2)
            lane(3, &ha.l3, &hb.l3, &hc.l3, &hd.l3)
        }
        store(Chains(low: a, high: ha).sum() + ma, y)
        store(Chains(low: b, high: hb).sum() + mb, y + ldy)
        store(Chains(low: c, high: hc).sum() + mc, y + 2 &* ldy)
        store(Chains(low: d, high: hd).sum() + md, y + 3 &* ldy)
    }

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

        init() {}

        /// Chains 0–3 from `low`, 4–7 from `high`.
        @inline(__always)
        init(low: Quarter, high: Quarter) {
            l0 = low.l0; l1 = low.l1; l2 = low.l2; l3 = low.l3
            l4 = high.l0; l5 = high.l1; l6 = high.l2; l7 = high.l3
        }

        /// llama.cpp's `hsum_float_8` per weight row: (l4+l0) + (l6+l2), (l5+l1) + (l7+l3), then their sum.
        @inline(__always)
        func sum() -> Vec {
            let s0 = l4 + l0, s1 = l5 + l1, s2 = l6 + l2, s3 = l7 + l3
            return (s0 + s2) + (s1 + s3)
        }
    }

    /// Four of an activation row's eight chains (lanes 0–3 or 4–7), for the two-pass loops.
    struct Quarter {
        var l0 = Vec.zero, l1 = Vec.zero, l2 = Vec.zero, l3 = Vec.zero
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
