@testable import Neural

/// Shared helpers for the training suites: tiny random models and batches.
enum TrainingFixtures {
    /// 2 blocks, d 16, 4 heads, 2 kv heads, head dim 4, ffn 24, vocab 32.
    static func tinyConfig(rope: RoPEStyle = .interleaved) -> LlamaTrainConfig {
        LlamaTrainConfig(vocabSize: 32, dim: 16, layers: 2, heads: 4, kvHeads: 2, headDim: 4, ffnDim: 24,
                         ropeTheta: 10_000, normEps: 1e-5, ropeStyle: rope)
    }

    /// The same shape with widths that are multiples of 32 (QLoRA blocks).
    static func tinyQuantConfig() -> LlamaTrainConfig {
        LlamaTrainConfig(vocabSize: 32, dim: 32, layers: 2, heads: 4, kvHeads: 2, headDim: 8, ffnDim: 64,
                         ropeTheta: 10_000, normEps: 1e-5, ropeStyle: .interleaved)
    }

    /// Random tokens with targets = next token (−1 at the end of each segment).
    static func batch(segmentLengths: [Int], vocab: Int, seed: UInt64) -> TrainBatch {
        var rng = TrainingRandom(seed: seed)
        var parts: [TrainBatch] = []
        for len in segmentLengths {
            let toks = (0..<len).map { _ in Int32(rng.next() % UInt64(vocab)) }
            let targets = (0..<len).map { i in i + 1 < len ? toks[i + 1] : -1 }
            parts.append(TrainBatch(tokens: toks, targets: targets, segments: [TrainSegment(start: 0, count: len)]))
        }
        return TrainBatch.concatenating(parts)
    }

    /// Gives every adapter random non-zero A and B so all gradients flow.
    static func randomiseAdapters(_ model: LlamaTrainModel, seed: UInt64, std: Float = 0.2) {
        var rng = TrainingRandom(seed: seed)
        for t in model.trainableTensors {
            for i in 0..<t.count { t.data[i] = std * rng.nextNormal() }
        }
    }
}
