import RealModule

/// A run of consecutive tokens that attend only to each other (one packed sample).
public struct TrainSegment: Sendable, Equatable, Codable {
    /// Index of the first token in the flattened batch.
    public var start: Int
    /// Number of tokens.
    public var count: Int

    /// Creates a segment.
    public init(start: Int, count: Int) {
        self.start = start
        self.count = count
    }
}

/// Shapes shared by the attention kernels.
struct AttentionShape {
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    /// Capacity of the token axis of the probability buffer.
    let tokenCapacity: Int
    /// Row stride of the probability buffer (the longest segment allowed).
    let window: Int

    var qStride: Int { heads &* headDim }
    var kvStride: Int { kvHeads &* headDim }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Probabilities of head h, segment starting at token a: [count, count] with row stride `window`.
    @inline(__always)
    func probs(_ base: UnsafeMutablePointer<Float>, head h: Int, start a: Int) -> UnsafeMutablePointer<Float> {
        base + (h &* tokenCapacity &+ a) &* window
    }
}

/// Block-diagonal causal grouped-query attention: every segment attends only to itself.
/// q [n, heads·hd], k/v [n, kvHeads·hd] (after RoPE); writes probs and out [n, heads·hd].
@inline(never)
func attentionForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    probs: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
    segments: [TrainSegment], shape s: AttentionShape
) {
    let qs = s.qStride, ks = s.kvStride, hd = s.headDim, w = s.window
    for seg in segments {
        let a = seg.start, len = seg.count
        for h in 0..<s.heads {
            let g = h / s.group
            let p = s.probs(probs, head: h, start: a)
            BLAS.sgemm(transB: true, m: len, n: len, k: hd, alpha: s.scale, a: q + (a &* qs &+ h &* hd), lda: qs,
                       b: k + (a &* ks &+ g &* hd), ldb: ks, c: p, ldc: w)
            for i in 0..<len {
                let row = p + i &* w
                var mx = row[0]
                for j in 0...i { mx = Swift.max(mx, row[j]) }
                var sum: Float = 0
                for j in 0...i {
                    let e = Float.exp(row[j] - mx)
                    row[j] = e
                    sum = Relaxed.sum(sum, e)
                }
                let inv = 1 / sum
                for j in 0...i { row[j] *= inv }
                var j = i &+ 1
                while j < len { row[j] = 0; j &+= 1 }
            }
            BLAS.sgemm(m: len, n: hd, k: len, a: p, lda: w, b: v + (a &* ks &+ g &* hd), ldb: ks,
                       c: out + (a &* qs &+ h &* hd), ldc: qs)
        }
    }
}

/// Backward of `attentionForward`: from dOut writes dq and accumulates into dk, dv (zero them first).
/// `dScores` is scratch of at least window² floats.
@inline(never)
func attentionBackward(
    dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    probs: UnsafeMutablePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
    dv: UnsafeMutablePointer<Float>, dScores: UnsafeMutablePointer<Float>,
    segments: [TrainSegment], shape s: AttentionShape
) {
    let qs = s.qStride, ks = s.kvStride, hd = s.headDim, w = s.window
    for seg in segments {
        let a = seg.start, len = seg.count
        for h in 0..<s.heads {
            let g = h / s.group
            let p = s.probs(probs, head: h, start: a)
            let dO = dOut + (a &* qs &+ h &* hd)
            let kh = k + (a &* ks &+ g &* hd)
            let vh = v + (a &* ks &+ g &* hd)
            // dP = dO · Vᵀ
            BLAS.sgemm(transB: true, m: len, n: len, k: hd, a: dO, lda: qs, b: vh, ldb: ks, c: dScores, ldc: w)
            // dV += Pᵀ · dO
            BLAS.sgemm(transA: true, m: len, n: hd, k: len, a: p, lda: w, b: dO, ldb: qs, beta: 1,
                       c: dv + (a &* ks &+ g &* hd), ldc: ks)
            // dS = P ⊙ (dP − Σ_j P·dP), zero above the diagonal
            for i in 0..<len {
                let pr = p + i &* w
                let dr = dScores + i &* w
                var dot: Float = 0
                for j in 0...i { dot = Relaxed.multiplyAdd(pr[j], dr[j], dot) }
                for j in 0...i { dr[j] = pr[j] * (dr[j] - dot) }
                var j = i &+ 1
                while j < len { dr[j] = 0; j &+= 1 }
            }
            // dQ = scale · dS · K ; dK += scale · dSᵀ · Q
            BLAS.sgemm(m: len, n: hd, k: len, alpha: s.scale, a: dScores, lda: w, b: kh, ldb: ks,
                       c: dq + (a &* qs &+ h &* hd), ldc: qs)
            BLAS.sgemm(transA: true, m: len, n: hd, k: len, alpha: s.scale, a: dScores, lda: w,
                       b: q + (a &* qs &+ h &* hd), ldb: qs, beta: 1, c: dk + (a &* ks &+ g &* hd), ldc: ks)
        }
    }
}
