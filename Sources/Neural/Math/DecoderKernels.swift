import RealModule

/// Element-wise and small reduction kernels of the Llama forward pass. Buffers are plain pointers.
enum DecoderKernels {
    /// out[i] = x[i] / rms(x) · gain[i] over one row of `n`. As in ggml: squares summed in double,
    /// scale = 1 / sqrt(mean + ε) in float, then (x · scale) · gain.
    @inline(__always)
    static func rmsNorm(_ x: UnsafePointer<Float>, _ gain: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int, epsilon: Float) {
        var sum: Double = 0
        for i in 0..<n { sum += Double(x[i] * x[i]) }
        normalize(x, sumOfSquares: sum, gain, out, n: n, epsilon: epsilon)
    }

    /// The second half of `rmsNorm`, once a row's squares are summed: both forms share it, so a row comes
    /// out the same whichever form normalised it.
    @inline(__always)
    private static func normalize(
        _ x: UnsafePointer<Float>, sumOfSquares sum: Double, _ gain: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
        n: Int, epsilon: Float
    ) {
        let mean = Float(sum / Double(n))
        let scale = 1 / (mean + epsilon).squareRoot()
        for i in 0..<n { out[i] = x[i] * scale * gain[i] }
    }

    /// `rmsNorm` of rows `rows` of `x` into the same rows of `out` (both of row length `n`), four rows at a
    /// time: each row's squares are still summed in order in double, but four rows' sums advance together,
    /// so the additions' latency (the whole cost of a 576-long chain) is paid once for four rows.
    @inline(__always)
    static func rmsNorm(rows: Range<Int>, _ x: UnsafePointer<Float>, _ gain: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int, epsilon: Float) {
        var r = rows.lowerBound
        while r &+ 4 <= rows.upperBound {
            let a = x + r &* n, b = a + n, c = b + n, d = c + n
            var sa: Double = 0, sb: Double = 0, sc: Double = 0, sd: Double = 0
            for i in 0..<n {
                sa += Double(a[i] * a[i])
                sb += Double(b[i] * b[i])
                sc += Double(c[i] * c[i])
                sd += Double(d[i] * d[i])
            }
            normalize(a, sumOfSquares: sa, gain, out + r &* n, n: n, epsilon: epsilon)
            normalize(b, sumOfSquares: sb, gain, out + (r &+ 1) &* n, n: n, epsilon: epsilon)
            normalize(c, sumOfSquares: sc, gain, out + (r &+ 2) &* n, n: n, epsilon: epsilon)
            normalize(d, sumOfSquares: sd, gain, out + (r &+ 3) &* n, n: n, epsilon: epsilon)
            r &+= 4
        }
        while r < rows.upperBound {
            rmsNorm(x + r &* n, gain, out + r &* n, n: n, epsilon: epsilon)
            r &+= 1
        }
    }

    /// cos/sin of position · θ^(-2i/headDim) for i in 0..<headDim/2, into cache[2i], cache[2i+1]. The
    /// angle is built the way ggml's rope cache builds it (θ_i = θ_{i-1} · thetaScale, in float), so the
    /// rotations match llama.cpp's to the last bit.
    @inline(__always)
    static func ropeCache(position: Int, headDim: Int, thetaScale: Float, into cache: UnsafeMutablePointer<Float>) {
        var theta = Float(position)
        for i in 0..<(headDim / 2) {
            cache[2 &* i] = Float.cos(theta)
            cache[2 &* i &+ 1] = Float.sin(theta)
            theta *= thetaScale
        }
    }

    /// Rotates pairs (2i, 2i+1) of each head by the angles in `cache` (llama.cpp "normal" RoPE), with
    /// the fused multiply-adds its compiler makes of x0·c − x1·s and x0·s + x1·c.
    @inline(__always)
    static func rope(_ v: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, cache: UnsafePointer<Float>) {
        for h in 0..<heads {
            let head = v + h &* headDim
            for i in 0..<(headDim / 2) {
                let c = cache[2 &* i], s = cache[2 &* i &+ 1]
                let a = head[2 &* i], b = head[2 &* i &+ 1]
                head[2 &* i] = (-(b * s)).addingProduct(a, c)
                head[2 &* i &+ 1] = (b * c).addingProduct(a, s)
            }
        }
    }

    /// out[i] = x[i] rounded to half precision (round to nearest even), kept as a float.
    @inline(__always)
    static func roundToHalf(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, n: Int) {
        let src = UnsafeRawPointer(x), dst = UnsafeMutableRawPointer(out)
        var i = 0
        while i &+ 8 <= n {
            let h = SIMD8<Float16>(src.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self))
            dst.storeBytes(of: SIMD8<Float>(h), toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n {
            out[i] = Float(Float16(x[i]))
            i &+= 1
        }
    }

    /// gate ← silu(gate) · up over `n` values (SwiGLU, with llama.cpp's exponential).
    @inline(__always)
    static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, n: Int) {
        let g = UnsafeMutableRawPointer(gate), u = UnsafeRawPointer(up)
        var i = 0
        while i &+ 8 <= n {
            let x = g.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            let silu = x / (1 + DecoderExp.exp(SIMD8<Float>.zero - x))
            g.storeBytes(of: silu * u.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self), toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n {
            gate[i] = DecoderExp.silu(gate[i]) * up[i]
            i &+= 1
        }
    }

    /// x[i] += y[i] over `n` values (the residual connections).
    @inline(__always)
    static func add(_ y: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, n: Int) {
        for i in 0..<n { x[i] += y[i] }
    }
}
