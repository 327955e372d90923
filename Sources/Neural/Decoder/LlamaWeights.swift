/// The weights of one Llama block as GGUF tensors (quantised matrices stay in the mapping).
///
/// Tensor names are `blk.<i>.<part>.weight` with part one of `attn_norm`, `attn_q`, `attn_k`, `attn_v`,
/// `attn_output`, `ffn_norm`, `ffn_gate`, `ffn_up`, `ffn_down`. Matrices are row-major `[out, in]`
/// (`shape == [in, out]` in ggml order); `GGUFTensor.dequantize()` gives their f32 values. `attn_q` and
/// `attn_k` rows are in the GGUF (llama.cpp) order, which pairs RoPE dimensions (2i, 2i+1).
public struct LlamaLayerWeights: Sendable {
    /// RMSNorm gain before attention, [modelDim].
    public let attentionNorm: [Float]
    /// Query projection [modelDim, modelDim].
    public let query: GGUFTensor
    /// Key projection [kvDim, modelDim].
    public let key: GGUFTensor
    /// Value projection [kvDim, modelDim].
    public let value: GGUFTensor
    /// Attention output projection [modelDim, modelDim].
    public let output: GGUFTensor
    /// RMSNorm gain before the feed-forward, [modelDim].
    public let ffnNorm: [Float]
    /// SwiGLU gate [ffnDim, modelDim].
    public let gate: GGUFTensor
    /// SwiGLU up [ffnDim, modelDim].
    public let up: GGUFTensor
    /// SwiGLU down [modelDim, ffnDim].
    public let down: GGUFTensor

    /// The seven matrices with their short names (q, k, v, o, gate, up, down), e.g. for LoRA targets.
    public var matrices: [(name: String, tensor: GGUFTensor)] {
        [("q", query), ("k", key), ("v", value), ("o", output), ("gate", gate), ("up", up), ("down", down)]
    }
}

/// All weights of a Llama model in a GGUF file, checked against its `LlamaConfig`.
public struct LlamaWeights: Sendable {
    /// The hyper-parameters the shapes were checked against.
    public let config: LlamaConfig
    /// Token embedding [vocab, modelDim] (`token_embd.weight`).
    public let tokenEmbedding: GGUFTensor
    /// Final RMSNorm gain, [modelDim] (`output_norm.weight`).
    public let outputNorm: [Float]
    /// Output projection [vocab, modelDim]: `output.weight`, or the token embedding when tied.
    public let output: GGUFTensor
    /// The blocks, in order.
    public let layers: [LlamaLayerWeights]
    /// Owned buffers behind tensors that are not in the mapping (adapter-merged matrices); empty for a
    /// plain load. Kept here so those tensors' pointers live exactly as long as the weights.
    let ownedStorage: [OwnedTensorBytes]

    /// Weights from parts (used by `LlamaAdapter.merged(into:)`).
    init(config: LlamaConfig, tokenEmbedding: GGUFTensor, outputNorm: [Float], output: GGUFTensor,
         layers: [LlamaLayerWeights], ownedStorage: [OwnedTensorBytes]) {
        self.config = config
        self.tokenEmbedding = tokenEmbedding
        self.outputNorm = outputNorm
        self.output = output
        self.layers = layers
        self.ownedStorage = ownedStorage
    }

    /// Collects and checks every tensor of a llama model; throws on a missing tensor, a wrong shape or
    /// an unsupported quantisation.
    public init(gguf: GGUFFile) throws(GGUFError) {
        let c = try LlamaConfig(gguf: gguf)
        config = c
        func matrix(_ name: String, rows: Int, columns: Int) throws(GGUFError) -> GGUFTensor {
            let t = try gguf.requireTensor(name)
            guard t.shape == [columns, rows] else {
                throw .missingTensor("\(gguf.path): \(name) has shape \(t.shape), expected [\(columns), \(rows)]")
            }
            try t.requireSupportedType()
            return t
        }
        func vector(_ name: String) throws(GGUFError) -> [Float] {
            let t = try gguf.requireTensor(name)
            guard t.shape == [c.modelDim] else {
                throw .missingTensor("\(gguf.path): \(name) has shape \(t.shape), expected [\(c.modelDim)]")
            }
            return try t.dequantize()
        }
        tokenEmbedding = try matrix("token_embd.weight", rows: c.vocabSize, columns: c.modelDim)
        outputNorm = try vector("output_norm.weight")
        output = gguf.tensor(named: "output.weight") == nil
            ? tokenEmbedding : try matrix("output.weight", rows: c.vocabSize, columns: c.modelDim)
        var layers: [LlamaLayerWeights] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            layers.append(LlamaLayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight"),
                query: try matrix(p + "attn_q.weight", rows: c.modelDim, columns: c.modelDim),
                key: try matrix(p + "attn_k.weight", rows: c.kvDim, columns: c.modelDim),
                value: try matrix(p + "attn_v.weight", rows: c.kvDim, columns: c.modelDim),
                output: try matrix(p + "attn_output.weight", rows: c.modelDim, columns: c.modelDim),
                ffnNorm: try vector(p + "ffn_norm.weight"),
                gate: try matrix(p + "ffn_gate.weight", rows: c.ffnDim, columns: c.modelDim),
                up: try matrix(p + "ffn_up.weight", rows: c.ffnDim, columns: c.modelDim),
                down: try matrix(p + "ffn_down.weight", rows: c.modelDim, columns: c.ffnDim)))
        }
        self.layers = layers
        ownedStorage = []
    }
}
