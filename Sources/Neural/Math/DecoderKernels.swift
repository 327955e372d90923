import RealModule

/// Element-wise and small reduction kernels of the Llama forward pass. Buffers are plain pointers.
enum DecoderKernels {
    /// out[i] = x[i] / rms(x) · gain[i] over one row of `n`.
    @inline(__always)
    static func rmsNorm(_ x: UnsafePointer<Float>, _ gain: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, n: Int, epsilon: Float) {
        var sum: Float = 0
        for i in 0..<n { sum = Relaxed.multiplyAdd(x[i], x[i], sum) }
        let scale = 1 / (sum / Float(n) + epsilon).squareRoot()
        for i in 0..<n { out[i] = x[i] * scale * gain[i] }
    }

    /// Rotates pairs (2i, 2i+1) of each head by position · θ^(-2i/headDim) (llama.cpp "normal" RoPE).
    @inline(__always)
    static func rope(_ v: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, position: Int, inverseFrequencies: UnsafePointer<Float>) {
        let p = Float(position)
        for i in 0..<(headDim / 2) {
            let angle = p * inverseFrequencies[i]
            let c = Float.cos(angle), s = Float.sin(angle)
            for h in 0..<heads {
                let base = v + (h &* headDim &+ 2 &* i)
                let a = base[0], b = base[1]
                base[0] = a * c - b * s
                base[1] = a * s + b * c
            }
        }
    }

    /// x ← softmax(x) over `n` values.
    @inline(__always)
    static func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var sum: Float = 0
        for i in 0..<n {
            let e = Float.exp(x[i] - m)
            x[i] = e
            sum += e
        }
        let inv = 1 / sum
        for i in 0..<n { x[i] *= inv }
    }

    /// gate ← silu(gate) · up over `n` values (SwiGLU).
    @inline(__always)
    static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, n: Int) {
        for i in 0..<n {
            let g = gate[i]
            gate[i] = g / (1 + Float.exp(-g)) * up[i]
        }
    }

    /// Dot product of `n` floats.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int) -> Float {
        var acc = SIMD8<Float>.zero
        var i = 0
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        while i &+ 8 <= n {
            acc += ra.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        var s = acc.sum()
        while i < n {
            s += a[i] * b[i]
            i &+= 1
        }
        return s
    }

    /// y += alpha · x over `n` floats.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, n: Int) {
        for i in 0..<n { y[i] = Relaxed.multiplyAdd(alpha, x[i], y[i]) }
    }
}
