/// The exponential llama.cpp's CPU backend uses in softmax and SiLU (its vectorised `ggml_v_expf`, after
/// Arm's optimized-routines expf): x = n·ln2 + b with n = round(x·log2 e), a degree-5 polynomial in b,
/// then scaling by 2^n. It differs from a correctly rounded exp by up to ~1.5 ulp; matching it matters
/// because softmax probabilities are rounded to f16 and SwiGLU outputs re-quantised to 8 bits right after,
/// and a last-bit difference there moves this small model's logits by up to ~0.15.
enum DecoderExp {
    /// e^x in llama.cpp's arithmetic (fused multiply-adds where it fuses); 0 below about -104, +∞ above 88.4.
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let shifter: Float = 0x1.8p23
        let z = shifter.addingProduct(x, 0x1.715476p+0)
        let n = z - shifter
        // b = x − n·ln2, with ln2 split in two parts for accuracy.
        let b = x.addingProduct(-n, 0x1.62e4p-1).addingProduct(-n, 0x1.7f7d1cp-20)
        guard abs(n) <= 192 else { return n.isNaN ? n : (n <= 0 ? 0 : .infinity) }
        let u = b * b
        let high = Float(0x1.573e2ep-5).addingProduct(0x1.0e4020p-7, b)
        let middle = Float(0x1.fffdb6p-2).addingProduct(0x1.555e66p-3, b)
        let low = Float(1).addingProduct(0x1.ffffecp-1, b)
        let j = low.addingProduct(middle.addingProduct(high, u), u)
        return Float(sign: .plus, exponent: Int(n), significand: j)
    }

    /// Eight exponentials, each bit-identical to `exp(_:)`: the same operations lane-wise, with the scaling
    /// by 2^n done on the exponent bits, which is exact while the result is a normal float (n in
    /// -125…127); lanes outside that range (results near 0 or ∞, or NaN) take the scalar path.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let shifter = SIMD8<Float>(repeating: 0x1.8p23)
        let z = shifter.addingProduct(x, SIMD8(repeating: 0x1.715476p+0))
        let n = z - shifter
        let b = x.addingProduct(-n, SIMD8(repeating: 0x1.62e4p-1)).addingProduct(-n, SIMD8(repeating: 0x1.7f7d1cp-20))
        let u = b * b
        let high = SIMD8<Float>(repeating: 0x1.573e2ep-5).addingProduct(SIMD8(repeating: 0x1.0e4020p-7), b)
        let middle = SIMD8<Float>(repeating: 0x1.fffdb6p-2).addingProduct(SIMD8(repeating: 0x1.555e66p-3), b)
        let low = SIMD8<Float>(repeating: 1).addingProduct(SIMD8(repeating: 0x1.ffffecp-1), b)
        let j = low.addingProduct(middle.addingProduct(high, u), u)
        // z's low mantissa bits hold n (the shifter trick), so z's bits shifted into the exponent field
        // add n to j's exponent, as ggml_v_expf does.
        let zBits = unsafeBitCast(z, to: SIMD8<UInt32>.self)
        let scaled = (zBits &<< 23) &+ unsafeBitCast(j, to: SIMD8<UInt32>.self)
        var out = unsafeBitCast(scaled, to: SIMD8<Float>.self)
        // n in -125…127 ⇔ zBits − bits(shifter) + 125 in 0…252 (unsigned); NaN or huge |x| falls outside.
        let offset = zBits &- SIMD8(repeating: 0x4B40_0000 &- 125)
        if offset.max() > 252 {
            for l in 0..<8 where offset[l] > 252 { out[l] = exp(x[l]) }
        }
        return out
    }

    /// x / (1 + e^(−x)), as llama.cpp's `ggml_v_silu`.
    @inline(__always)
    static func silu(_ x: Float) -> Float {
        x / (1 + exp(0 - x))
    }
}
