import RealModule

// Element-wise forward and backward kernels of the Llama block. Plain pointers, wrapping index math,
// relaxed reductions, no allocation.

/// y = x · rstd · w per row, rstd = 1/√(mean(x²) + eps); saves rstd [rows].
@inline(never)
func rmsnormForward(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    rstd: UnsafeMutablePointer<Float>, rows: Int, dim: Int, eps: Float, threads: Int = 1
) {
    let invDim = 1 / Float(dim)
    TrainParallel.forChunks(rows, threads: threads, minimum: 16) { range in
        for t in range {
            let xr = x + t &* dim
            let yr = y + t &* dim
            var ss: Float = 0
            for i in 0..<dim { ss = Relaxed.multiplyAdd(xr[i], xr[i], ss) }
            let r = 1 / (ss * invDim + eps).squareRoot()
            rstd[t] = r
            for i in 0..<dim { yr[i] = xr[i] * r * weight[i] }
        }
    }
}

/// dx += rstd·w·dy − rstd³·x·Σ(w·dy·x)/d per row; dw += Σ_rows dy·x·rstd when `dWeight` is given
/// (then on one thread: the rows all add into dw).
@inline(never)
func rmsnormBackward(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?, rows: Int, dim: Int, threads: Int = 1
) {
    let invDim = 1 / Float(dim)
    TrainParallel.forChunks(rows, threads: dWeight == nil ? threads : 1, minimum: 16) { range in
        for t in range {
            let xr = x + t &* dim
            let gr = dy + t &* dim
            let dr = dx + t &* dim
            let r = rstd[t]
            var dot: Float = 0
            for i in 0..<dim { dot = Relaxed.multiplyAdd(gr[i] * weight[i], xr[i], dot) }
            let c = r * r * r * dot * invDim
            for i in 0..<dim { dr[i] += r * weight[i] * gr[i] - c * xr[i] }
            if let dWeight {
                for i in 0..<dim { dWeight[i] += gr[i] * xr[i] * r }
            }
        }
    }
}

/// Rotary tables: cos and sin of pos · θ^(−2i/headDim) for pos < maxPositions, i < headDim/2.
final class RoPETable {
    let cos: ScratchBuffer
    let sin: ScratchBuffer
    let half: Int
    let positions: Int

    init(headDim: Int, maxPositions: Int, theta: Double) {
        half = headDim / 2
        positions = maxPositions
        cos = ScratchBuffer(maxPositions * half)
        sin = ScratchBuffer(maxPositions * half)
        for p in 0..<maxPositions {
            for i in 0..<half {
                let freq = Double.pow(theta, -2 * Double(i) / Double(headDim))
                let angle = Double(p) * freq
                cos.pointer[p &* half &+ i] = Float(Double.cos(angle))
                sin.pointer[p &* half &+ i] = Float(Double.sin(angle))
            }
        }
    }
}

/// Rotates every head of x [rows, heads·headDim] by its token's position; `inverse` applies the transpose
/// (the backward pass of the rotation).
@inline(never)
func applyRoPE(
    _ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, positions: UnsafePointer<Int32>,
    table: RoPETable, style: RoPEStyle, inverse: Bool, threads: Int = 1
) {
    let half = headDim / 2
    let width = heads &* headDim
    let cosT = table.cos.pointer, sinT = table.sin.pointer
    let sign: Float = inverse ? -1 : 1
    // Pair (i0, i1) of dimension pair i: adjacent for interleaved, half apart for halves.
    let (stride0, offset1): (Int, Int) = style == .interleaved ? (2, 1) : (1, half)
    TrainParallel.forChunks(rows, threads: threads, minimum: 16) { range in
        for t in range {
            let p = Int(positions[t])
            let c = cosT + p &* half
            let s = sinT + p &* half
            let row = x + t &* width
            for h in 0..<heads {
                let v = row + h &* headDim
                for i in 0..<half {
                    let i0 = i &* stride0
                    let i1 = i0 &+ offset1
                    let a = v[i0], b = v[i1]
                    let cs = c[i], sn = sign * s[i]
                    v[i0] = a * cs - b * sn
                    v[i1] = a * sn + b * cs
                }
            }
        }
    }
}

/// σ(g) = 1/(1 + e^(−g)) with the branch-free exponential, so loops over it vectorise.
@inline(__always)
func trainSigmoid(_ g: Float) -> Float { 1 / (1 + Elementwise.fastExp(-g)) }

/// out = silu(gate) ⊙ up.
@inline(never)
func swigluForward(
    gate: UnsafePointer<Float>, up: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, count: Int, threads: Int = 1
) {
    TrainParallel.forChunks(count, threads: threads) { range in
        for i in range {
            let g = gate[i]
            out[i] = g * trainSigmoid(g) * up[i]
        }
    }
}

/// dgate = dout·up·σ(g)(1 + g(1 − σ(g))), dup = dout·silu(g).
@inline(never)
func swigluBackward(
    dOut: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>,
    dGate: UnsafeMutablePointer<Float>, dUp: UnsafeMutablePointer<Float>, count: Int, threads: Int = 1
) {
    TrainParallel.forChunks(count, threads: threads) { range in
        for i in range {
            let g = gate[i]
            let s = trainSigmoid(g)
            let d = dOut[i]
            dGate[i] = d * up[i] * s * (1 + g * (1 - s))
            dUp[i] = d * g * s
        }
    }
}

/// x[i] += y[i] (the residual adds).
@inline(never)
func trainAdd(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int, threads: Int = 1) {
    TrainParallel.forChunks(count, threads: threads) { range in
        for i in range { x[i] += y[i] }
    }
}

/// For each row: logp = logits[target] − log Σ exp(logits). Leaves e_j = exp(logit_j − max) in the row and
/// 1/Σe in `inverseSum`, so backward needs no second pass of exponentials.
@inline(never)
func logSoftmaxRows(
    logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, targets: UnsafePointer<Int32>,
    inverseSum: UnsafeMutablePointer<Float>, logProbs: UnsafeMutablePointer<Float>, threads: Int = 1
) {
    TrainParallel.forChunks(rows, threads: threads, minimum: 4) { range in
        for r in range {
            let row = logits + r &* vocab
            var mx = row[0]
            for j in 1..<max(vocab, 1) { mx = Swift.max(mx, row[j]) }
            let shiftedTarget = row[Int(targets[r])] - mx
            var sum: Float = 0
            for j in 0..<vocab {
                let e = Elementwise.fastExp(row[j] - mx)
                row[j] = e
                sum = Relaxed.sum(sum, e)
            }
            inverseSum[r] = 1 / sum
            logProbs[r] = shiftedTarget - Float.log(sum)
        }
    }
}

/// In place: row r (holding e_j from `logSoftmaxRows`) becomes g_r · (onehot(target) − softmax), the
/// gradient of Σ g_r·logp_r with respect to the logits.
@inline(never)
func logSoftmaxBackwardRows(
    logits: UnsafeMutablePointer<Float>, rows: Int, vocab: Int, targets: UnsafePointer<Int32>,
    inverseSum: UnsafePointer<Float>, gradient: UnsafePointer<Float>, threads: Int = 1
) {
    TrainParallel.forChunks(rows, threads: threads, minimum: 4) { range in
        for r in range {
            let row = logits + r &* vocab
            let g = gradient[r]
            let scale = -g * inverseSum[r]
            for j in 0..<vocab { row[j] *= scale }
            row[Int(targets[r])] += g
        }
    }
}
