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

    /// x / (1 + e^(−x)), as llama.cpp's `ggml_v_silu`.
    @inline(__always)
    static func silu(_ x: Float) -> Float {
        x / (1 + exp(0 - x))
    }
}
