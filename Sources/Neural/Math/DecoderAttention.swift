/// The summation orders of llama.cpp's two f16 matrix-product kernels on x86 (AVX-512 build), used for
/// the attention products K·q and V·p so that our scores and attention outputs equal its bit for bit.
///
/// - `.batch`: llamafile's tinyBLAS, which llama.cpp uses when a step has two or more tokens (prefill):
///   16 lanes, lane L accumulates the products of elements L, L+16, … with fused multiply-adds, and the
///   lanes are reduced in the order of GCC's `_mm512_reduce_add_ps`.
/// - `.single`: `ggml_vec_dot_f16`, used for one-token steps (decode): 4 × 16 lanes over chunks of 64,
///   accumulators combined as (a0 + a2) + (a1 + a3), then the same 16-lane reduction.
/// Both operate on values that are exactly representable in f16, zero-padded to whole chunks (llama.cpp's
/// KV cache is padded with zeros too), so products are exact and only the additions' order matters.
public enum AttentionOrder: Sendable {
    /// tinyBLAS order (llama.cpp's multi-token steps).
    case batch
    /// ggml_vec_dot_f16 order (llama.cpp's single-token steps).
    case single

    /// Accumulator slots: elements i and i + slots land in the same slot.
    @inline(__always)
    var slots: Int {
        switch self {
        case .batch: return 16
        case .single: return 64
        }
    }
}

enum DecoderAttention {
    /// GCC's `_mm512_reduce_add_ps`: (hi8 + lo8), then (hi4 + lo4), then (t0 + t2) + (t1 + t3).
    @inline(__always)
    static func reduce16(_ v: SIMD16<Float>) -> Float {
        let t3 = v.highHalf + v.lowHalf
        let t6 = t3.highHalf + t3.lowHalf
        return (t6[0] + t6[2]) + (t6[1] + t6[3])
    }

    /// Σ a[i]·b[i] over one head (`n` a multiple of 16) in the given order.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int, order: AttentionOrder) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> SIMD16<Float> {
            i < n ? p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self) : .zero
        }
        switch order {
        case .batch:
            var acc = SIMD16<Float>.zero
            var i = 0
            while i < n {
                acc = acc.addingProduct(load(ra, i), load(rb, i))
                i &+= 16
            }
            return reduce16(acc)
        case .single:
            var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
            var i = 0
            while i < n {
                s0 = s0.addingProduct(load(ra, i), load(rb, i))
                s1 = s1.addingProduct(load(ra, i &+ 16), load(rb, i &+ 16))
                s2 = s2.addingProduct(load(ra, i &+ 32), load(rb, i &+ 32))
                s3 = s3.addingProduct(load(ra, i &+ 48), load(rb, i &+ 48))
                i &+= 64
            }
            return reduce16((s0 + s2) + (s1 + s3))
        }
    }

    /// out[e] = Σ_j p[j]·v_j[e] for j in 0..<count, e in 0..<hd (a multiple of 8), where v_j = value(j);
    /// the sum over j follows `order` (position j goes to slot j mod slots). `slotsScratch` holds
    /// slots × hd floats.
    @inline(__always)
    static func weightedSum(
        _ p: UnsafePointer<Float>, count: Int, hd: Int, order: AttentionOrder,
        value: (Int) -> UnsafePointer<Float>, slotsScratch acc: UnsafeMutablePointer<Float>,
        into out: UnsafeMutablePointer<Float>
    ) {
        let slots = order.slots
        let used = min(slots, count)
        for i in 0..<(used &* hd) { acc[i] = 0 }
        for j in 0..<count {
            let row = acc + (j % slots) &* hd
            let v = value(j)
            let w = p[j]
            for e in 0..<hd { row[e] = row[e].addingProduct(w, v[e]) }
        }
        // Slots never written are zeros; read them as such without clearing all 64 × hd floats.
        @inline(__always) func slot(_ s: Int, _ e: Int) -> Float { s < used ? acc[s &* hd &+ e] : 0 }
        for e in 0..<hd {
            var lanes = SIMD16<Float>()
            switch order {
            case .batch:
                for l in 0..<16 { lanes[l] = slot(l, e) }
            case .single:
                for l in 0..<16 {
                    lanes[l] = (slot(l, e) + slot(l &+ 32, e)) + (slot(l &+ 16, e) + slot(l &+ 48, e))
                }
            }
            out[e] = reduce16(lanes)
        }
    }
}

extension DecoderAttention {
    /// x ← softmax(x) over `n` scores the way ggml's soft_max sums them: exponentials in blocks of 16
    /// (the masked tail of llama.cpp's padded row adds zeros), each block reduced as `reduce16`, the
    /// block sums added in double; then every value times Float(1 / sum). Exponentials as llama.cpp's.
    @inline(__always)
    static func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        var sum: Double = 0
        var i = 0
        while i < n {
            var block = SIMD16<Float>.zero
            for l in 0..<min(16, n &- i) {
                let e = DecoderExp.exp(x[i &+ l] - m)
                x[i &+ l] = e
                block[l] = e
            }
            sum += Double(reduce16(block))
            i &+= 16
        }
        let inv = Float(1 / sum)
        for i in 0..<n { x[i] *= inv }
    }
}
