extension LlamaTrainModel {
    /// Runs the model on `batch`, keeping what backward needs; returns Σ logp over tokens with a target.
    ///
    /// Per-token values are then available through `logProb(at:)` until the next forward.
    @discardableResult
    public func forward(_ batch: TrainBatch) throws -> Double {
        try batch.validate(vocabSize: config.vocabSize, capacity: capacity)
        return withStepThreads { forwardValidated(batch) }
    }

    func forwardValidated(_ batch: TrainBatch) -> Double {
        let n = batch.count
        let d = config.dim
        lastTokenCount = n
        for s in batch.segments {
            for i in 0..<s.count { positions[s.start &+ i] = Int32(i) }
        }
        let x0 = residualRow(0)
        batch.tokens.withUnsafeBufferPointer { tok in
            for t in 0..<n {
                (x0 + t &* d).update(from: embedding.data + Int(tok[t]) &* d, count: d)
            }
        }
        for l in 0..<config.layers {
            layerForward(l, tokens: n, segments: batch.segments)
        }
        return headForward(batch)
    }

    /// logp of the target at token `t` of the last forward (0 when it had no target).
    public func logProb(at t: Int) -> Float { tokenLogProbs.pointer[t] }

    /// Σ logp over tokens `range` of the last forward, in Double.
    public func sumLogProbs(_ range: Range<Int>) -> Double {
        var s = 0.0
        for t in range { s += Double(tokenLogProbs.pointer[t]) }
        return s
    }

    func dropoutSeed(layer: Int, target: Int) -> UInt64? {
        guard isTraining, adaptersEnabled, (mode.lora?.dropout ?? 0) > 0 else { return nil }
        return TrainingRandom.derive(dropoutSeed, UInt64(layer), UInt64(target))
    }

    /// One block: x_{l+1} = h + down(silu(gate(n2)) ⊙ up(n2)), h = x_l + o(attn(rope(q,k,v)(n1))).
    func layerForward(_ l: Int, tokens n: Int, segments: [TrainSegment]) {
        let c = config
        let layer = layers[l]
        let a = savedActivations(l)
        let x = residualRow(l)
        let out = residualRow(l &+ 1)
        let on = adaptersEnabled
        let th = stepThreads
        func project(_ t: LoRATarget, _ input: ScratchBuffer, _ output: UnsafeMutablePointer<Float>) {
            layer[t].forward(x: input.pointer, tokens: n, y: output, saved: a.linear[t.index], scratch: scratch,
                             adaptersOn: on, dropoutSeed: dropoutSeed(layer: l, target: t.index), threads: th)
        }
        rmsnormForward(x: x, weight: layer.attnNorm.data, y: normed.pointer, rstd: a.rstd1.pointer, rows: n, dim: c.dim,
                       eps: c.normEps, threads: th)
        project(.q, normed, a.q.pointer)
        project(.k, normed, a.k.pointer)
        project(.v, normed, a.v.pointer)
        applyRoPE(a.q.pointer, rows: n, heads: c.heads, headDim: c.headDim, positions: positions, table: rope,
                  style: c.ropeStyle, inverse: false, threads: th)
        applyRoPE(a.k.pointer, rows: n, heads: c.kvHeads, headDim: c.headDim, positions: positions, table: rope,
                  style: c.ropeStyle, inverse: false, threads: th)
        attentionForward(q: a.q.pointer, k: a.k.pointer, v: a.v.pointer, lse: a.lse.pointer, out: a.att.pointer,
                         scratch: attentionScratch(threads: th), segments: segments, shape: shape)
        project(.o, a.att, a.xmid.pointer)
        let nd = n &* c.dim
        let xm = a.xmid.pointer
        trainAdd(xm, x, count: nd, threads: th)
        rmsnormForward(x: xm, weight: layer.ffnNorm.data, y: normed.pointer, rstd: a.rstd2.pointer, rows: n, dim: c.dim,
                       eps: c.normEps, threads: th)
        project(.gate, normed, a.gate.pointer)
        project(.up, normed, a.up.pointer)
        swigluForward(gate: a.gate.pointer, up: a.up.pointer, out: hidden.pointer, count: n &* c.ffnDim, threads: th)
        project(.down, hidden, out)
        trainAdd(out, xm, count: nd, threads: th)
    }

    /// Final norm, tied output projection on rows with a target, log-softmax at the targets.
    func headForward(_ batch: TrainBatch) -> Double {
        let c = config
        let n = batch.count
        let d = c.dim
        rmsnormForward(x: residualRow(c.layers), weight: finalNorm.data, y: xf.pointer, rstd: rstdF.pointer, rows: n,
                       dim: d, eps: c.normEps, threads: stepThreads)
        var m = 0
        batch.targets.withUnsafeBufferPointer { tg in
            for t in 0..<n where tg[t] >= 0 {
                activeRows[m] = Int32(t)
                activeTargets[m] = tg[t]
                (xfActive.pointer + m &* d).update(from: xf.pointer + t &* d, count: d)
                m &+= 1
            }
        }
        activeCount = m
        tokenLogProbs.zero(n)
        guard m > 0 else { return 0 }
        TrainParallel.sgemm(threads: stepThreads, transB: true, m: m, n: c.vocabSize, k: d, a: xfActive.pointer, lda: d,
                            b: embedding.data, ldb: d, c: logits.pointer, ldc: c.vocabSize)
        logSoftmaxRows(logits: logits.pointer, rows: m, vocab: c.vocabSize, targets: activeTargets, inverseSum: inverseSum.pointer,
                       logProbs: activeLogProbs.pointer, threads: stepThreads)
        var total = 0.0
        for r in 0..<m {
            let lp = activeLogProbs.pointer[r]
            tokenLogProbs.pointer[Int(activeRows[r])] = lp
            total += Double(lp)
        }
        return total
    }
}
