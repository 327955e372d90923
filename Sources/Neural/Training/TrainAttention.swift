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
    /// Capacity of the token axis of the saved log-sum-exp buffer [heads, tokenCapacity].
    let tokenCapacity: Int
    /// Row stride of the per-thread probability scratch (the longest segment allowed).
    let window: Int
    /// Query rows per causal block (`attentionBlock`; tests use small blocks).
    var block = attentionBlock

    var qStride: Int { heads &* headDim }
    var kvStride: Int { kvHeads &* headDim }
    var group: Int { heads / kvHeads }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Log-sum-exp of the scores of head h, segment starting at token a: [count].
    @inline(__always)
    func lse(_ base: UnsafeMutablePointer<Float>, head h: Int, start a: Int) -> UnsafeMutablePointer<Float> {
        base + (h &* tokenCapacity &+ a)
    }
}

/// Rows per causal block: products of a block of query rows stop at the block's last key, so 3/8 of each
/// score matrix (most of its masked half) is never computed for a 256-token segment. Smaller blocks skip
/// more but make the products too small to run at full speed.
let attentionBlock = 64

/// Per-thread scratch of the attention kernels: probabilities and dScores [window²] of the head in hand,
/// and for helper threads private dK, dV accumulators [tokens, kvHeads·hd] (heads of one group may run on
/// different threads).
///
/// Probabilities are not kept between forward and backward: backward recomputes them from q, k and the
/// saved log-sum-exp of each row (one more Q·Kᵀ, ~1% of a step), which saves heads × tokens × window
/// floats per block (71 MiB for SmolLM2 at sequence 256).
final class AttentionScratch {
    let probs: ScratchBuffer
    let dScores: ScratchBuffer
    let dk: ScratchBuffer
    let dv: ScratchBuffer

    init(window: Int, tokens: Int, kvStride: Int, accumulators: Bool) {
        probs = ScratchBuffer(window * window)
        dScores = ScratchBuffer(window * window)
        dk = ScratchBuffer(accumulators ? tokens * kvStride : 0)
        dv = ScratchBuffer(accumulators ? tokens * kvStride : 0)
    }
}

/// The (segment, head) pairs of a batch, split into `parts` contiguous runs of about equal work
/// (work of a segment grows with its length squared).
func attentionWork(segments: [TrainSegment], heads: Int, parts: Int) -> [[(segment: TrainSegment, head: Int)]] {
    var items: [(segment: TrainSegment, head: Int)] = []
    var total = 0
    for seg in segments {
        for h in 0..<heads { items.append((seg, h)) }
        total += seg.count * seg.count * heads
    }
    var out: [[(segment: TrainSegment, head: Int)]] = Array(repeating: [], count: parts)
    var done = 0
    for item in items {
        let part = Swift.min(parts - 1, done * parts / Swift.max(total, 1))
        out[part].append(item)
        done += item.segment.count * item.segment.count
    }
    return out
}

/// Block-diagonal causal grouped-query attention: every segment attends only to itself.
/// q [n, heads·hd], k/v [n, kvHeads·hd] (after RoPE); writes out [n, heads·hd] and the log-sum-exp of
/// every score row, lse [heads, tokenCapacity]. Heads run on one thread per `scratch` entry (each product
/// single-threaded).
@inline(never)
func attentionForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    lse: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, scratch: [AttentionScratch],
    segments: [TrainSegment], shape s: AttentionShape
) {
    let work = attentionWork(segments: segments, heads: s.heads, parts: Swift.max(1, scratch.count))
    TrainParallel.forEach(work.count) { part in
        let p = scratch[part].probs.pointer
        for (seg, h) in work[part] {
            attentionHeadForward(q: q, k: k, v: v, lse: lse, out: out, p: p, start: seg.start, count: seg.count, head: h,
                                 shape: s)
        }
    }
}

/// One head of one segment: for each block of query rows [r0, r1), S = scale·Q·Kᵀ over keys 0..<r1,
/// causal softmax into `p` [len, window] (0 right of the diagonal up to r1), out = P·V.
@inline(__always)
func attentionHeadForward(
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    lse: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>,
    start a: Int, count len: Int, head h: Int, shape s: AttentionShape
) {
    let qs = s.qStride, ks = s.kvStride, hd = s.headDim, w = s.window
    let g = h / s.group
    let rowLSE = s.lse(lse, head: h, start: a)
    let qh = q + (a &* qs &+ h &* hd)
    let kh = k + (a &* ks &+ g &* hd)
    let vh = v + (a &* ks &+ g &* hd)
    let oh = out + (a &* qs &+ h &* hd)
    var r0 = 0
    while r0 < len {
        let r1 = Swift.min(len, r0 &+ s.block)
        BLAS.sgemm(transB: true, m: r1 &- r0, n: r1, k: hd, alpha: s.scale, a: qh + r0 &* qs, lda: qs, b: kh, ldb: ks,
                   c: p + r0 &* w, ldc: w)
        for i in r0..<r1 {
            rowLSE[i] = causalSoftmaxRow(p + i &* w, through: i, zeroUpTo: r1)
        }
        BLAS.sgemm(m: r1 &- r0, n: hd, k: r1, a: p + r0 &* w, lda: w, b: vh, ldb: ks, c: oh + r0 &* qs, ldc: qs)
        r0 = r1
    }
}

/// row[0...last] becomes its softmax, row[last+1..<end] zero; returns log Σ exp(row[0...last]).
@inline(__always)
func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, through last: Int, zeroUpTo end: Int) -> Float {
    var mx = row[0]
    for j in 0...last { mx = Swift.max(mx, row[j]) }
    var sum: Float = 0
    for j in 0...last {
        let e = Elementwise.fastExp(row[j] - mx)
        row[j] = e
        sum = Relaxed.sum(sum, e)
    }
    let inv = 1 / sum
    for j in 0...last { row[j] *= inv }
    var j = last &+ 1
    while j < end { row[j] = 0; j &+= 1 }
    return mx + Float.log(sum)
}

/// Recomputes causal probabilities of rows [r0, r1) from their scores in `row`s and saved log-sum-exp:
/// p = exp(s − lse) through the diagonal, 0 after it up to r1.
@inline(__always)
func causalProbabilities(_ p: UnsafeMutablePointer<Float>, rows r0: Int, _ r1: Int, stride w: Int,
                         lse: UnsafePointer<Float>) {
    for i in r0..<r1 {
        let row = p + i &* w
        let l = lse[i]
        for j in 0...i { row[j] = Elementwise.fastExp(row[j] - l) }
        var j = i &+ 1
        while j < r1 { row[j] = 0; j &+= 1 }
    }
}

/// Backward of `attentionForward`: from dOut writes dq and accumulates into dk, dv (zero them first).
/// `scratch` holds one `AttentionScratch` per thread (helper threads' with accumulators).
@inline(never)
func attentionBackward(
    dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    lse: UnsafeMutablePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
    dv: UnsafeMutablePointer<Float>, scratch: [AttentionScratch],
    segments: [TrainSegment], shape s: AttentionShape
) {
    let work = attentionWork(segments: segments, heads: s.heads, parts: Swift.max(1, scratch.count))
    let n = (segments.last.map { $0.start + $0.count } ?? 0)
    let kvCount = n &* s.kvStride
    TrainParallel.forEach(work.count) { part in
        let sc = scratch[part]
        let dkPart = part == 0 ? dk : sc.dk.pointer
        let dvPart = part == 0 ? dv : sc.dv.pointer
        if part > 0 {
            dkPart.update(repeating: 0, count: kvCount)
            dvPart.update(repeating: 0, count: kvCount)
        }
        for (seg, h) in work[part] {
            attentionHeadBackward(dOut: dOut, q: q, k: k, v: v, lse: lse, dq: dq, dk: dkPart, dv: dvPart,
                                  p: sc.probs.pointer, dScores: sc.dScores.pointer, start: seg.start, count: seg.count, head: h, shape: s)
        }
    }
    // Helper threads' dK, dV contributions, added in a fixed order (the result does not depend on timing).
    for part in 1..<Swift.max(1, work.count) {
        let pk = scratch[part].dk.pointer, pv = scratch[part].dv.pointer
        for i in 0..<kvCount {
            dk[i] += pk[i]
            dv[i] += pv[i]
        }
    }
}

/// One head of one segment. Row blocks [r0, r1): P recomputed from S = scale·Q·Kᵀ and the saved lse,
/// dP = dO·Vᵀ and dS = P ⊙ (dP − Σ P·dP) over keys 0..<r1, dQ = scale·dS·K. Column blocks [c0, c1)
/// (rows c0..<len see them): dV += Pᵀ·dO, dK += scale·dSᵀ·Q.
@inline(__always)
func attentionHeadBackward(
    dOut: UnsafePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    lse: UnsafeMutablePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
    dv: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>, dScores: UnsafeMutablePointer<Float>,
    start a: Int, count len: Int, head h: Int, shape s: AttentionShape
) {
    let qs = s.qStride, ks = s.kvStride, hd = s.headDim, w = s.window
    let g = h / s.group
    let rowLSE = s.lse(lse, head: h, start: a)
    let dO = dOut + (a &* qs &+ h &* hd)
    let qh = q + (a &* qs &+ h &* hd)
    let kh = k + (a &* ks &+ g &* hd)
    let vh = v + (a &* ks &+ g &* hd)
    let dqh = dq + (a &* qs &+ h &* hd)
    let dkh = dk + (a &* ks &+ g &* hd)
    let dvh = dv + (a &* ks &+ g &* hd)
    var r0 = 0
    while r0 < len {
        let r1 = Swift.min(len, r0 &+ s.block)
        BLAS.sgemm(transB: true, m: r1 &- r0, n: r1, k: hd, alpha: s.scale, a: qh + r0 &* qs, lda: qs, b: kh, ldb: ks,
                   c: p + r0 &* w, ldc: w)
        causalProbabilities(p, rows: r0, r1, stride: w, lse: rowLSE)
        BLAS.sgemm(transB: true, m: r1 &- r0, n: r1, k: hd, a: dO + r0 &* qs, lda: qs, b: vh, ldb: ks,
                   c: dScores + r0 &* w, ldc: w)
        for i in r0..<r1 {
            let pr = p + i &* w
            let dr = dScores + i &* w
            var dot: Float = 0
            for j in 0...i { dot = Relaxed.multiplyAdd(pr[j], dr[j], dot) }
            for j in 0...i { dr[j] = pr[j] * (dr[j] - dot) }
            var j = i &+ 1
            while j < r1 { dr[j] = 0; j &+= 1 }
        }
        BLAS.sgemm(m: r1 &- r0, n: hd, k: r1, alpha: s.scale, a: dScores + r0 &* w, lda: w, b: kh, ldb: ks,
                   c: dqh + r0 &* qs, ldc: qs)
        r0 = r1
    }
    var c0 = 0
    while c0 < len {
        let c1 = Swift.min(len, c0 &+ s.block)
        let rows = len &- c0
        BLAS.sgemm(transA: true, m: c1 &- c0, n: hd, k: rows, a: p + (c0 &* w &+ c0), lda: w, b: dO + c0 &* qs, ldb: qs,
                   beta: 1, c: dvh + c0 &* ks, ldc: ks)
        BLAS.sgemm(transA: true, m: c1 &- c0, n: hd, k: rows, alpha: s.scale, a: dScores + (c0 &* w &+ c0), lda: w,
                   b: qh + c0 &* qs, ldb: qs, beta: 1, c: dkh + c0 &* ks, ldc: ks)
        c0 = c1
    }
}
