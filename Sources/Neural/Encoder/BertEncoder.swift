import Dispatch

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
        let workspace = EncoderWorkspace()
        try forward(tokens: tokens, lengths: lengths, threads: 1, workspace: workspace)
        return Array(UnsafeBufferPointer(start: workspace.hidden, count: tokens.count * configuration.hiddenSize))
    }

    /// The forward pass into `workspace.hidden` ([Σ lengths × hidden]), reusing the workspace's buffers.
    ///
    /// With `threads` > 1 every product is split by output columns and attention by heads over that many
    /// threads (each sgemm single-threaded): the way to use several cores on one sequence, where there is
    /// nothing to shard by rows.
    func forward(tokens: [Int32], lengths: [Int], threads: Int, workspace: EncoderWorkspace) throws {
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
        let threads = max(1, min(threads, c.headCount))
        workspace.reserve(tokens: tokens.count, longest: lengths.max() ?? 0, threads: threads, configuration: c)
        let x = workspace.hidden
        tokens.withUnsafeBufferPointer { ids in
            embed(ids: ids, lengths: lengths, into: x)
        }
        for layer in weights.layers {
            transformerLayer(layer, x: x, lengths: lengths, workspace: workspace, threads: threads)
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
    private func transformerLayer(
        _ layer: BertWeights.Layer, x: UnsafeMutablePointer<Float>, lengths: [Int], workspace w: EncoderWorkspace, threads: Int
    ) {
        let c = configuration
        let h = c.hiddenSize, inner = c.intermediateSize, t = lengths.reduce(0, +)
        // qkv[T, 3H] = x · Wqkvᵀ + b
        linear(x, rows: t, inputs: h, weight: layer.qkvWeight.pointer, outputs: 3 * h, into: w.qkv, threads: threads) { out, columns in
            Elementwise.addBias(out, rows: t, cols: columns.count, rowStride: 3 * h, bias: layer.qkvBias.pointer + columns.lowerBound)
        }
        Self.parallel(c.headCount, threads: threads) { thread, heads in
            attention(qkv: w.qkv, context: w.context, scores: w.scores + thread &* w.scoreStride, lengths: lengths, heads: heads)
        }
        // x = LayerNorm(x + context · Woᵀ + b)
        linear(w.context, rows: t, inputs: h, weight: layer.attentionOutWeight.pointer, outputs: h, into: w.projected, threads: threads)
        Elementwise.addBiasResidualLayerNorm(x, w.projected, rows: t, cols: h, bias: layer.attentionOutBias.pointer,
                                             gamma: layer.attentionNormWeight.pointer, beta: layer.attentionNormBias.pointer,
                                             epsilon: c.layerNormEpsilon)
        // x = LayerNorm(x + GELU(x · W1ᵀ + b1) · W2ᵀ + b2)
        linear(x, rows: t, inputs: h, weight: layer.intermediateWeight.pointer, outputs: inner, into: w.intermediate,
               threads: threads) { out, columns in
            Elementwise.addBiasGelu(out, rows: t, cols: columns.count, rowStride: inner, bias: layer.intermediateBias.pointer + columns.lowerBound)
        }
        linear(w.intermediate, rows: t, inputs: inner, weight: layer.outputWeight.pointer, outputs: h, into: w.projected, threads: threads)
        Elementwise.addBiasResidualLayerNorm(x, w.projected, rows: t, cols: h, bias: layer.outputBias.pointer,
                                             gamma: layer.outputNormWeight.pointer, beta: layer.outputNormBias.pointer,
                                             epsilon: c.layerNormEpsilon)
    }

    /// out[rows, outputs] = a[rows, inputs] · weightᵀ (weight [outputs, inputs], PyTorch `Linear`), split by output
    /// columns over `threads`; `epilogue` then runs on each thread's block (its first column, its column range)
    /// while the block is still in cache.
    private func linear(
        _ a: UnsafePointer<Float>, rows: Int, inputs: Int, weight: UnsafePointer<Float>, outputs: Int,
        into out: UnsafeMutablePointer<Float>, threads: Int,
        epilogue: (UnsafeMutablePointer<Float>, Range<Int>) -> Void = { _, _ in }
    ) {
        // Blocks of whole 16-column panels keep every thread on OpenBLAS's full-width kernels.
        let unit = outputs % 16 == 0 ? 16 : 1
        Self.parallel(outputs / unit, threads: threads) { _, panels in
            let columns = (panels.lowerBound * unit)..<(panels.upperBound * unit)
            BLAS.sgemm(transB: true, m: rows, n: columns.count, k: inputs, a: a, lda: inputs,
                       b: weight + columns.lowerBound &* inputs, ldb: inputs, c: out + columns.lowerBound, ldc: outputs)
            epilogue(out + columns.lowerBound, columns)
        }
    }

    /// Runs `body(thread, chunk)` on `threads` contiguous chunks of 0..<count at once; inline for one thread.
    private static func parallel(_ count: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
        let n = max(1, min(threads, count))
        if n == 1 { return body(0, 0..<count) }
        withoutActuallyEscaping(body) { escapable in
            // Each chunk writes disjoint memory and concurrentPerform returns only after all of them finished.
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                box.value(i, (count * i / n)..<(count * (i + 1) / n))
            }
        }
    }

    /// Scaled dot-product attention per sequence for the heads in `heads`; Q, K, V are read in place from qkv
    /// (stride 3H).
    private func attention(qkv: UnsafeMutablePointer<Float>, context: UnsafeMutablePointer<Float>,
                           scores: UnsafeMutablePointer<Float>, lengths: [Int], heads: Range<Int>) {
        let h = configuration.hiddenSize, d = configuration.headSize, stride = 3 * h
        let scale = 1 / Float(d).squareRoot()
        var first = 0
        for length in lengths {
            for head in heads {
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
