/// The weights of a BERT encoder as contiguous `Float` buffers, shape-checked on load.
///
/// Query, key and value projections are concatenated into one `[3·hidden, hidden]` matrix at load time so
/// each layer does one sgemm for all three.
public struct BertWeights: Sendable {
    /// One transformer layer. `Linear` weights are `[out, in]`, as PyTorch stores them.
    public struct Layer: Sendable {
        /// Query, key and value projections stacked, [3H, H].
        public var qkvWeight: FloatBuffer
        /// Their biases, [3H].
        public var qkvBias: FloatBuffer
        /// Attention output projection, [H, H].
        public var attentionOutWeight: FloatBuffer
        /// Its bias, [H].
        public var attentionOutBias: FloatBuffer
        /// LayerNorm after attention: scale, [H].
        public var attentionNormWeight: FloatBuffer
        /// LayerNorm after attention: shift, [H].
        public var attentionNormBias: FloatBuffer
        /// Feed-forward up projection, [I, H].
        public var intermediateWeight: FloatBuffer
        /// Its bias, [I].
        public var intermediateBias: FloatBuffer
        /// Feed-forward down projection, [H, I].
        public var outputWeight: FloatBuffer
        /// Its bias, [H].
        public var outputBias: FloatBuffer
        /// LayerNorm after the feed-forward block: scale, [H].
        public var outputNormWeight: FloatBuffer
        /// LayerNorm after the feed-forward block: shift, [H].
        public var outputNormBias: FloatBuffer
    }

    /// Token embeddings, [V, H].
    public var wordEmbeddings: FloatBuffer
    /// Absolute position embeddings, [P, H].
    public var positionEmbeddings: FloatBuffer
    /// Segment embeddings, [types, H].
    public var tokenTypeEmbeddings: FloatBuffer
    /// LayerNorm of the embeddings: scale, [H].
    public var embeddingNormWeight: FloatBuffer
    /// LayerNorm of the embeddings: shift, [H].
    public var embeddingNormBias: FloatBuffer
    /// The transformer layers, first to last.
    public var layers: [Layer]

    /// Loads every tensor of a Hugging Face `BertModel` checkpoint, checking each shape against `configuration`.
    ///
    /// Names may carry a `bert.` prefix (checkpoints saved from task heads).
    public init(file: SafeTensorsFile, configuration c: BertConfiguration) throws {
        let prefix = file.info(named: "embeddings.word_embeddings.weight") == nil && file.info(named: "bert.embeddings.word_embeddings.weight") != nil
            ? "bert." : ""
        func load(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
            try FloatBuffer(count: Tensor.elementCount(shape)) { try file.read(named: prefix + name, shape: shape, into: $0) }
        }
        /// Rows of several [n, …] tensors stacked into one buffer (the fused QKV projection).
        func stacked(_ names: [String], _ shape: [Int]) throws -> FloatBuffer {
            let part = Tensor.elementCount(shape)
            return try FloatBuffer(count: part * names.count) { out in
                for (index, name) in names.enumerated() {
                    try file.read(named: prefix + name, shape: shape, into: UnsafeMutableBufferPointer(rebasing: out[(index * part)..<((index + 1) * part)]))
                }
            }
        }
        let h = c.hiddenSize, i = c.intermediateSize
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [c.maxPositions, h])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, h])
        embeddingNormWeight = try load("embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try load("embeddings.LayerNorm.bias", [h])
        layers = try (0..<c.layerCount).map { index in
            let p = "encoder.layer.\(index)."
            let attention = p + "attention.self."
            return Layer(
                qkvWeight: try stacked(["query", "key", "value"].map { attention + $0 + ".weight" }, [h, h]),
                qkvBias: try stacked(["query", "key", "value"].map { attention + $0 + ".bias" }, [h]),
                attentionOutWeight: try load(p + "attention.output.dense.weight", [h, h]),
                attentionOutBias: try load(p + "attention.output.dense.bias", [h]),
                attentionNormWeight: try load(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try load(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try load(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try load(p + "intermediate.dense.bias", [i]),
                outputWeight: try load(p + "output.dense.weight", [h, i]),
                outputBias: try load(p + "output.dense.bias", [h]),
                outputNormWeight: try load(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try load(p + "output.LayerNorm.bias", [h]))
        }
    }
}
