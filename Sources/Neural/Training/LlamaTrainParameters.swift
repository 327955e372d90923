/// The f32 weights of one Llama block, linear weights stored [out, in].
public final class LlamaTrainLayerWeights {
    /// RMSNorm before attention [d].
    public let attnNorm: TrainTensor
    /// Query projection [heads·hd, d].
    public let wq: TrainTensor
    /// Key projection [kvHeads·hd, d].
    public let wk: TrainTensor
    /// Value projection [kvHeads·hd, d].
    public let wv: TrainTensor
    /// Output projection [d, heads·hd].
    public let wo: TrainTensor
    /// RMSNorm before the feed-forward block [d].
    public let ffnNorm: TrainTensor
    /// SwiGLU gate [ffn, d].
    public let wGate: TrainTensor
    /// SwiGLU up [ffn, d].
    public let wUp: TrainTensor
    /// SwiGLU down [d, ffn].
    public let wDown: TrainTensor

    /// Zero-filled weights for block `index` with Hugging Face tensor names.
    public init(index i: Int, config c: LlamaTrainConfig) {
        let p = "model.layers.\(i)."
        attnNorm = TrainTensor(name: p + "input_layernorm.weight", shape: [c.dim])
        wq = TrainTensor(name: p + "self_attn.q_proj.weight", shape: [c.qDim, c.dim])
        wk = TrainTensor(name: p + "self_attn.k_proj.weight", shape: [c.kvDim, c.dim])
        wv = TrainTensor(name: p + "self_attn.v_proj.weight", shape: [c.kvDim, c.dim])
        wo = TrainTensor(name: p + "self_attn.o_proj.weight", shape: [c.dim, c.qDim])
        ffnNorm = TrainTensor(name: p + "post_attention_layernorm.weight", shape: [c.dim])
        wGate = TrainTensor(name: p + "mlp.gate_proj.weight", shape: [c.ffnDim, c.dim])
        wUp = TrainTensor(name: p + "mlp.up_proj.weight", shape: [c.ffnDim, c.dim])
        wDown = TrainTensor(name: p + "mlp.down_proj.weight", shape: [c.dim, c.ffnDim])
    }

    /// The projection for a LoRA target.
    public func weight(_ target: LoRATarget) -> TrainTensor {
        switch target {
        case .q: wq
        case .k: wk
        case .v: wv
        case .o: wo
        case .gate: wGate
        case .up: wUp
        case .down: wDown
        }
    }

    /// Every tensor of the block.
    public var all: [TrainTensor] { [attnNorm, wq, wk, wv, wo, ffnNorm, wGate, wUp, wDown] }
}

/// All f32 weights of a Llama model with a tied embedding / output matrix.
public final class LlamaTrainParameters {
    /// The model shape.
    public let config: LlamaTrainConfig
    /// Token embedding, also the output projection (tied) [vocab, d].
    public let embedding: TrainTensor
    /// Final RMSNorm [d].
    public let finalNorm: TrainTensor
    /// The blocks.
    public let layers: [LlamaTrainLayerWeights]

    /// Zero-filled parameters.
    public init(config: LlamaTrainConfig) throws {
        try config.validate()
        self.config = config
        embedding = TrainTensor(name: "model.embed_tokens.weight", shape: [config.vocabSize, config.dim])
        finalNorm = TrainTensor(name: "model.norm.weight", shape: [config.dim])
        layers = (0..<config.layers).map { LlamaTrainLayerWeights(index: $0, config: config) }
    }

    /// Random parameters for tests and benchmarks: N(0, std²) matrices, norms near 1.
    public static func random(config: LlamaTrainConfig, seed: UInt64, std: Float = 0.02) throws -> LlamaTrainParameters {
        let p = try LlamaTrainParameters(config: config)
        var rng = TrainingRandom(seed: seed)
        for t in p.all {
            if t.shape.count == 1 {
                for i in 0..<t.count { t.data[i] = 1 + 0.1 * rng.nextNormal() }
            } else {
                for i in 0..<t.count { t.data[i] = std * rng.nextNormal() }
            }
        }
        return p
    }

    /// Every tensor, embedding first.
    public var all: [TrainTensor] { [embedding, finalNorm] + layers.flatMap(\.all) }
}
