/// The frozen (or fully trainable) base matrix of a projection: f32, or quantised and dequantised on use.
enum BaseWeight {
    case dense(TrainTensor)
    case quantized(QuantizedMatrix)
}

/// A LoRA adapter: A [rank, in] and B [out, rank], applied as y += scale · B · A · dropout(x).
public final class LoRAAdapter {
    /// Down projection [rank, in].
    public let a: TrainTensor
    /// Up projection [out, rank].
    public let b: TrainTensor
    /// Rank r.
    public let rank: Int
    /// alpha / rank.
    public let scale: Float
    /// Dropout probability on the adapter input.
    public let dropout: Float

    init(name: String, inFeatures: Int, outFeatures: Int, config: LoRAConfig) {
        rank = config.rank
        scale = config.scale
        dropout = config.dropout
        a = TrainTensor(name: name + ".lora_A", shape: [config.rank, inFeatures])
        b = TrainTensor(name: name + ".lora_B", shape: [outFeatures, config.rank])
        a.enableGradient()
        b.enableGradient()
    }

    /// PEFT's initialisation: A ~ U(−1/√in, 1/√in) (Kaiming-uniform with a = √5), B = 0.
    func initialise(rng: inout TrainingRandom) {
        let bound = 1 / Float(a.shape[1]).squareRoot()
        for i in 0..<a.count { a.data[i] = (2 * rng.nextUniform() - 1) * bound }
        b.values.update(repeating: 0)
    }
}

/// What one projection saved during the forward pass for its backward pass.
final class LinearActivations {
    /// u = dropout(x) · Aᵀ, [tokens, rank].
    let u: ScratchBuffer
    /// dropout(x) and the scaled keep mask, [tokens, in]; allocated only when dropout > 0.
    let dropped: ScratchBuffer?
    let mask: ScratchBuffer?
    /// Whether the last forward applied dropout (training with adapters on).
    var dropoutApplied = false

    init(tokens: Int, inFeatures: Int, adapter: LoRAAdapter) {
        u = ScratchBuffer(tokens * adapter.rank)
        if adapter.dropout > 0 {
            dropped = ScratchBuffer(tokens * inFeatures)
            mask = ScratchBuffer(tokens * inFeatures)
        } else {
            dropped = nil
            mask = nil
        }
    }
}

/// Scratch shared by every projection of a model (one owner; never used concurrently).
final class LinearScratch {
    /// Dequantised base matrix (QLoRA), [maxOut · maxIn].
    let dequantised: ScratchBuffer
    /// dL/du, [tokens, maxRank].
    let du: ScratchBuffer
    /// Adapter contribution to dL/dx before the dropout mask, [tokens, maxIn].
    let dxAdapter: ScratchBuffer

    init(tokens: Int, maxMatrix: Int, maxRank: Int, maxIn: Int, needsDequant: Bool, needsDropout: Bool) {
        dequantised = ScratchBuffer(needsDequant ? maxMatrix : 0)
        du = ScratchBuffer(tokens * maxRank)
        dxAdapter = ScratchBuffer(needsDropout ? tokens * maxIn : 0)
    }
}

/// A projection y = x · Wᵀ (+ LoRA), W stored [out, in]; forward and backward through `BLAS.sgemm`.
final class TrainLinear {
    let name: String
    let inFeatures: Int
    let outFeatures: Int
    var base: BaseWeight
    let adapter: LoRAAdapter?

    init(name: String, weight: TrainTensor, quantization: BaseQuantization?, adapter: LoRAAdapter?) {
        self.name = name
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        if let quantization {
            base = .quantized(QuantizedMatrix(kind: quantization, rows: outFeatures, columns: inFeatures, values: weight.data))
        } else {
            base = .dense(weight)
        }
        self.adapter = adapter
    }

    /// The base matrix as f32 (dequantising into scratch when quantised).
    @inline(__always)
    private func baseMatrix(_ scratch: LinearScratch) -> UnsafePointer<Float> {
        switch base {
        case .dense(let t):
            return UnsafePointer(t.data)
        case .quantized(let q):
            q.dequantise(into: scratch.dequantised.pointer)
            return UnsafePointer(scratch.dequantised.pointer)
        }
    }

    /// The trainable base tensor (full fine-tuning), if any.
    var trainableBase: TrainTensor? {
        if case .dense(let t) = base, t.grad != nil { return t }
        return nil
    }

    /// y[n, out] = x[n, in] · Wᵀ + scale · (dropout(x) · Aᵀ) · Bᵀ.
    func forward(
        x: UnsafePointer<Float>, tokens n: Int, y: UnsafeMutablePointer<Float>,
        saved: LinearActivations?, scratch: LinearScratch, adaptersOn: Bool, dropoutSeed: UInt64?, threads: Int = 1
    ) {
        let w = baseMatrix(scratch)
        TrainParallel.sgemm(threads: threads, transB: true, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: w, ldb: inFeatures,
                   c: y, ldc: outFeatures)
        guard adaptersOn, let lora = adapter, let saved else { return }
        var input = x
        saved.dropoutApplied = false
        if lora.dropout > 0, let seed = dropoutSeed, let dropped = saved.dropped, let mask = saved.mask {
            fillDropout(x: x, count: n &* inFeatures, p: lora.dropout, seed: seed, mask: mask.pointer, out: dropped.pointer)
            input = UnsafePointer(dropped.pointer)
            saved.dropoutApplied = true
        }
        let r = lora.rank
        TrainParallel.sgemm(threads: threads, transB: true, m: n, n: r, k: inFeatures, a: input, lda: inFeatures, b: lora.a.data, ldb: inFeatures,
                   c: saved.u.pointer, ldc: r)
        TrainParallel.sgemm(threads: threads, transB: true, m: n, n: outFeatures, k: r, alpha: lora.scale, a: saved.u.pointer, lda: r,
                   b: lora.b.data, ldb: r, beta: 1, c: y, ldc: outFeatures)
    }

    /// Given dL/dy, writes (or adds, when `accumulate`) dL/dx and adds weight gradients to trainable tensors.
    func backward(
        x: UnsafePointer<Float>, dy: UnsafePointer<Float>, tokens n: Int, dx: UnsafeMutablePointer<Float>,
        accumulate: Bool, saved: LinearActivations?, scratch: LinearScratch, adaptersOn: Bool, threads: Int = 1
    ) {
        let w = baseMatrix(scratch)
        TrainParallel.sgemm(threads: threads, m: n, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: w, ldb: inFeatures,
                   beta: accumulate ? 1 : 0, c: dx, ldc: inFeatures)
        if let t = trainableBase, let g = t.grad {
            TrainParallel.sgemm(threads: threads, transA: true, m: outFeatures, n: inFeatures, k: n, a: dy, lda: outFeatures, b: x, ldb: inFeatures,
                       beta: 1, c: g, ldc: inFeatures)
        }
        guard adaptersOn, let lora = adapter, let saved, let gA = lora.a.grad, let gB = lora.b.grad else { return }
        let r = lora.rank
        let input = saved.dropoutApplied ? UnsafePointer(saved.dropped!.pointer) : x
        let du = scratch.du.pointer
        // dB += scale · dyᵀ · u
        TrainParallel.sgemm(threads: threads, transA: true, m: outFeatures, n: r, k: n, alpha: lora.scale, a: dy, lda: outFeatures,
                   b: saved.u.pointer, ldb: r, beta: 1, c: gB, ldc: r)
        // du = scale · dy · B
        TrainParallel.sgemm(threads: threads, m: n, n: r, k: outFeatures, alpha: lora.scale, a: dy, lda: outFeatures, b: lora.b.data, ldb: r,
                   c: du, ldc: r)
        // dA += duᵀ · dropout(x)
        TrainParallel.sgemm(threads: threads, transA: true, m: r, n: inFeatures, k: n, a: du, lda: r, b: input, ldb: inFeatures,
                   beta: 1, c: gA, ldc: inFeatures)
        // dx += (du · A) ⊙ mask
        if saved.dropoutApplied, let mask = saved.mask {
            let tmp = scratch.dxAdapter.pointer
            TrainParallel.sgemm(threads: threads, m: n, n: inFeatures, k: r, a: du, lda: r, b: lora.a.data, ldb: inFeatures,
                                c: tmp, ldc: inFeatures)
            let m = mask.pointer
            for i in 0..<(n &* inFeatures) { dx[i] += tmp[i] * m[i] }
        } else {
            TrainParallel.sgemm(threads: threads, m: n, n: inFeatures, k: r, a: du, lda: r, b: lora.a.data, ldb: inFeatures, beta: 1,
                       c: dx, ldc: inFeatures)
        }
    }

    /// The effective f32 matrix W + scale · B · A (or W when there is no adapter), [out, in].
    func mergedWeight(name: String, scratch: LinearScratch) -> TrainTensor {
        let merged = TrainTensor(name: name, shape: [outFeatures, inFeatures])
        merged.data.update(from: baseMatrix(scratch), count: merged.count)
        if let lora = adapter {
            BLAS.sgemm(m: outFeatures, n: inFeatures, k: lora.rank, alpha: lora.scale, a: lora.b.data, lda: lora.rank,
                       b: lora.a.data, ldb: inFeatures, beta: 1, c: merged.data, ldc: inFeatures)
        }
        return merged
    }
}

/// Inverted dropout: mask = 1/(1−p) with probability 1−p, else 0; out = x ⊙ mask. Stateless in `seed`.
@inline(never)
func fillDropout(
    x: UnsafePointer<Float>, count: Int, p: Float, seed: UInt64,
    mask: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
) {
    var rng = TrainingRandom(seed: seed)
    let keep = 1 / (1 - p)
    for i in 0..<count {
        let m: Float = rng.nextUniform() < p ? 0 : keep
        mask[i] = m
        out[i] = x[i] * m
    }
}
