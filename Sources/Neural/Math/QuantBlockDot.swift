#if NEURAL_AVX2
import _Builtin_intrinsics.intel
#endif

/// The per-matrix loops of `QuantMatMul`: one weight row at a time, each weight block decoded once and
/// dotted with the same block of every activation row of the pass.
///
/// Per block and activation row the eight lanes hold Σ of four int8 products (elements 4L…4L+3), exactly
/// as `_mm256_maddubs_epi16` + `_mm256_madd_epi16` leave them in llama.cpp; the AVX2 build uses those
/// instructions (NEURAL_AVX2, set by Package.swift for Linux release builds), other builds compute the
/// same integers with scalar code, so both give bit-identical results.
enum QuantBlockDot {
    /// Q4_1 weights (d, m, 16 nibble bytes) × Q8_1 activations: Σ_b fma(d_w·d_x, lanes, acc), + Σ_b m_w·s_x.
    @inline(never)
    static func q4_1Rows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let rowBytes = nb &* 20
        let half = Quant.halfTable
        let columns = x.columns
        let xq = UnsafeRawPointer(x.q + t0 &* columns)
        let xd = x.d + t0 &* nb
        let xs = x.s + t0 &* nb
        let base = UnsafeRawPointer(weight.data)
        if n == 1 {
            // Decode: two weight rows at a time in registers, so the two fused-multiply-add chains overlap.
            var r = rowRange.lowerBound
            while r &+ 1 < rowRange.upperBound {
                let row0 = base + r &* rowBytes, row1 = row0 + rowBytes
                var acc0 = SIMD8<Float>.zero, acc1 = SIMD8<Float>.zero
                var min0: Float = 0, min1: Float = 0
                for b in 0..<nb {
                    let x = xq + b &* 32
                    let dx = xd[b], sx = xs[b]
                    let block0 = row0 + b &* 20, block1 = row1 + b &* 20
                    let xy0 = Lanes.unsignedBySigned(Lanes.nibbles(block0 + 4, offset: 0), x)
                    let xy1 = Lanes.unsignedBySigned(Lanes.nibbles(block1 + 4, offset: 0), x)
                    acc0 = Lanes.fma(SIMD8(repeating: half[Int(block0.loadUnaligned(as: UInt16.self))] * dx), xy0, acc0)
                    acc1 = Lanes.fma(SIMD8(repeating: half[Int(block1.loadUnaligned(as: UInt16.self))] * dx), xy1, acc1)
                    min0 = min0.addingProduct(half[Int(block0.loadUnaligned(fromByteOffset: 2, as: UInt16.self))], sx)
                    min1 = min1.addingProduct(half[Int(block1.loadUnaligned(fromByteOffset: 2, as: UInt16.self))], sx)
                }
                y[r] = QuantMatMul.horizontalSum(acc0) + min0
                y[r &+ 1] = QuantMatMul.horizontalSum(acc1) + min1
                r &+= 2
            }
            if r == rowRange.upperBound { return }
            q4_1RowsGeneral(weight, x, t0, n, r..<rowRange.upperBound, y, ldy)
            return
        }
        if n >= 4 {
            // Batches: four activation rows per group with register accumulators; every weight row is
            // read once for all groups (it stays in L1 between them).
            let groups = n / 4
            for r in rowRange {
                let row = base + r &* rowBytes
                for g in 0..<groups {
                    let t = g &* 4
                    q4_1Row4(row, nb, xq + t &* columns, columns, xd + t &* nb, xs + t &* nb, y + t &* ldy + r, ldy)
                }
            }
            if groups &* 4 < n {
                let t = groups &* 4
                q4_1RowsGeneral(weight, x, t0 &+ t, n &- t, rowRange, y + t &* ldy, ldy)
            }
            return
        }
        q4_1RowsGeneral(weight, x, t0, n, rowRange, y, ldy)
    }

    /// One Q4_1 weight row against four activation rows (same per-row arithmetic as the other forms).
    @inline(__always)
    static func q4_1Row4(
        _ row: UnsafeRawPointer, _ nb: Int, _ xq: UnsafeRawPointer, _ columns: Int,
        _ xd: UnsafePointer<Float>, _ xs: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let half = Quant.halfTable
        var a0 = SIMD8<Float>.zero, a1 = SIMD8<Float>.zero, a2 = SIMD8<Float>.zero, a3 = SIMD8<Float>.zero
        var m0: Float = 0, m1: Float = 0, m2: Float = 0, m3: Float = 0
        for b in 0..<nb {
            let block = row + b &* 20
            let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
            let mw = half[Int(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))]
            let w = Lanes.nibbles(block + 4, offset: 0)
            let x = xq + b &* 32
            a0 = Lanes.fma(SIMD8(repeating: dw * xd[b]), Lanes.unsignedBySigned(w, x), a0)
            a1 = Lanes.fma(SIMD8(repeating: dw * xd[nb &+ b]), Lanes.unsignedBySigned(w, x + columns), a1)
            a2 = Lanes.fma(SIMD8(repeating: dw * xd[2 &* nb &+ b]), Lanes.unsignedBySigned(w, x + 2 &* columns), a2)
            a3 = Lanes.fma(SIMD8(repeating: dw * xd[3 &* nb &+ b]), Lanes.unsignedBySigned(w, x + 3 &* columns), a3)
            m0 = m0.addingProduct(mw, xs[b])
            m1 = m1.addingProduct(mw, xs[nb &+ b])
            m2 = m2.addingProduct(mw, xs[2 &* nb &+ b])
            m3 = m3.addingProduct(mw, xs[3 &* nb &+ b])
        }
        y[0] = QuantMatMul.horizontalSum(a0) + m0
        y[ldy] = QuantMatMul.horizontalSum(a1) + m1
        y[2 &* ldy] = QuantMatMul.horizontalSum(a2) + m2
        y[3 &* ldy] = QuantMatMul.horizontalSum(a3) + m3
    }

    /// The general form of `q4_1Rows` (any n ≤ maxRowsPerPass, accumulators in stack memory).
    @inline(never)
    static func q4_1RowsGeneral(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let rowBytes = nb &* 20
        let half = Quant.halfTable
        let columns = x.columns
        let xq = UnsafeRawPointer(x.q + t0 &* columns)
        let xd = x.d + t0 &* nb
        let xs = x.s + t0 &* nb
        let base = UnsafeRawPointer(weight.data)
        withAccumulators { acc, mins in
            for r in rowRange {
                let row = base + r &* rowBytes
                for t in 0..<n {
                    acc[t] = .zero
                    mins[t] = 0
                }
                for b in 0..<nb {
                    let block = row + b &* 20
                    let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
                    let mw = half[Int(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))]
                    let w = Lanes.nibbles(block + 4, offset: 0)
                    for t in 0..<n {
                        let xy = Lanes.unsignedBySigned(w, xq + (t &* columns &+ b &* 32))
                        let scale = SIMD8<Float>(repeating: dw * xd[t &* nb &+ b])
                        acc[t] = Lanes.fma(scale, xy, acc[t])
                        // llama.cpp's `summs += m * s`, contracted to one fused multiply-add by its compiler.
                        mins[t] = mins[t].addingProduct(mw, xs[t &* nb &+ b])
                    }
                }
                for t in 0..<n { y[t &* ldy &+ r] = QuantMatMul.horizontalSum(acc[t]) + mins[t] }
            }
        }
    }

    /// Q4_0 weights (d, 16 nibble bytes, value q - 8) × Q8_0 activations.
    @inline(never)
    static func q4_0Rows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let rowBytes = nb &* 18
        let half = Quant.halfTable
        let columns = x.columns
        let xq = UnsafeRawPointer(x.q + t0 &* columns)
        let xd = x.d + t0 &* nb
        let base = UnsafeRawPointer(weight.data)
        withAccumulators { acc, _ in
            for r in rowRange {
                let row = base + r &* rowBytes
                for t in 0..<n { acc[t] = .zero }
                for b in 0..<nb {
                    let block = row + b &* 18
                    let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
                    let w = Lanes.nibbles(block + 2, offset: 8)
                    for t in 0..<n {
                        let xy = Lanes.signedBySigned(w, xq + (t &* columns &+ b &* 32))
                        acc[t] = Lanes.fma(SIMD8<Float>(repeating: dw * xd[t &* nb &+ b]), xy, acc[t])
                    }
                }
                for t in 0..<n { y[t &* ldy &+ r] = QuantMatMul.horizontalSum(acc[t]) }
            }
        }
    }

    /// Q8_0 weights (d, 32 int8) × Q8_0 activations.
    @inline(never)
    static func q8_0Rows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let rowBytes = nb &* 34
        let half = Quant.halfTable
        let columns = x.columns
        let xq = UnsafeRawPointer(x.q + t0 &* columns)
        let xd = x.d + t0 &* nb
        let base = UnsafeRawPointer(weight.data)
        var first = rowRange.lowerBound
        if n == 1 {
            // Decode (and the output projection): two rows at a time in registers.
            while first &+ 1 < rowRange.upperBound {
                let row0 = base + first &* rowBytes, row1 = row0 + rowBytes
                var acc0 = SIMD8<Float>.zero, acc1 = SIMD8<Float>.zero
                for b in 0..<nb {
                    let x = xq + b &* 32
                    let dx = xd[b]
                    let block0 = row0 + b &* 34, block1 = row1 + b &* 34
                    let xy0 = Lanes.signedBySigned(Lanes.bytes(block0 + 2), x)
                    let xy1 = Lanes.signedBySigned(Lanes.bytes(block1 + 2), x)
                    acc0 = Lanes.fma(SIMD8(repeating: half[Int(block0.loadUnaligned(as: UInt16.self))] * dx), xy0, acc0)
                    acc1 = Lanes.fma(SIMD8(repeating: half[Int(block1.loadUnaligned(as: UInt16.self))] * dx), xy1, acc1)
                }
                y[first] = QuantMatMul.horizontalSum(acc0)
                y[first &+ 1] = QuantMatMul.horizontalSum(acc1)
                first &+= 2
            }
        }
        withAccumulators { acc, _ in
            for r in first..<rowRange.upperBound {
                let row = base + r &* rowBytes
                for t in 0..<n { acc[t] = .zero }
                for b in 0..<nb {
                    let block = row + b &* 34
                    let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
                    let w = Lanes.bytes(block + 2)
                    for t in 0..<n {
                        let xy = Lanes.signedBySigned(w, xq + (t &* columns &+ b &* 32))
                        acc[t] = Lanes.fma(SIMD8<Float>(repeating: dw * xd[t &* nb &+ b]), xy, acc[t])
                    }
                }
                for t in 0..<n { y[t &* ldy &+ r] = QuantMatMul.horizontalSum(acc[t]) }
            }
        }
    }

    /// Stack scratch for one pass: eight vector accumulators and eight scalar ones.
    @inline(__always)
    private static func withAccumulators(_ body: (UnsafeMutablePointer<SIMD8<Float>>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: QuantMatMul.maxRowsPerPass) { a in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: QuantMatMul.maxRowsPerPass) { m in
                body(a.baseAddress!, m.baseAddress!)
            }
        }
    }
}

#if NEURAL_AVX2
/// One 32-block of weights as 32 bytes in element order, ready for the lane products.
typealias WeightBlock = __m256i

/// AVX2 forms of the lane products (the instructions llama.cpp's AVX2 build uses).
enum Lanes {
    /// 16 bytes of nibbles → 32 values (low nibbles are elements 0…15, high ones 16…31), minus `offset`.
    @inline(__always)
    static func nibbles(_ p: UnsafeRawPointer, offset: Int8) -> WeightBlock {
        let packed = unsafeBitCast(p.loadUnaligned(as: SIMD16<UInt8>.self), to: __m128i.self)
        let both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed)
        let values = _mm256_and_si256(both, _mm256_set1_epi8(0x0f))
        return offset == 0 ? values : _mm256_sub_epi8(values, _mm256_set1_epi8(offset))
    }

    /// 32 signed bytes.
    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer) -> WeightBlock {
        unsafeBitCast(p.loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
    }

    /// Lanes of Σ w·x for unsigned w (0…15) and signed activations.
    @inline(__always)
    static func unsignedBySigned(_ w: WeightBlock, _ x: UnsafeRawPointer) -> SIMD8<Float> {
        let xv = unsafeBitCast(x.loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
        let pairs = _mm256_maddubs_epi16(w, xv)
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }

    /// Lanes of Σ w·x for signed w and x (|w| ≤ 127, so the 16-bit pair sums cannot saturate).
    @inline(__always)
    static func signedBySigned(_ w: WeightBlock, _ x: UnsafeRawPointer) -> SIMD8<Float> {
        let xv = unsafeBitCast(x.loadUnaligned(as: SIMD32<Int8>.self), to: __m256i.self)
        let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w))
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
    }

    /// a·b + c, fused.
    @inline(__always)
    static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        _mm256_fmadd_ps(a, b, c)
    }
}
#else
/// One 32-block of weights as 32 signed values in element order.
typealias WeightBlock = SIMD32<Int8>

/// Portable forms of the lane products: the same integers and the same fused multiply-adds.
enum Lanes {
    /// 16 bytes of nibbles → 32 values (low nibbles are elements 0…15, high ones 16…31), minus `offset`.
    @inline(__always)
    static func nibbles(_ p: UnsafeRawPointer, offset: Int8) -> WeightBlock {
        var out = WeightBlock()
        for j in 0..<16 {
            let b = p.load(fromByteOffset: j, as: UInt8.self)
            out[j] = Int8(b & 0x0f) &- offset
            out[j &+ 16] = Int8(b &>> 4) &- offset
        }
        return out
    }

    /// 32 signed bytes.
    @inline(__always)
    static func bytes(_ p: UnsafeRawPointer) -> WeightBlock { p.loadUnaligned(as: SIMD32<Int8>.self) }

    @inline(__always)
    static func unsignedBySigned(_ w: WeightBlock, _ x: UnsafeRawPointer) -> SIMD8<Float> { signedBySigned(w, x) }

    /// Lane L = Σ_{j=4L}^{4L+3} w_j·x_j as a float.
    @inline(__always)
    static func signedBySigned(_ w: WeightBlock, _ x: UnsafeRawPointer) -> SIMD8<Float> {
        var out = SIMD8<Float>()
        for lane in 0..<8 {
            var s: Int32 = 0
            for j in (lane &* 4)..<(lane &* 4 &+ 4) {
                s &+= Int32(w[j]) &* Int32(x.load(fromByteOffset: j, as: Int8.self))
            }
            out[lane] = Float(s)
        }
        return out
    }

    /// a·b + c, fused.
    @inline(__always)
    static func fma(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
        c.addingProduct(a, b)
    }
}
#endif
