extension LlamaTrainModel {
    /// A standalone f32 copy of the model with every adapter folded in: W' = W + (alpha/r)·B·A.
    ///
    /// QLoRA bases are dequantised first, so the result is what the adapted model computes.
    public func mergedParameters() throws -> LlamaTrainParameters {
        let out = try LlamaTrainParameters(config: config)
        out.embedding.copy(from: embedding)
        out.finalNorm.copy(from: finalNorm)
        for (l, layer) in layers.enumerated() {
            let dst = out.layers[l]
            dst.attnNorm.copy(from: layer.attnNorm)
            dst.ffnNorm.copy(from: layer.ffnNorm)
            for target in LoRATarget.allCases {
                let w = dst.weight(target)
                let merged = layer[target].mergedWeight(name: w.name, scratch: scratch)
                w.copy(from: merged)
            }
        }
        return out
    }

    /// Copies every adapter's A and B from `source`, which must have the same layout.
    public func loadAdapters(from source: LlamaTrainModel) throws {
        let mine = trainableTensors, theirs = source.trainableTensors
        guard mine.count == theirs.count, zip(mine, theirs).allSatisfy({ $0.shape == $1.shape }) else {
            throw TrainingError.invalidInput("loadAdapters: the two models have different trainable layouts")
        }
        for (a, b) in zip(mine, theirs) { a.copy(from: b) }
    }
}
