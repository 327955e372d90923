#if NEURAL_AVX2
import _Builtin_intrinsics.intel
#endif

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

    /// Σ q[i]·k[i] over one head (`n` a multiple of 16) in the given order; `k` is a half-precision key
    /// row of the cache, `q` holds values exactly representable in f16, so every product is exact.
    @inline(__always)
    static func dot(_ q: UnsafePointer<Float>, _ k: UnsafePointer<Float16>, n: Int, order: AttentionOrder) -> Float {
        let rq = UnsafeRawPointer(q)
        @inline(__always) func loadQ(_ i: Int) -> SIMD16<Float> {
            i < n ? rq.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self) : .zero
        }
        @inline(__always) func loadK(_ i: Int) -> SIMD16<Float> { i < n ? halves(k + i) : .zero }
        switch order {
        case .batch:
            var acc = SIMD16<Float>.zero
            var i = 0
            while i < n {
                acc = acc.addingProduct(loadQ(i), loadK(i))
                i &+= 16
            }
            return reduce16(acc)
        case .single:
            var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
            var i = 0
            while i < n {
                s0 = s0.addingProduct(loadQ(i), loadK(i))
                s1 = s1.addingProduct(loadQ(i &+ 16), loadK(i &+ 16))
                s2 = s2.addingProduct(loadQ(i &+ 32), loadK(i &+ 32))
                s3 = s3.addingProduct(loadQ(i &+ 48), loadK(i &+ 48))
                i &+= 64
            }
            return reduce16((s0 + s2) + (s1 + s3))
        }
    }

    /// Σ_j p[j]·v[j] for j in 0..<count: one output dimension of the attention, `v` that dimension's row
    /// of the transposed value cache. The sum over j follows `order` (position j accumulates into slot
    /// j mod slots with fused multiply-adds; the slots are then combined as llama.cpp combines them).
    /// Reads up to `count` rounded up to a whole chunk of `p` and `v` (lanes past `count` are masked to 0).
    @inline(__always)
    static func weightedSum(_ p: UnsafePointer<Float>, _ v: UnsafePointer<Float16>, count: Int, order: AttentionOrder) -> Float {
        let rp = UnsafeRawPointer(p)
        @inline(__always) func full(_ j: Int, _ acc: SIMD16<Float>) -> SIMD16<Float> {
            acc.addingProduct(rp.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self), halves(v + j))
        }
        switch order {
        case .batch:
            var acc = SIMD16<Float>.zero
            var j = 0
            while j &+ 16 <= count {
                acc = full(j, acc)
                j &+= 16
            }
            if j < count { acc = tailProduct(p, v, j, count, acc) }
            return reduce16(acc)
        case .single:
            var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
            var j = 0
            while j &+ 64 <= count {
                s0 = full(j, s0)
                s1 = full(j &+ 16, s1)
                s2 = full(j &+ 32, s2)
                s3 = full(j &+ 48, s3)
                j &+= 64
            }
            if j < count {
                // The last, partial chunk: whole slots unmasked, at most one masked (decode steps of
                // short sequences end here for every output, so the masked path runs once, not four times).
                @inline(__always) func rest(_ i: Int, _ acc: SIMD16<Float>) -> SIMD16<Float> {
                    if i &+ 16 <= count { return full(i, acc) }
                    return i < count ? tailProduct(p, v, i, count, acc) : acc
                }
                s0 = rest(j, s0)
                s1 = rest(j &+ 16, s1)
                s2 = rest(j &+ 32, s2)
                s3 = rest(j &+ 48, s3)
            }
            return reduce16((s0 + s2) + (s1 + s3))
        }
    }

    /// acc + p[j..<j+16]·v[j..<j+16] with lanes at or past `count` taken as 0 (unchanged acc if none is left).
    @inline(never)
    static func tailProduct(_ p: UnsafePointer<Float>, _ v: UnsafePointer<Float16>, _ j: Int, _ count: Int, _ acc: SIMD16<Float>) -> SIMD16<Float> {
        let left = count &- j
        if left <= 0 { return acc }
        let lane = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let outside = lane .>= SIMD16<Int32>(repeating: Int32(left))
        let pv = UnsafeRawPointer(p).loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self).replacing(with: 0, where: outside)
        let vv = halves(v + j).replacing(with: 0, where: outside)
        return acc.addingProduct(pv, vv)
    }

    /// 16 half-precision values as floats (two 8-wide conversions: one instruction each with F16C).
    @inline(__always)
    static func halves(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
        let r = UnsafeRawPointer(p)
        #if NEURAL_AVX2
        // The generic SIMD conversion is not inlined; the F16C intrinsic is one instruction.
        let lo = _mm256_cvtph_ps(unsafeBitCast(r.loadUnaligned(as: SIMD8<UInt16>.self), to: __m128i.self))
        let hi = _mm256_cvtph_ps(unsafeBitCast(r.loadUnaligned(fromByteOffset: 16, as: SIMD8<UInt16>.self), to: __m128i.self))
        return SIMD16(lowHalf: lo, highHalf: hi)
        #else
        return SIMD16(lowHalf: SIMD8<Float>(r.loadUnaligned(as: SIMD8<Float16>.self)),
                      highHalf: SIMD8<Float>(r.loadUnaligned(fromByteOffset: 16, as: SIMD8<Float16>.self)))
        #endif
    }
}

extension DecoderAttention {
    /// x ← softmax(x) over `n` scores the way ggml's soft_max sums them: exponentials in blocks of 16
    /// (the masked tail of llama.cpp's padded row adds zeros), each block reduced as `reduce16`, the
    /// block sums added in double; then every value times Float(1 / sum), rounded to half precision
    /// (the probabilities enter the V product as f16, as in llama.cpp's kq·V matmul). Exponentials as
    /// llama.cpp's, eight at a time.
    @inline(__always)
    static func softmax(_ x: UnsafeMutablePointer<Float>, n: Int) {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, x[i]) }
        let raw = UnsafeMutableRawPointer(x)
        let mv = SIMD8<Float>(repeating: m)
        var sum: Double = 0
        var i = 0
        while i &+ 16 <= n {
            let lo = DecoderExp.exp(raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) - mv)
            let hi = DecoderExp.exp(raw.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self) - mv)
            raw.storeBytes(of: lo, toByteOffset: i &* 4, as: SIMD8<Float>.self)
            raw.storeBytes(of: hi, toByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            sum += Double(reduce16(SIMD16(lowHalf: lo, highHalf: hi)))
            i &+= 16
        }
        if i < n {
            var block = SIMD16<Float>.zero
            for l in 0..<(n &- i) {
                let e = DecoderExp.exp(x[i &+ l] - m)
                x[i &+ l] = e
                block[l] = e
            }
            sum += Double(reduce16(block))
        }
        let inv = SIMD8<Float>(repeating: Float(1 / sum))
        i = 0
        while i &+ 8 <= n {
            let p = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) * inv
            raw.storeBytes(of: SIMD8<Float>(SIMD8<Float16>(p)), toByteOffset: i &* 4, as: SIMD8<Float>.self)
            i &+= 8
        }
        while i < n {
            x[i] = Float(Float16(x[i] * inv[0]))
            i &+= 1
        }
    }
}
