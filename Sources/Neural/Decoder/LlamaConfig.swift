/// Hyper-parameters of a Llama-architecture decoder, read from GGUF metadata (`llama.*` keys).
public struct LlamaConfig: Sendable, Equatable {
    /// Transformer blocks (`llama.block_count`).
    public var layerCount: Int
    /// Residual width d_model (`llama.embedding_length`).
    public var modelDim: Int
    /// Query heads (`llama.attention.head_count`).
    public var headCount: Int
    /// Key/value heads, fewer than query heads under grouped-query attention (`llama.attention.head_count_kv`).
    public var kvHeadCount: Int
    /// SwiGLU hidden width (`llama.feed_forward_length`).
    public var ffnDim: Int
    /// RoPE base frequency θ (`llama.rope.freq_base`).
    public var ropeTheta: Float
    /// RMSNorm epsilon (`llama.attention.layer_norm_rms_epsilon`).
    public var rmsEpsilon: Float
    /// Vocabulary size (rows of `token_embd.weight`).
    public var vocabSize: Int
    /// The context length the model was trained for (`llama.context_length`).
    public var trainedContextLength: Int

    /// Width of one attention head.
    public var headDim: Int { modelDim / headCount }
    /// Width of the key (and value) projection: kvHeadCount · headDim.
    public var kvDim: Int { kvHeadCount * headDim }

    /// A configuration given field by field (tests and tiny models).
    public init(
        layerCount: Int, modelDim: Int, headCount: Int, kvHeadCount: Int, ffnDim: Int,
        ropeTheta: Float, rmsEpsilon: Float, vocabSize: Int, trainedContextLength: Int
    ) {
        self.layerCount = layerCount
        self.modelDim = modelDim
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.ffnDim = ffnDim
        self.ropeTheta = ropeTheta
        self.rmsEpsilon = rmsEpsilon
        self.vocabSize = vocabSize
        self.trainedContextLength = trainedContextLength
    }

    /// Reads the configuration of a `general.architecture = llama` file; other architectures are rejected.
    public init(gguf: GGUFFile) throws(GGUFError) {
        let arch = try gguf.requireString("general.architecture")
        guard arch == "llama" else {
            throw .unsupportedType("\(gguf.path): architecture \"\(arch)\" is not supported (only llama)")
        }
        layerCount = try gguf.requireInt("llama.block_count")
        modelDim = try gguf.requireInt("llama.embedding_length")
        headCount = try gguf.requireInt("llama.attention.head_count")
        kvHeadCount = try gguf.requireInt("llama.attention.head_count_kv")
        ffnDim = try gguf.requireInt("llama.feed_forward_length")
        ropeTheta = Float(gguf.metadata["llama.rope.freq_base"]?.doubleValue ?? 10_000)
        rmsEpsilon = Float(try gguf.requireDouble("llama.attention.layer_norm_rms_epsilon"))
        trainedContextLength = gguf.metadata["llama.context_length"]?.intValue ?? 2048
        let embedding = try gguf.requireTensor("token_embd.weight")
        vocabSize = embedding.rows
        guard layerCount > 0, modelDim > 0, headCount > 0, kvHeadCount > 0, ffnDim > 0,
            modelDim % headCount == 0, headCount % kvHeadCount == 0, headDim % 2 == 0
        else {
            throw .corrupt("\(gguf.path): inconsistent llama hyper-parameters \(self)")
        }
        if let ropeDims = gguf.metadata["llama.rope.dimension_count"]?.intValue, ropeDims != headDim {
            throw .unsupportedType("\(gguf.path): partial RoPE (\(ropeDims) of \(headDim) dims) is not supported")
        }
    }
}
