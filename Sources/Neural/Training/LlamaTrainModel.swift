/// How many tokens one forward pass may hold; decides every buffer size up front.
public struct TrainCapacity: Sendable, Equatable {
    /// Tokens in one micro-batch (all packed rows together).
    public var maxTokens: Int
    /// Longest segment (sample) allowed; the RoPE table and attention rows are this long.
    public var maxSegmentLength: Int

    /// Creates a capacity.
    public init(maxTokens: Int, maxSegmentLength: Int) {
        self.maxTokens = maxTokens
        self.maxSegmentLength = maxSegmentLength
    }
}

/// One block of the training model: norms and seven projections.
final class TrainLayer {
    let attnNorm: TrainTensor
    let ffnNorm: TrainTensor
    /// q, k, v, o, gate, up, down (in `LoRATarget.allCases` order).
    let linears: [TrainLinear]

    init(weights: LlamaTrainLayerWeights, mode: TrainingMode, rng: inout TrainingRandom) {
        attnNorm = weights.attnNorm
        ffnNorm = weights.ffnNorm
        var quantization: BaseQuantization?
        if case .qlora(_, let kind) = mode { quantization = kind }
        linears = LoRATarget.allCases.map { target in
            let w = weights.weight(target)
            let stem = String(w.name.dropLast(".weight".count))
            var adapter: LoRAAdapter?
            if let lora = mode.lora, lora.targets.contains(target) {
                adapter = LoRAAdapter(name: stem, inFeatures: w.shape[1], outFeatures: w.shape[0], config: lora)
                adapter!.initialise(rng: &rng)
            }
            return TrainLinear(name: stem, weight: w, quantization: quantization, adapter: adapter)
        }
    }

    @inline(__always) subscript(_ t: LoRATarget) -> TrainLinear { linears[t.index] }
}

/// What one block saved in its forward pass (one per block, or one shared with gradient checkpointing).
///
/// The normed inputs and the SwiGLU product are not kept: backward recomputes them from the residual
/// stream, `xmid`, `gate` and `up` (element-wise work, a few % of a step) to save 3 rows of width
/// d, d and ffn per token and block.
final class LayerActivations {
    let rstd1, q, k, v, att, xmid, rstd2, gate, up: ScratchBuffer
    /// Log-sum-exp of every attention score row [heads, tokens]: backward rebuilds the probabilities from it.
    let lse: ScratchBuffer
    /// Per projection (LoRA targets only).
    let linear: [LinearActivations?]

    init(config c: LlamaTrainConfig, capacity: TrainCapacity, layer: TrainLayer) {
        let n = capacity.maxTokens
        rstd1 = ScratchBuffer(n)
        q = ScratchBuffer(n * c.qDim)
        k = ScratchBuffer(n * c.kvDim)
        v = ScratchBuffer(n * c.kvDim)
        lse = ScratchBuffer(c.heads * n)
        att = ScratchBuffer(n * c.qDim)
        xmid = ScratchBuffer(n * c.dim)
        rstd2 = ScratchBuffer(n)
        gate = ScratchBuffer(n * c.ffnDim)
        up = ScratchBuffer(n * c.ffnDim)
        linear = layer.linears.map { lin in
            lin.adapter.map { LinearActivations(tokens: n, inFeatures: lin.inFeatures, adapter: $0) }
        }
    }
}

/// A Llama model for training: f32 forward that keeps activations, and backward for every block.
///
/// The objective is expressed through per-token log-probabilities: `forward` computes
/// logp_t = log softmax(logits_t)[target_t] for every token with a target, and `backward` takes
/// dL/dlogp_t. Cross-entropy (SFT) is −Σ logp; DPO combines sequence sums.
/// Not thread-safe: one model, one caller.
public final class LlamaTrainModel {
    /// Model shape.
    public let config: LlamaTrainConfig
    /// What is trained.
    public let mode: TrainingMode
    /// Buffer sizes.
    public let capacity: TrainCapacity
    /// Whether block activations are recomputed in backward instead of kept (one block's worth of memory).
    public let gradientCheckpointing: Bool
    /// When false the adapters are skipped (the frozen base; DPO reference).
    public var adaptersEnabled = true
    /// When true, adapter dropout is applied.
    public var isTraining = true
    /// Seeds this micro-batch's dropout masks; set by the trainer before each forward.
    public var dropoutSeed: UInt64 = 0

    let embedding: TrainTensor
    let finalNorm: TrainTensor
    let layers: [TrainLayer]
    let activations: [LayerActivations]
    let scratch: LinearScratch
    let rope: RoPETable
    let shape: AttentionShape

    // Residual stream: (layers + 1) × [maxTokens, d].
    let residual: ScratchBuffer
    // Recomputed per block: RMSNorm output [tokens, d] and SwiGLU product [tokens, ffn].
    let normed: ScratchBuffer
    let hidden: ScratchBuffer
    let positions: UnsafeMutablePointer<Int32>
    // Head: final norm, compact rows that have targets, their logits (exponentials after forward).
    let xf: ScratchBuffer
    let rstdF: ScratchBuffer
    let activeRows: UnsafeMutablePointer<Int32>
    let activeTargets: UnsafeMutablePointer<Int32>
    let xfActive: ScratchBuffer
    let logits: ScratchBuffer
    let inverseSum: ScratchBuffer
    let activeLogProbs: ScratchBuffer
    let activeGradient: ScratchBuffer
    /// Per-token log-probabilities of the last forward (0 where there is no target).
    let tokenLogProbs: ScratchBuffer
    var activeCount = 0
    var lastTokenCount = 0

    // Backward scratch.
    let dResidual, dNormed, dq, dk, dv, dAtt, dHidden, dGate, dUp, dXf: ScratchBuffer
    /// One per thread of the step budget (grown on first use of a larger budget).
    var attentionScratch: [AttentionScratch]
    /// Threads of the forward or backward pass in progress (`threadBudget` during a pass, else 1).
    var stepThreads = 1
    /// Threads one forward or backward pass splits its own work over (products in bands, attention heads,
    /// element-wise chunks), with OpenBLAS held to one thread during the pass where it had more. nil, the
    /// default, leaves threading to OpenBLAS as set by `BLAS.setThreads` and changes no process-wide state.
    /// Set it (e.g. to 2) to train faster, best in a process that keeps OpenBLAS at 1 thread.
    public var threadBudget: Int? {
        didSet { if let t = threadBudget, t < 1 { threadBudget = 1 } }
    }

    /// Builds the model from f32 parameters. The tensors are used in place (LoRA, full) or quantised
    /// (QLoRA; drop your reference to `parameters` afterwards to free the f32 copy, or load with
    /// `init(gguf:…)`, which never holds the whole f32 base).
    public convenience init(
        parameters: LlamaTrainParameters, mode: TrainingMode, capacity: TrainCapacity,
        gradientCheckpointing: Bool = false, seed: UInt64 = 0
    ) throws {
        try self.init(config: parameters.config, embedding: parameters.embedding, finalNorm: parameters.finalNorm,
                      mode: mode, capacity: capacity, gradientCheckpointing: gradientCheckpointing, seed: seed) {
            parameters.layers[$0]
        }
    }

    /// Builds the model block by block: `layerWeights(i)` supplies block i's f32 weights, which are kept
    /// (LoRA, full) or quantised and released (QLoRA).
    init(
        config c: LlamaTrainConfig, embedding: TrainTensor, finalNorm: TrainTensor, mode: TrainingMode,
        capacity: TrainCapacity, gradientCheckpointing: Bool, seed: UInt64,
        layerWeights: (Int) throws -> LlamaTrainLayerWeights
    ) throws {
        try c.validate()
        if capacity.maxTokens < 1 || capacity.maxSegmentLength < 1 {
            throw TrainingError.invalidConfiguration("capacity: expected positive maxTokens and maxSegmentLength")
        }
        if let lora = mode.lora {
            try lora.validate(maxRank: Swift.min(c.dim, c.kvDim, c.qDim))
        }
        if case .qlora = mode, c.dim % 32 != 0 || c.qDim % 32 != 0 || c.ffnDim % 32 != 0 {
            throw TrainingError.invalidConfiguration("qlora: dim, heads·headDim and ffnDim must be multiples of 32")
        }
        config = c
        self.mode = mode
        self.capacity = capacity
        self.gradientCheckpointing = gradientCheckpointing
        self.embedding = embedding
        self.finalNorm = finalNorm
        var rng = TrainingRandom(seed: TrainingRandom.derive(seed, 0x10_AA))
        var built: [TrainLayer] = []
        for i in 0..<c.layers {
            let weights = try layerWeights(i)
            if mode == .full {
                for t in weights.all { t.enableGradient() }
            }
            built.append(TrainLayer(weights: weights, mode: mode, rng: &rng))
        }
        layers = built
        if mode == .full {
            embedding.enableGradient()
            finalNorm.enableGradient()
        }
        let n = capacity.maxTokens
        let blockCount = gradientCheckpointing ? 1 : c.layers
        activations = (0..<blockCount).map { LayerActivations(config: c, capacity: capacity, layer: built[$0]) }
        let maxRank = mode.lora?.rank ?? 1
        var isQuantised = false
        if case .qlora = mode { isQuantised = true }
        scratch = LinearScratch(
            tokens: n, maxMatrix: Swift.max(c.ffnDim * c.dim, c.qDim * c.dim), maxRank: maxRank,
            maxIn: Swift.max(c.dim, c.ffnDim, c.qDim), needsDequant: isQuantised,
            needsDropout: (mode.lora?.dropout ?? 0) > 0)
        rope = RoPETable(headDim: c.headDim, maxPositions: capacity.maxSegmentLength, theta: c.ropeTheta)
        shape = AttentionShape(heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, tokenCapacity: n,
                               window: capacity.maxSegmentLength)
        residual = ScratchBuffer((c.layers + 1) * n * c.dim)
        normed = ScratchBuffer(n * c.dim)
        hidden = ScratchBuffer(n * c.ffnDim)
        positions = .allocate(capacity: n)
        positions.initialize(repeating: 0, count: n)
        xf = ScratchBuffer(n * c.dim)
        rstdF = ScratchBuffer(n)
        activeRows = .allocate(capacity: n)
        activeRows.initialize(repeating: 0, count: n)
        activeTargets = .allocate(capacity: n)
        activeTargets.initialize(repeating: 0, count: n)
        xfActive = ScratchBuffer(n * c.dim)
        logits = ScratchBuffer(n * c.vocabSize)
        inverseSum = ScratchBuffer(n)
        activeLogProbs = ScratchBuffer(n)
        activeGradient = ScratchBuffer(n)
        tokenLogProbs = ScratchBuffer(n)
        dResidual = ScratchBuffer(n * c.dim)
        dNormed = ScratchBuffer(n * c.dim)
        dq = ScratchBuffer(n * c.qDim)
        dk = ScratchBuffer(n * c.kvDim)
        dv = ScratchBuffer(n * c.kvDim)
        dAtt = ScratchBuffer(n * c.qDim)
        dHidden = ScratchBuffer(n * c.ffnDim)
        dGate = ScratchBuffer(n * c.ffnDim)
        dUp = ScratchBuffer(n * c.ffnDim)
        attentionScratch = [AttentionScratch(window: capacity.maxSegmentLength, tokens: n, kvStride: c.kvDim,
                                             accumulators: false)]
        dXf = ScratchBuffer(n * c.dim)
    }

    deinit {
        positions.deallocate()
        activeRows.deallocate()
        activeTargets.deallocate()
    }

    /// The tensors the optimiser updates: adapter A/B matrices, or every weight in full fine-tuning.
    public var trainableTensors: [TrainTensor] {
        if mode == .full {
            var out = [embedding, finalNorm]
            for l in layers {
                out.append(l.attnNorm)
                for lin in l.linears[0..<4] { if let t = lin.trainableBase { out.append(t) } }
                out.append(l.ffnNorm)
                for lin in l.linears[4...] { if let t = lin.trainableBase { out.append(t) } }
            }
            return out
        }
        return layers.flatMap { l in l.linears.compactMap(\.adapter).flatMap { [$0.a, $0.b] } }
    }

    /// The adapter of `target` in block `layer`, if it has one.
    public func adapter(layer: Int, target: LoRATarget) -> LoRAAdapter? { layers[layer][target].adapter }

    /// Sets every trainable gradient to zero.
    public func zeroGradients() {
        for t in trainableTensors { t.zeroGradient() }
    }

    /// Bytes held by weights (base, adapters) — the part of memory that does not scale with tokens.
    public var weightBytes: Int {
        var total = (embedding.count + finalNorm.count) * 4
        for l in layers {
            total += (l.attnNorm.count + l.ffnNorm.count) * 4
            for lin in l.linears {
                switch lin.base {
                case .dense(let t): total += t.count * 4
                case .quantized(let q): total += q.byteCount
                }
                if let a = lin.adapter { total += (a.a.count + a.b.count) * 4 }
            }
        }
        return total
    }

    /// Runs a pass on `threadBudget` threads of its own (see `TrainParallel`), or as before without one.
    func withStepThreads<T>(_ body: () throws -> T) rethrows -> T {
        guard let budget = threadBudget, budget > 1 else { return try body() }
        return try TrainParallel.withSingleThreadedBLAS {
            stepThreads = budget
            defer { stepThreads = 1 }
            return try body()
        }
    }

    /// Attention scratch for `threads` threads.
    func attentionScratch(threads: Int) -> [AttentionScratch] {
        while attentionScratch.count < threads {
            attentionScratch.append(AttentionScratch(window: capacity.maxSegmentLength, tokens: capacity.maxTokens,
                                                     kvStride: config.kvDim, accumulators: true))
        }
        return Array(attentionScratch[0..<threads])
    }

    @inline(__always)
    func residualRow(_ layer: Int) -> UnsafeMutablePointer<Float> {
        residual.pointer + layer &* capacity.maxTokens &* config.dim
    }

    @inline(__always)
    func savedActivations(_ layer: Int) -> LayerActivations {
        activations[gradientCheckpointing ? 0 : layer]
    }
}
