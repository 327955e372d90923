extension LlamaTrainModel {
    /// Back-propagates dL/dlogp_t (given for every token of the last forward's batch, [n]) and adds the
    /// weight gradients into the trainable tensors (call `zeroGradients()` between optimiser steps).
    public func backward(_ batch: TrainBatch, logProbGradient: UnsafeBufferPointer<Float>) {
        precondition(batch.count == lastTokenCount && logProbGradient.count >= batch.count,
                     "backward needs the batch of the last forward and one gradient per token")
        withStepThreads { backwardChecked(batch, logProbGradient: logProbGradient) }
    }

    func backwardChecked(_ batch: TrainBatch, logProbGradient: UnsafeBufferPointer<Float>) {
        let c = config
        let n = batch.count
        let d = c.dim
        dResidual.zero(n &* d)
        headBackward(logProbGradient)
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            // With checkpointing the shared buffers hold the last block already; recompute the others.
            if gradientCheckpointing && l != c.layers - 1 {
                layerForward(l, tokens: n, segments: batch.segments)
            }
            layerBackward(l, tokens: n, segments: batch.segments)
        }
        if let gE = embedding.grad {
            let dx = dResidual.pointer
            batch.tokens.withUnsafeBufferPointer { tok in
                for t in 0..<n {
                    let row = gE + Int(tok[t]) &* d
                    let src = dx + t &* d
                    for i in 0..<d { row[i] += src[i] }
                }
            }
        }
    }

    /// Convenience: back-propagates a gradient given as an array.
    public func backward(_ batch: TrainBatch, logProbGradient: [Float]) {
        logProbGradient.withUnsafeBufferPointer { backward(batch, logProbGradient: $0) }
    }

    func headBackward(_ gradient: UnsafeBufferPointer<Float>) {
        let c = config
        let d = c.dim
        let m = activeCount
        let n = lastTokenCount
        let dxf = dXf.pointer
        dXf.zero(n &* d)
        if m > 0 {
            let g = activeGradient.pointer
            for r in 0..<m { g[r] = gradient[Int(activeRows[r])] }
            logSoftmaxBackwardRows(logits: logits.pointer, rows: m, vocab: c.vocabSize, targets: activeTargets,
                                   inverseSum: inverseSum.pointer, gradient: g, threads: stepThreads)
            // dxf_active = dlogits · E (reuse xfActive's sibling: write into dNormed, then scatter)
            let dxa = dNormed.pointer
            TrainParallel.sgemm(threads: stepThreads, m: m, n: d, k: c.vocabSize, a: logits.pointer, lda: c.vocabSize,
                                b: embedding.data, ldb: d, c: dxa, ldc: d)
            if let gE = embedding.grad {
                TrainParallel.sgemm(threads: stepThreads, transA: true, m: c.vocabSize, n: d, k: m, a: logits.pointer, lda: c.vocabSize,
                           b: xfActive.pointer, ldb: d, beta: 1, c: gE, ldc: d)
            }
            for r in 0..<m {
                (dxf + Int(activeRows[r]) &* d).update(from: dxa + r &* d, count: d)
            }
        }
        rmsnormBackward(dy: dxf, x: residualRow(c.layers), weight: finalNorm.data, rstd: rstdF.pointer,
                        dx: dResidual.pointer, dWeight: finalNorm.grad, rows: n, dim: d, threads: stepThreads)
    }

    /// dResidual holds dL/dx_{l+1} on entry and dL/dx_l on exit.
    func layerBackward(_ l: Int, tokens n: Int, segments: [TrainSegment]) {
        let c = config
        let layer = layers[l]
        let a = savedActivations(l)
        let on = adaptersEnabled
        let dres = dResidual.pointer
        let th = stepThreads
        func project(_ t: LoRATarget, _ input: ScratchBuffer, _ dy: UnsafeMutablePointer<Float>,
                     _ dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
            layer[t].backward(x: input.pointer, dy: dy, tokens: n, dx: dx, accumulate: accumulate,
                              saved: a.linear[t.index], scratch: scratch, adaptersOn: on, threads: th)
        }
        // Feed-forward: out = xmid + down(hidden); hidden and the normed input are recomputed.
        swigluForward(gate: a.gate.pointer, up: a.up.pointer, out: hidden.pointer, count: n &* c.ffnDim, threads: th)
        project(.down, hidden, dres, dHidden.pointer, accumulate: false)
        swigluBackward(dOut: dHidden.pointer, gate: a.gate.pointer, up: a.up.pointer, dGate: dGate.pointer,
                       dUp: dUp.pointer, count: n &* c.ffnDim, threads: th)
        rmsnormForward(x: a.xmid.pointer, weight: layer.ffnNorm.data, y: normed.pointer, rstd: a.rstd2.pointer, rows: n,
                       dim: c.dim, eps: c.normEps, threads: th)
        project(.gate, normed, dGate.pointer, dNormed.pointer, accumulate: false)
        project(.up, normed, dUp.pointer, dNormed.pointer, accumulate: true)
        rmsnormBackward(dy: dNormed.pointer, x: a.xmid.pointer, weight: layer.ffnNorm.data, rstd: a.rstd2.pointer,
                        dx: dres, dWeight: layer.ffnNorm.grad, rows: n, dim: c.dim, threads: th)
        // Attention: xmid = x + o(att)
        project(.o, a.att, dres, dAtt.pointer, accumulate: false)
        dk.zero(n &* c.kvDim)
        dv.zero(n &* c.kvDim)
        attentionBackward(dOut: dAtt.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, lse: a.lse.pointer,
                          dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, scratch: attentionScratch(threads: th),
                          segments: segments, shape: shape)
        applyRoPE(dq.pointer, rows: n, heads: c.heads, headDim: c.headDim, positions: positions, table: rope,
                  style: c.ropeStyle, inverse: true, threads: th)
        applyRoPE(dk.pointer, rows: n, heads: c.kvHeads, headDim: c.headDim, positions: positions, table: rope,
                  style: c.ropeStyle, inverse: true, threads: th)
        rmsnormForward(x: residualRow(l), weight: layer.attnNorm.data, y: normed.pointer, rstd: a.rstd1.pointer, rows: n,
                       dim: c.dim, eps: c.normEps, threads: th)
        project(.q, normed, dq.pointer, dNormed.pointer, accumulate: false)
        project(.k, normed, dk.pointer, dNormed.pointer, accumulate: true)
        project(.v, normed, dv.pointer, dNormed.pointer, accumulate: true)
        rmsnormBackward(dy: dNormed.pointer, x: residualRow(l), weight: layer.attnNorm.data, rstd: a.rstd1.pointer,
                        dx: dres, dWeight: layer.attnNorm.grad, rows: n, dim: c.dim, threads: th)
    }
}
