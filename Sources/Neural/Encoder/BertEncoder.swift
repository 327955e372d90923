/// The BERT encoder forward pass over *packed* sequences: no padding is ever computed.
///
/// Sequences are laid end to end as one [T × H] matrix (T = total tokens), so every projection and the
/// feed-forward block are single sgemms over all T rows; only attention runs per sequence and head, at
/// each sequence's own length.
public struct BertEncoder: Sendable {
    /// The model's dimensions.
    public let configuration: BertConfiguration
    /// The loaded weights (shared, read-only).
    public let weights: BertWeights

    /// An encoder over loaded weights.
    public init(configuration: BertConfiguration, weights: BertWeights) {
        self.configuration = configuration
        self.weights = weights
    }

    /// Last hidden states, row-major [Σ lengths × hidden], for `tokens` = the sequences concatenated.
    ///
    /// Token type ids are all 0 (single-segment input), as sentence-transformers passes them.
    public func forward(tokens: [Int32], lengths: [Int]) throws -> [Float] {
        let c = configuration
        guard lengths.reduce(0, +) == tokens.count else {
            throw EncoderError("lengths add up to \(lengths.reduce(0, +)) but \(tokens.count) tokens were given")
        }
        if let length = lengths.first(where: { $0 < 1 || $0 > c.maxPositions }) {
            throw EncoderError("sequence length \(length) is outside 1...\(c.maxPositions)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
            throw EncoderError("token id \(bad) is outside the vocabulary (\(c.vocabularySize))")
        }
        let h = c.hiddenSize, t = tokens.count, longest = lengths.max() ?? 0
        var hidden = [Float](repeating: 0, count: t * h)
        let scratch = Scratch(tokens: t, longest: longest, configuration: c)
        defer { scratch.free() }
        hidden.withUnsafeMutableBufferPointer { x in
            tokens.withUnsafeBufferPointer { ids in
                embed(ids: ids, lengths: lengths, into: x.baseAddress!)
            }
            for layer in weights.layers {
                transformerLayer(layer, x: x.baseAddress!, lengths: lengths, scratch: scratch)
            }
        }
        return hidden
    }

    /// Per-call work buffers, allocated once per forward pass (never per token or per layer).
    struct Scratch {
        let qkv: UnsafeMutablePointer<Float>      // [T, 3H]
        let context: UnsafeMutablePointer<Float>  // [T, H]
        let projected: UnsafeMutablePointer<Float> // [T, H]
        let intermediate: UnsafeMutablePointer<Float> // [T, I]
        let scores: UnsafeMutablePointer<Float>   // [L, L] for the longest sequence

        init(tokens t: Int, longest: Int, configuration c: BertConfiguration) {
            qkv = .allocate(capacity: t * 3 * c.hiddenSize)
            context = .allocate(capacity: t * c.hiddenSize)
            projected = .allocate(capacity: t * c.hiddenSize)
            intermediate = .allocate(capacity: t * c.intermediateSize)
            scores = .allocate(capacity: max(1, longest * longest))
        }

        func free() {
            qkv.deallocate(); context.deallocate(); projected.deallocate(); intermediate.deallocate(); scores.deallocate()
        }
    }

    /// x[t] = LayerNorm(word[id] + position[p] + tokenType[0]), p restarting at 0 for each sequence.
    private func embed(ids: UnsafeBufferPointer<Int32>, lengths: [Int], into x: UnsafeMutablePointer<Float>) {
        let h = configuration.hiddenSize
        let word = weights.wordEmbeddings.pointer, position = weights.positionEmbeddings.pointer
        let type0 = weights.tokenTypeEmbeddings.pointer
        var row = 0
        for length in lengths {
            for p in 0..<length {
                let out = x + row &* h
                let w = word + Int(ids[row]) &* h, pe = position + p &* h
                for j in 0..<h { out[j] = w[j] + pe[j] + type0[j] }
                row &+= 1
            }
        }
        Elementwise.layerNorm(x, rows: row, cols: h, gamma: weights.embeddingNormWeight.pointer,
                              beta: weights.embeddingNormBias.pointer, epsilon: configuration.layerNormEpsilon)
    }

    /// One post-norm transformer layer, in place on x [T, H].
    private func transformerLayer(_ layer: BertWeights.Layer, x: UnsafeMutablePointer<Float>, lengths: [Int], scratch s: Scratch) {
        let c = configuration
        let h = c.hiddenSize, inner = c.intermediateSize, t = lengths.reduce(0, +)
        // qkv[T, 3H] = x · Wqkvᵀ + b
        BLAS.sgemm(transB: true, m: t, n: 3 * h, k: h, a: x, lda: h, b: layer.qkvWeight.pointer, ldb: h, c: s.qkv, ldc: 3 * h)
        Elementwise.addBias(s.qkv, rows: t, cols: 3 * h, bias: layer.qkvBias.pointer)
        attention(qkv: s.qkv, context: s.context, scores: s.scores, lengths: lengths)
        // x = LayerNorm(x + context · Woᵀ + b)
        BLAS.sgemm(transB: true, m: t, n: h, k: h, a: s.context, lda: h, b: layer.attentionOutWeight.pointer, ldb: h,
                   c: s.projected, ldc: h)
        Elementwise.addBiasResidualLayerNorm(x, s.projected, rows: t, cols: h, bias: layer.attentionOutBias.pointer,
                                             gamma: layer.attentionNormWeight.pointer, beta: layer.attentionNormBias.pointer,
                                             epsilon: c.layerNormEpsilon)
        // x = LayerNorm(x + GELU(x · W1ᵀ + b1) · W2ᵀ + b2)
        BLAS.sgemm(transB: true, m: t, n: inner, k: h, a: x, lda: h, b: layer.intermediateWeight.pointer, ldb: h,
                   c: s.intermediate, ldc: inner)
        Elementwise.addBiasGelu(s.intermediate, rows: t, cols: inner, bias: layer.intermediateBias.pointer)
        BLAS.sgemm(transB: true, m: t, n: h, k: inner, a: s.intermediate, lda: inner, b: layer.outputWeight.pointer, ldb: inner,
                   c: s.projected, ldc: h)
        Elementwise.addBiasResidualLayerNorm(x, s.projected, rows: t, cols: h, bias: layer.outputBias.pointer,
                                             gamma: layer.outputNormWeight.pointer, beta: layer.outputNormBias.pointer,
                                             epsilon: c.layerNormEpsilon)
    }

    /// Scaled dot-product attention per sequence and head; Q, K, V are read in place from qkv (stride 3H).
    private func attention(qkv: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
                           scores: UnsafeMutablePointer<Float>, lengths: [Int]) {
        let h = configuration.hiddenSize, d = configuration.headSize, stride = 3 * h
        let scale = 1 / Float(d).squareRoot()
        var first = 0
        for length in lengths {
            for head in 0..<configuration.headCount {
                let q = qkv + first &* stride + head &* d
                let k = q + h, v = q + 2 &* h
                // scores[L, L] = scale · Q · Kᵀ
                BLAS.sgemm(transB: true, m: length, n: length, k: d, alpha: scale, a: q, lda: stride, b: k, ldb: stride,
                           c: scores, ldc: length)
                Elementwise.softmaxRows(scores, rows: length, cols: length)
                // context[L, head] = P · V
                BLAS.sgemm(m: length, n: d, k: length, a: scores, lda: length, b: v, ldb: stride,
                           c: context + first &* h + head &* d, ldc: h)
            }
            first += length
        }
    }
}
