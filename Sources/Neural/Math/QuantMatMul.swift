/// Products of a quantised weight matrix with a few rows of quantised activations, reading each weight
/// block once for all rows (single-token decode, continuous batching, speculative verification).
///
/// y[t, r] = Σ_blocks  d_w·d_x·Σ(q_w·q_x) (+ m_w·s_x for Q4_1), the integer dot of llama.cpp's
/// `vec_dot_q4_1_q8_1` / `vec_dot_q8_0_q8_0`, so results agree with llama.cpp to float rounding.
enum QuantMatMul {
    /// Rows of activations handled per pass over the weights; larger batches take several passes.
    static let maxRowsPerPass = 8

    /// y[t·ldy + r] for t in 0..<x.rows, r in rowRange; `weight` is [out, in] of Q4_0, Q4_1 or Q8_0.
    static func multiply(
        _ weight: GGUFTensor, _ x: QuantActivations, rowRange: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        var t0 = 0
        while t0 < x.rows {
            let n = min(maxRowsPerPass, x.rows - t0)
            switch weight.type {
            case .q4_1: q4Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy, hasMin: true)
            case .q4_0: q4Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy, hasMin: false)
            case .q8_0: q8Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy)
            default: preconditionFailure("QuantMatMul: unsupported weight type \(weight.type)")
            }
            t0 &+= n
        }
    }

    /// Σ over one 32-block of (q4 - offset)·q8; the low nibbles pair with x[0..<16], the high with x[16..<32].
    /// Written as a scalar loop of fixed length because LLVM vectorises it (widening multiply-adds),
    /// whereas Swift's generic SIMD conversions compile to per-lane calls.
    @inline(__always)
    static func dotQ4(_ qs: UnsafePointer<UInt8>, _ x: UnsafePointer<Int8>, offset: Int32) -> Int32 {
        // Every product fits in Int16 (|q4 - offset| ≤ 15, |q8| ≤ 128), which lets LLVM use 16-bit
        // multiplies and pairwise widening adds even on baseline x86-64.
        var sum: Int32 = 0
        let o = Int16(offset)
        for j in 0..<16 {
            let b = qs[j]
            let p0 = (Int16(b & 0x0f) &- o) &* Int16(x[j])
            let p1 = (Int16(b &>> 4) &- o) &* Int16(x[j &+ 16])
            sum &+= Int32(p0) &+ Int32(p1)
        }
        return sum
    }

    @inline(__always)
    static func dotQ8(_ w: UnsafePointer<Int8>, _ x: UnsafePointer<Int8>) -> Int32 {
        var sum: Int32 = 0
        for j in 0..<32 { sum &+= Int32(Int16(w[j]) &* Int16(x[j])) }
        return sum
    }

    @inline(never)
    static func q4Rows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, hasMin: Bool
    ) {
        let nb = weight.columns / 32
        let blockBytes = hasMin ? 20 : 18
        let qsOffset = hasMin ? 4 : 2
        let offset: Int32 = hasMin ? 0 : 8
        let rowBytes = nb &* blockBytes
        let half = Quant.halfTable
        let xq = x.q + t0 &* x.columns
        let xd = x.d + t0 &* nb
        let xs = x.s + t0 &* nb
        withUnsafeTemporaryAllocation(of: Float.self, capacity: maxRowsPerPass) { accs in
            let acc = accs.baseAddress!
            withUnsafeTemporaryAllocation(of: Float.self, capacity: maxRowsPerPass) { mins in
                let minAcc = mins.baseAddress!
                for r in rowRange {
                    let row = weight.data + r &* rowBytes
                    for t in 0..<n {
                        acc[t] = 0
                        minAcc[t] = 0
                    }
                    for b in 0..<nb {
                        let block = row + b &* blockBytes
                        let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
                        let mw = hasMin ? half[Int(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))] : 0
                        let packed = (block + qsOffset).assumingMemoryBound(to: UInt8.self)
                        for t in 0..<n {
                            let i = dotQ4(packed, xq + (t &* x.columns &+ b &* 32), offset: offset)
                            acc[t] += Float(i) * (dw * xd[t &* nb &+ b])
                            if hasMin { minAcc[t] += mw * xs[t &* nb &+ b] }
                        }
                    }
                    for t in 0..<n { y[t &* ldy &+ r] = acc[t] + minAcc[t] }
                }
            }
        }
    }

    @inline(never)
    static func q8Rows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ t0: Int, _ n: Int, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let rowBytes = nb &* 34
        let half = Quant.halfTable
        let xq = x.q + t0 &* x.columns
        let xd = x.d + t0 &* nb
        withUnsafeTemporaryAllocation(of: Float.self, capacity: maxRowsPerPass) { accs in
            let acc = accs.baseAddress!
            for r in rowRange {
                let row = weight.data + r &* rowBytes
                for t in 0..<n { acc[t] = 0 }
                for b in 0..<nb {
                    let block = row + b &* 34
                    let dw = half[Int(block.loadUnaligned(as: UInt16.self))]
                    for t in 0..<n {
                        let i = dotQ8((block + 2).assumingMemoryBound(to: Int8.self), xq + (t &* x.columns &+ b &* 32))
                        acc[t] += Float(i) * (dw * xd[t &* nb &+ b])
                    }
                }
                for t in 0..<n { y[t &* ldy &+ r] = acc[t] }
            }
        }
    }
}
