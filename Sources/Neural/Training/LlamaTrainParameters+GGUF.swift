extension LlamaTrainConfig {
    /// The training shape of a GGUF Llama model (interleaved RoPE: GGUF row order).
    public init(_ c: LlamaConfig) {
        self.init(vocabSize: c.vocabSize, dim: c.modelDim, layers: c.layerCount, heads: c.headCount,
                  kvHeads: c.kvHeadCount, headDim: c.headDim, ffnDim: c.ffnDim, ropeTheta: Double(c.ropeTheta),
                  normEps: c.rmsEpsilon, ropeStyle: .interleaved)
    }
}

extension LlamaTrainParameters {
    /// Dequantises every weight of a GGUF Llama model (tied output only) into f32 training parameters.
    public convenience init(gguf: GGUFFile) throws {
        let weights: LlamaWeights
        do { weights = try LlamaWeights(gguf: gguf) } catch {
            throw TrainingError.format("\(gguf.path): \(error)")
        }
        guard gguf.tensor(named: "output.weight") == nil else {
            throw TrainingError.invalidInput("\(gguf.path): untied output.weight is not supported for training (tied embeddings only)")
        }
        try self.init(config: LlamaTrainConfig(weights.config))
        func load(_ source: GGUFTensor, into t: TrainTensor) throws {
            guard source.elementCount == t.count else {
                throw TrainingError.format("\(gguf.path): \(source.name) has \(source.elementCount) values, expected \(t.count)")
            }
            do { try source.dequantizeRows(0..<source.rows, into: t.data) } catch {
                throw TrainingError.format("\(gguf.path): \(source.name): \(error)")
            }
        }
        func load(_ values: [Float], into t: TrainTensor) {
            values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: t.count) }
        }
        try load(weights.tokenEmbedding, into: embedding)
        load(weights.outputNorm, into: finalNorm)
        for (src, dst) in zip(weights.layers, layers) {
            load(src.attentionNorm, into: dst.attnNorm)
            load(src.ffnNorm, into: dst.ffnNorm)
            try load(src.query, into: dst.wq)
            try load(src.key, into: dst.wk)
            try load(src.value, into: dst.wv)
            try load(src.output, into: dst.wo)
            try load(src.gate, into: dst.wGate)
            try load(src.up, into: dst.wUp)
            try load(src.down, into: dst.wDown)
        }
    }
}
