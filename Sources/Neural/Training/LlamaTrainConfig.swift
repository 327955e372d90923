/// How rotary position embeddings pair the dimensions of a head.
public enum RoPEStyle: String, Sendable, Codable {
    /// Adjacent pairs (2i, 2i+1): llama.cpp's "normal" rope, used by GGUF files of the LLAMA architecture.
    case interleaved
    /// Halves (i, i + headDim/2): Hugging Face / NeoX layout.
    case halves
}

/// Shape and constants of a Llama-architecture model for training.
public struct LlamaTrainConfig: Sendable, Equatable, Codable {
    /// Vocabulary size (rows of the tied embedding).
    public var vocabSize: Int
    /// Model width d.
    public var dim: Int
    /// Number of transformer blocks.
    public var layers: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention; divides `heads`).
    public var kvHeads: Int
    /// Width of one head.
    public var headDim: Int
    /// Hidden width of the SwiGLU feed-forward block.
    public var ffnDim: Int
    /// RoPE base frequency θ.
    public var ropeTheta: Double
    /// RMSNorm epsilon.
    public var normEps: Float
    /// RoPE dimension pairing.
    public var ropeStyle: RoPEStyle

    /// Creates a configuration; call `validate()` before use.
    public init(
        vocabSize: Int, dim: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int, ffnDim: Int,
        ropeTheta: Double = 10_000, normEps: Float = 1e-5, ropeStyle: RoPEStyle = .interleaved
    ) {
        self.vocabSize = vocabSize
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.ffnDim = ffnDim
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.ropeStyle = ropeStyle
    }

    /// SmolLM2-135M (as stored in its GGUF files: interleaved RoPE).
    public static let smolLM2_135M = LlamaTrainConfig(
        vocabSize: 49152, dim: 576, layers: 30, heads: 9, kvHeads: 3, headDim: 64, ffnDim: 1536,
        ropeTheta: 100_000, normEps: 1e-5, ropeStyle: .interleaved)

    /// Width of all query heads together.
    public var qDim: Int { heads * headDim }
    /// Width of all key (or value) heads together.
    public var kvDim: Int { kvHeads * headDim }

    /// Checks that every dimension is positive and the head layout is consistent.
    public func validate() throws {
        let sizes = [("vocabSize", vocabSize), ("dim", dim), ("layers", layers), ("heads", heads),
                     ("kvHeads", kvHeads), ("headDim", headDim), ("ffnDim", ffnDim)]
        for (key, value) in sizes where value <= 0 {
            throw TrainingError.invalidConfiguration("\(key): expected > 0, got \(value)")
        }
        if heads % kvHeads != 0 {
            throw TrainingError.invalidConfiguration("heads (\(heads)) must be a multiple of kvHeads (\(kvHeads))")
        }
        if headDim % 2 != 0 {
            throw TrainingError.invalidConfiguration("headDim: expected an even number, got \(headDim)")
        }
        if !(ropeTheta > 1) { throw TrainingError.invalidConfiguration("ropeTheta: expected > 1, got \(ropeTheta)") }
        if !(normEps > 0) { throw TrainingError.invalidConfiguration("normEps: expected > 0, got \(normEps)") }
    }
}
