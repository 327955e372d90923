import RealModule

/// A Llama-architecture model loaded from GGUF: configuration, weights (left in the mapping), tokenizer
/// and chat template. Immutable and shareable; generation state lives in `LlamaKVCache` and `LlamaEngine`.
public final class LlamaModel: Sendable {
    /// The mapped file.
    public let file: GGUFFile
    /// Hyper-parameters.
    public let config: LlamaConfig
    /// Per-layer weights (quantised tensors in the mapping, norms as f32).
    public let weights: LlamaWeights
    /// The byte-level BPE tokenizer from the file's metadata.
    public let tokenizer: BPETokenizer
    /// The Jinja chat template from `tokenizer.chat_template`, if any.
    public let chatTemplate: String?
    /// θ^(-2/headDim): the ratio between the RoPE angles of neighbouring dimension pairs.
    let ropeThetaScale: Float
    /// The matrices as the engine multiplies them (interleaved copies on VNNI CPUs).
    let layerMatrices: [LlamaLayerMatrices]
    let outputMatrix: DecoderMatrix

    /// Loads the model at `path`; throws a `GGUFError` naming the file for anything unreadable or unsupported.
    public convenience init(path: String) throws(GGUFError) {
        let file = try GGUFFile(path: path)
        try self.init(file: file, weights: LlamaWeights(gguf: file))
    }

    /// Loads the model at `path` with the PEFT LoRA adapter in `adapterDirectory` folded into its weights
    /// (see `LlamaAdapter`); throws a `GGUFError` for the model file, a `LlamaAdapterError` for the adapter.
    public convenience init(path: String, adapterDirectory: String) throws {
        let file = try GGUFFile(path: path)
        let base = try LlamaWeights(gguf: file)
        let adapter = try LlamaAdapter(directory: adapterDirectory)
        try self.init(file: file, weights: adapter.merged(into: base))
    }

    private init(file: GGUFFile, weights: LlamaWeights) throws(GGUFError) {
        let path = file.path
        self.file = file
        self.weights = weights
        config = weights.config
        tokenizer = try BPETokenizer(gguf: file)
        guard tokenizer.vocabularySize == config.vocabSize else {
            throw .corrupt("\(path): tokenizer has \(tokenizer.vocabularySize) tokens, embedding has \(config.vocabSize)")
        }
        for t in [weights.tokenEmbedding, weights.output] + weights.layers.flatMap({ $0.matrices.map(\.tensor) })
        where ![.q4_0, .q4_1, .q8_0].contains(t.type) {
            throw .unsupportedType("\(path): tensor \(t.name) is \(t.type); the decoder runs Q4_0, Q4_1 and Q8_0 matrices")
        }
        chatTemplate = file.metadata["tokenizer.chat_template"]?.stringValue
        let headDim = weights.config.headDim
        let theta = weights.config.ropeTheta
        ropeThetaScale = Float.pow(theta, -2 / Float(headDim))
        // The interleaved copies are what the engine reads: each matrix's mapped original leaves memory
        // as soon as it is copied (so loading never holds both), and is re-read from the file when
        // touched again (the token embedding's rows, training).
        let prepare = { (tensor: GGUFTensor) -> DecoderMatrix in
            let matrix = DecoderMatrix(tensor)
            if matrix.interleaved != nil { file.releasePages(of: tensor) }
            return matrix
        }
        layerMatrices = weights.layers.map { LlamaLayerMatrices($0, prepare: prepare) }
        outputMatrix = prepare(weights.output)
    }
}
