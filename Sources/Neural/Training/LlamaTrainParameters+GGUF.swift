extension LlamaTrainConfig {
    /// The training shape of a GGUF Llama model (interleaved RoPE: GGUF row order).
    public init(_ c: LlamaConfig) {
        self.init(vocabSize: c.vocabSize, dim: c.modelDim, layers: c.layerCount, heads: c.headCount,
                  kvHeads: c.kvHeadCount, headDim: c.headDim, ffnDim: c.ffnDim, ropeTheta: Double(c.ropeTheta),
                  normEps: c.rmsEpsilon, ropeStyle: .interleaved)
    }
}

/// Copies dequantised GGUF tensors into training tensors.
enum GGUFTrainLoader {
    static func weights(_ gguf: GGUFFile) throws -> LlamaWeights {
        let weights: LlamaWeights
        do { weights = try LlamaWeights(gguf: gguf) } catch {
            throw TrainingError.format("\(gguf.path): \(error)")
        }
        guard gguf.tensor(named: "output.weight") == nil else {
            throw TrainingError.invalidInput("\(gguf.path): untied output.weight is not supported for training (tied embeddings only)")
        }
        return weights
    }

    static func load(_ source: GGUFTensor, into t: TrainTensor, path: String) throws {
        guard source.elementCount == t.count else {
            throw TrainingError.format("\(path): \(source.name) has \(source.elementCount) values, expected \(t.count)")
        }
        do { try source.dequantizeRows(0..<source.rows, into: t.data) } catch {
            throw TrainingError.format("\(path): \(source.name): \(error)")
        }
    }

    static func load(_ values: [Float], into t: TrainTensor) {
        values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
    }

    static func loadLayer(_ src: LlamaLayerWeights, into dst: LlamaTrainLayerWeights, path: String) throws {
        load(src.attentionNorm, into: dst.attnNorm)
        load(src.ffnNorm, into: dst.ffnNorm)
        try load(src.query, into: dst.wq, path: path)
        try load(src.key, into: dst.wk, path: path)
        try load(src.value, into: dst.wv, path: path)
        try load(src.output, into: dst.wo, path: path)
        try load(src.gate, into: dst.wGate, path: path)
        try load(src.up, into: dst.wUp, path: path)
        try load(src.down, into: dst.wDown, path: path)
    }
}

extension LlamaTrainParameters {
    /// Dequantises every weight of a GGUF Llama model (tied output only) into f32 training parameters.
    public convenience init(gguf: GGUFFile) throws {
        let weights = try GGUFTrainLoader.weights(gguf)
        try self.init(config: LlamaTrainConfig(weights.config))
        try GGUFTrainLoader.load(weights.tokenEmbedding, into: embedding, path: gguf.path)
        GGUFTrainLoader.load(weights.outputNorm, into: finalNorm)
        for (src, dst) in zip(weights.layers, layers) {
            try GGUFTrainLoader.loadLayer(src, into: dst, path: gguf.path)
        }
    }
}

extension LlamaTrainModel {
    /// Loads a GGUF Llama model straight into a training model, one block at a time, so QLoRA never holds
    /// the whole f32 base (each block is dequantised, re-quantised into the training blocks, released).
    public convenience init(
        gguf: GGUFFile, mode: TrainingMode, capacity: TrainCapacity, gradientCheckpointing: Bool = false, seed: UInt64 = 0
    ) throws {
        let weights = try GGUFTrainLoader.weights(gguf)
        let config = LlamaTrainConfig(weights.config)
        let embedding = TrainTensor(name: "model.embed_tokens.weight", shape: [config.vocabSize, config.dim])
        let finalNorm = TrainTensor(name: "model.norm.weight", shape: [config.dim])
        try GGUFTrainLoader.load(weights.tokenEmbedding, into: embedding, path: gguf.path)
        GGUFTrainLoader.load(weights.outputNorm, into: finalNorm)
        try self.init(config: config, embedding: embedding, finalNorm: finalNorm, mode: mode, capacity: capacity,
                      gradientCheckpointing: gradientCheckpointing, seed: seed) { i in
            let layer = LlamaTrainLayerWeights(index: i, config: config)
            try GGUFTrainLoader.loadLayer(weights.layers[i], into: layer, path: gguf.path)
            return layer
        }
    }
}
