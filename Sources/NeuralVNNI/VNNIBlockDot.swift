#if NEURAL_VNNI
import _Builtin_intrinsics.intel
import CPrefetch
#endif

/// The decoder's quantised dot-product loops for CPUs with AVX-512 VNNI (+VL): the four int8 products of a
/// lane are summed by one `vpdpbusd`, as in llama.cpp's build for such CPUs, instead of AVX2's
/// `maddubs` + `madd`. Both give the same 32-bit integers (no intermediate can saturate: weights are
/// 0…15 for Q4_1 and |w|, |x| ≤ 127 for Q8_0), so results are bit-identical to the AVX2 loops in
/// Neural's `QuantBlockDot`, float operations included (same order, same fused multiply-adds).
///
/// This module is compiled for a VNNI-capable CPU (Package.swift: `-target-cpu cascadelake`, the
/// earliest such target) and must only be called after `VNNIKernels.isSupported` returned true; Neural
/// dispatches to it at run time and otherwise keeps its AVX2 loops. It sees raw block memory only:
/// - Q4_1 block: f16 d, f16 m, 16 bytes of nibbles (20 bytes); Q8_0 block: f16 d, 32 int8 (34 bytes);
/// - activations: 32 int8 per block (`x`, row stride `columns`), f32 scales `xd` and `xs` per block
///   (row stride `nb`); outputs y[t·ldy + r].
public enum VNNIKernels {
    /// Whether this build carries the VNNI loops (Linux release builds; elsewhere the entry points trap).
    public static var isCompiled: Bool {
        #if NEURAL_VNNI
        return true
        #else
        return false
        #endif
    }

    #if NEURAL_VNNI
    /// Q4_1 rows × one activation row, four weight rows at a time (four independent accumulator chains).
    public static func q4_1Single(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, xd: UnsafePointer<Float>,
        xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) {
        let rowBytes = nb &* 20
        var r = rows.lowerBound
        let end = base + rows.upperBound &* rowBytes
        while r &+ 4 <= rows.upperBound {
            let row0 = base + r &* rowBytes
            var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
            var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
            // The four rows are one contiguous stretch of 80 bytes per block: prefetch the stretch
            // `prefetchDistance` bytes ahead, 40 bytes per half block (every cache line at least once).
            let ahead = row0 + prefetchDistance
            for b in 0..<nb {
                let p = ahead + b &* 80
                if p < end {
                    twin_prefetch(p)
                    twin_prefetch(p + 40)
                }
                let xv = load32(x + b &* 32)
                let dx = xd[b], sx = xs[b]
                let p0 = row0 + b &* 20
                let p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes
                a0 = fma(SIMD8(repeating: half(p0) * dx), unsignedBySigned(nibbles(p0 + 4), xv), a0)
                a1 = fma(SIMD8(repeating: half(p1) * dx), unsignedBySigned(nibbles(p1 + 4), xv), a1)
                a2 = fma(SIMD8(repeating: half(p2) * dx), unsignedBySigned(nibbles(p2 + 4), xv), a2)
                a3 = fma(SIMD8(repeating: half(p3) * dx), unsignedBySigned(nibbles(p3 + 4), xv), a3)
                m0 = m0.addingProduct(half(p0 + 2), sx)
                m1 = m1.addingProduct(half(p1 + 2), sx)
                m2 = m2.addingProduct(half(p2 + 2), sx)
                m3 = m3.addingProduct(half(p3 + 2), sx)
            }
            y[r] = hsum(a0) + m0
            y[r &+ 1] = hsum(a1) + m1
            y[r &+ 2] = hsum(a2) + m2
            y[r &+ 3] = hsum(a3) + m3
            r &+= 4
        }
        while r < rows.upperBound {
            let row = base + r &* rowBytes
            var a = SIMD8<Float>.zero
            var m: Float = 0
            for b in 0..<nb {
                let p = row + b &* 20
                a = fma(SIMD8(repeating: half(p) * xd[b]), unsignedBySigned(nibbles(p + 4), load32(x + b &* 32)), a)
                m = m.addingProduct(half(p + 2), xs[b])
            }
            y[r] = hsum(a) + m
            r &+= 1
        }
    }

    /// Q4_1 rows × four activation rows: each weight block decoded once for the four.
    public static func q4_1Quad(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let rowBytes = nb &* 20
        for r in rows {
            let row = base + r &* rowBytes
            var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
            var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
            for b in 0..<nb {
                let p = row + b &* 20
                let dw = half(p), mw = half(p + 2)
                let w = nibbles(p + 4)
                let xb = x + b &* 32
                a0 = fma(SIMD8(repeating: dw * xd[b]), unsignedBySigned(w, load32(xb)), a0)
                a1 = fma(SIMD8(repeating: dw * xd[nb &+ b]), unsignedBySigned(w, load32(xb + columns)), a1)
                a2 = fma(SIMD8(repeating: dw * xd[2 &* nb &+ b]), unsignedBySigned(w, load32(xb + 2 &* columns)), a2)
                a3 = fma(SIMD8(repeating: dw * xd[3 &* nb &+ b]), unsignedBySigned(w, load32(xb + 3 &* columns)), a3)
                m0 = m0.addingProduct(mw, xs[b])
                m1 = m1.addingProduct(mw, xs[nb &+ b])
                m2 = m2.addingProduct(mw, xs[2 &* nb &+ b])
                m3 = m3.addingProduct(mw, xs[3 &* nb &+ b])
            }
            y[r] = hsum(a0) + m0
            y[ldy &+ r] = hsum(a1) + m1
            y[2 &* ldy &+ r] = hsum(a2) + m2
            y[3 &* ldy &+ r] = hsum(a3) + m3
        }
    }

    /// Q4_1 rows × eight activation rows: each weight block decoded once for the eight; the eight rows'
    /// scales d_w·d_x come from one multiply and their minima m_w·s_x from one fused multiply-add on
    /// transposed activation scales (`xdT`, `xsT`: [block][8]), lane t being row t's own chain.
    public static func q4_1Oct(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xdT: UnsafePointer<Float>, xsT: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let rowBytes = nb &* 20
        do {
            for r in rows {
                let row = base + r &* rowBytes
                var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
                var a4 = SIMD8<Float>.zero, a5 = SIMD8<Float>.zero, a6 = SIMD8<Float>.zero, a7 = SIMD8<Float>.zero
                var mins = SIMD8<Float>.zero
                // Two blocks per step: their integer sums for one activation row come from a single
                // 512-bit vpdpbusd (the row's x blocks are adjacent); the float steps stay per block, in order.
                var b = 0
                while b &+ 1 < nb {
                    let p = row + b &* 20, p1 = p + 20
                    let w = wide(nibbles(p + 4), nibbles(p1 + 4))
                    let xb = x + b &* 32
                    let s0 = SIMD8<Float>(repeating: half(p)) * loadFloats(xdT + b &* 8)
                    let s1 = SIMD8<Float>(repeating: half(p1)) * loadFloats(xdT + (b &+ 1) &* 8)
                    mins = fma(SIMD8(repeating: half(p + 2)), loadFloats(xsT + b &* 8), mins)
                    mins = fma(SIMD8(repeating: half(p1 + 2)), loadFloats(xsT + (b &+ 1) &* 8), mins)
                    @inline(__always) func step(_ t: Int, _ acc: inout SIMD8<Float>) {
                        let xy = unsignedBySigned(w, (xb + t &* columns).loadUnaligned(as: SIMD64<Int8>.self))
                        acc = fma(SIMD8(repeating: s1[t]), xy.highHalf, fma(SIMD8(repeating: s0[t]), xy.lowHalf, acc))
                    }
                    step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
                    step(4, &a4); step(5, &a5); step(6, &a6); step(7, &a7)
                    b &+= 2
                }
                if b < nb {
                    let p = row + b &* 20
                    let w = nibbles(p + 4)
                    let xb = x + b &* 32
                    let s0 = SIMD8<Float>(repeating: half(p)) * loadFloats(xdT + b &* 8)
                    mins = fma(SIMD8(repeating: half(p + 2)), loadFloats(xsT + b &* 8), mins)
                    @inline(__always) func step(_ t: Int, _ acc: inout SIMD8<Float>) {
                        acc = fma(SIMD8(repeating: s0[t]), unsignedBySigned(w, load32(xb + t &* columns)), acc)
                    }
                    step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
                    step(4, &a4); step(5, &a5); step(6, &a6); step(7, &a7)
                }
                y[r] = hsum(a0) + mins[0]
                y[ldy &+ r] = hsum(a1) + mins[1]
                y[2 &* ldy &+ r] = hsum(a2) + mins[2]
                y[3 &* ldy &+ r] = hsum(a3) + mins[3]
                y[4 &* ldy &+ r] = hsum(a4) + mins[4]
                y[5 &* ldy &+ r] = hsum(a5) + mins[5]
                y[6 &* ldy &+ r] = hsum(a6) + mins[6]
                y[7 &* ldy &+ r] = hsum(a7) + mins[7]
            }
        }
    }

    /// Q8_0 rows × eight activation rows (scales and block pairs as in `q4_1Oct`).
    public static func q8_0Oct(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xdT: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let rowBytes = nb &* 34
        for r in rows {
            let row = base + r &* rowBytes
            var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
            var a4 = SIMD8<Float>.zero, a5 = SIMD8<Float>.zero, a6 = SIMD8<Float>.zero, a7 = SIMD8<Float>.zero
            var b = 0
            while b &+ 1 < nb {
                let p = row + b &* 34, p1 = p + 34
                let w = unsafeBitCast(wide(load32(p + 2), load32(p1 + 2)), to: __m512i.self)
                // |w| times x with w's sign (llama.cpp's sign trick; w = 0 gives 0 either way).
                let absW = _mm512_abs_epi8(w)
                let negative = _mm512_movepi8_mask(w)
                let xb = x + b &* 32
                let s0 = SIMD8<Float>(repeating: half(p)) * loadFloats(xdT + b &* 8)
                let s1 = SIMD8<Float>(repeating: half(p1)) * loadFloats(xdT + (b &+ 1) &* 8)
                @inline(__always) func step(_ t: Int, _ acc: inout SIMD8<Float>) {
                    let xv = unsafeBitCast((xb + t &* columns).loadUnaligned(as: SIMD64<Int8>.self), to: __m512i.self)
                    let signed = _mm512_mask_sub_epi8(xv, negative, _mm512_setzero_si512(), xv)
                    let sums = _mm512_maskz_dpbusd_epi32(0xffff, _mm512_setzero_si512(), absW, signed)
                    let xy = unsafeBitCast(_mm512_cvtepi32_ps(sums), to: SIMD16<Float>.self)
                    acc = fma(SIMD8(repeating: s1[t]), xy.highHalf, fma(SIMD8(repeating: s0[t]), xy.lowHalf, acc))
                }
                step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
                step(4, &a4); step(5, &a5); step(6, &a6); step(7, &a7)
                b &+= 2
            }
            if b < nb {
                let p = row + b &* 34
                let w = load32(p + 2)
                let aw = _mm256_sign_epi8(w, w)
                let xb = x + b &* 32
                let s0 = SIMD8<Float>(repeating: half(p)) * loadFloats(xdT + b &* 8)
                @inline(__always) func step(_ t: Int, _ acc: inout SIMD8<Float>) {
                    acc = fma(SIMD8(repeating: s0[t]), signedBySigned(w, aw, load32(xb + t &* columns)), acc)
                }
                step(0, &a0); step(1, &a1); step(2, &a2); step(3, &a3)
                step(4, &a4); step(5, &a5); step(6, &a6); step(7, &a7)
            }
            y[r] = hsum(a0)
            y[ldy &+ r] = hsum(a1)
            y[2 &* ldy &+ r] = hsum(a2)
            y[3 &* ldy &+ r] = hsum(a3)
            y[4 &* ldy &+ r] = hsum(a4)
            y[5 &* ldy &+ r] = hsum(a5)
            y[6 &* ldy &+ r] = hsum(a6)
            y[7 &* ldy &+ r] = hsum(a7)
        }
    }

    /// Q8_0 rows × one activation row, four weight rows at a time.
    public static func q8_0Single(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, xd: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>
    ) {
        let rowBytes = nb &* 34
        var r = rows.lowerBound
        let end = base + rows.upperBound &* rowBytes
        while r &+ 4 <= rows.upperBound {
            let row0 = base + r &* rowBytes
            var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
            // As in q4_1Single: 136 contiguous bytes per block, one prefetch per 64 of them.
            let ahead = row0 + prefetchDistance
            for b in 0..<nb {
                let p = ahead + b &* 136
                if p < end {
                    twin_prefetch(p)
                    twin_prefetch(p + 64)
                    twin_prefetch(p + 128)
                }
                let xv = load32(x + b &* 32)
                let dx = xd[b]
                let p0 = row0 + b &* 34
                let p1 = p0 + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes
                a0 = fma(SIMD8(repeating: half(p0) * dx), signedBySigned(load32(p0 + 2), xv), a0)
                a1 = fma(SIMD8(repeating: half(p1) * dx), signedBySigned(load32(p1 + 2), xv), a1)
                a2 = fma(SIMD8(repeating: half(p2) * dx), signedBySigned(load32(p2 + 2), xv), a2)
                a3 = fma(SIMD8(repeating: half(p3) * dx), signedBySigned(load32(p3 + 2), xv), a3)
            }
            y[r] = hsum(a0)
            y[r &+ 1] = hsum(a1)
            y[r &+ 2] = hsum(a2)
            y[r &+ 3] = hsum(a3)
            r &+= 4
        }
        while r < rows.upperBound {
            let row = base + r &* rowBytes
            var a = SIMD8<Float>.zero
            for b in 0..<nb {
                let p = row + b &* 34
                a = fma(SIMD8(repeating: half(p) * xd[b]), signedBySigned(load32(p + 2), load32(x + b &* 32)), a)
            }
            y[r] = hsum(a)
            r &+= 1
        }
    }

    /// Q8_0 rows × four activation rows.
    public static func q8_0Quad(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let rowBytes = nb &* 34
        for r in rows {
            let row = base + r &* rowBytes
            var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
            for b in 0..<nb {
                let p = row + b &* 34
                let dw = half(p)
                let w = load32(p + 2)
                // sign(w, w) = |w| and sign(x, w) are the same for the four rows: hoist |w|.
                let aw = _mm256_sign_epi8(w, w)
                let xb = x + b &* 32
                a0 = fma(SIMD8(repeating: dw * xd[b]), signedBySigned(w, aw, load32(xb)), a0)
                a1 = fma(SIMD8(repeating: dw * xd[nb &+ b]), signedBySigned(w, aw, load32(xb + columns)), a1)
                a2 = fma(SIMD8(repeating: dw * xd[2 &* nb &+ b]), signedBySigned(w, aw, load32(xb + 2 &* columns)), a2)
                a3 = fma(SIMD8(repeating: dw * xd[3 &* nb &+ b]), signedBySigned(w, aw, load32(xb + 3 &* columns)), a3)
            }
            y[r] = hsum(a0)
            y[ldy &+ r] = hsum(a1)
            y[2 &* ldy &+ r] = hsum(a2)
            y[3 &* ldy &+ r] = hsum(a3)
        }
    }

    /// How far ahead of the four rows being read the one-row loops prefetch. The hardware prefetchers
    /// alone left decode at ~100 tokens/s on the 2-vCPU EPYC VM; 2–6 KiB ahead gave 170–185 (3 KiB chosen;
    /// 1 KiB 150, 0 = no gain). Neural sets it from `TWIN_PREFETCH_BYTES` for such measurements.
    // nonisolated(unsafe): set once before the first product (QuantMatMul.Kernels.best), then only read.
    // No code here parses it: every function in this module is compiled for AVX-512, and a generic
    // specialisation emitted here (weak, shared by name) could be the copy the linker keeps for the
    // whole program, including on CPUs without AVX-512.
    nonisolated(unsafe) public static var prefetchDistance = 3072

    // MARK: lane arithmetic

    /// A block's f16 scale as a float (one F16C conversion).
    @inline(__always)
    static func half(_ p: UnsafeRawPointer) -> Float {
        Float(Float16(bitPattern: p.loadUnaligned(as: UInt16.self)))
    }

    @inline(__always)
    static func loadFloats(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load32(_ p: UnsafeRawPointer) -> __m256i {
        unsafeBitCast(p.loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
    }

    /// 16 bytes of nibbles → 32 values 0…15 (low nibbles are elements 0…15, high ones 16…31).
    @inline(__always)
    static func nibbles(_ p: UnsafeRawPointer) -> __m256i {
        let packed = unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
        return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0x0f))
    }

    /// Two blocks' 32 weight bytes side by side in one 512-bit register.
    @inline(__always)
    static func wide(_ a: __m256i, _ b: __m256i) -> SIMD64<Int8> {
        SIMD64(lowHalf: unsafeBitCast(a, to: SIMD32<Int8>.self), highHalf: unsafeBitCast(b, to: SIMD32<Int8>.self))
    }

    /// Lanes of Σ w·x for two blocks at once (block b in the low eight lanes, b + 1 in the high eight).
    @inline(__always)
    static func unsignedBySigned(_ w: SIMD64<Int8>, _ x: SIMD64<Int8>) -> SIMD16<Float> {
        let sums = _mm512_maskz_dpbusd_epi32(0xffff, _mm512_setzero_si512(), unsafeBitCast(w, to: __m512i.self), unsafeBitCast(x, to: __m512i.self))
        return unsafeBitCast(_mm512_cvtepi32_ps(sums), to: SIMD16<Float>.self)
    }

    /// Lanes of Σ w·x (four products each) for unsigned w and signed x, as floats.
    @inline(__always)
    static func unsignedBySigned(_ w: __m256i, _ x: __m256i) -> SIMD8<Float> {
        _mm256_cvtepi32_ps(_mm256_maskz_dpbusd_epi32(0xff, _mm256_setzero_si256(), w, x))
    }

    /// Lanes of Σ w·x for signed w and x: |w| times x with w's sign (llama.cpp's `mul_sum_i8_pairs_float`).
    @inline(__always)
    static func signedBySigned(_ w: __m256i, _ x: __m256i) -> SIMD8<Float> {
        signedBySigned(w, _mm256_sign_epi8(w, w), x)
    }

    @inline(__always)
    static func signedBySigned(_ w: __m256i, _ absW: __m256i, _ x: __m256i) -> SIMD8<Float> {
        _mm256_cvtepi32_ps(_mm256_maskz_dpbusd_epi32(0xff, _mm256_setzero_si256(), absW, _mm256_sign_epi8(x, w)))
    }

    @inline(__always)
    static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        _mm256_fmadd_ps(a, b, c)
    }

    /// llama.cpp's `hsum_float_8`: (x4+x0) + (x6+x2), (x5+x1) + (x7+x3), then their sum.
    @inline(__always)
    static func hsum(_ v: SIMD8<Float>) -> Float {
        let a0 = v[4] + v[0], a1 = v[5] + v[1], a2 = v[6] + v[2], a3 = v[7] + v[3]
        return (a0 + a2) + (a1 + a3)
    }
    #else
    public static func q4_1Single(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, xd: UnsafePointer<Float>,
        xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
    ) { unavailable() }
    public static func q4_1Quad(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, xs: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }
    public static func q8_0Single(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, xd: UnsafePointer<Float>,
        y: UnsafeMutablePointer<Float>
    ) { unavailable() }
    public static func q4_1Oct(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xdT: UnsafePointer<Float>, xsT: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }
    public static func q8_0Oct(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xdT: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }
    public static func q8_0Quad(
        _ base: UnsafeRawPointer, nb: Int, rows: Range<Int>, x: UnsafeRawPointer, columns: Int,
        xd: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int
    ) { unavailable() }

    private static func unavailable() -> Never {
        preconditionFailure("VNNIKernels: not compiled into this build (check VNNIKernels.isCompiled)")
    }
    #endif
}
