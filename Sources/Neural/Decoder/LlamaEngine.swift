/// Runs the Llama forward pass over a batch of token rows, each row belonging to some sequence's KV cache.
///
/// A batch row is (cache, position, token). Rows of one sequence must be consecutive positions in order;
/// rows of different sequences can be mixed (continuous batching). Every matrix product quantises the
/// activations to 8 bits and runs the fused integer product of `QuantMatMul` (prefill included), which
/// reads each weight block once for up to eight rows and never makes an f32 copy of the weights; the
/// attention rounds queries and probabilities to half precision. Both are what llama.cpp computes, so
/// logits agree with it closely (Tests/NeuralTests/DecoderTests.swift).
/// All scratch memory is allocated once here; a step allocates nothing.
public final class LlamaEngine: @unchecked Sendable {
    // @unchecked Sendable: one caller at a time (callers serialise steps); scratch is private.

    /// The model this engine runs.
    public let model: LlamaModel
    /// Rows one step can take (prefill longer than this runs in chunks).
    public let maxRows: Int
    /// Threads for the quantised kernels and attention.
    public let threads: Int

    let config: LlamaConfig
    private let pool: DecoderThreadPool
    private let x, xn, q, k, v, att, proj, gate, up: UnsafeMutablePointer<Float>
    private let ropeTable: UnsafeMutablePointer<Float>
    private let queryHalf: UnsafeMutablePointer<Float>
    private let slotScratch: UnsafeMutablePointer<Float>
    private let scores: UnsafeMutablePointer<Float>
    private let scoresStride: Int
    private let actModel: QuantActivations
    private let actFFN: QuantActivations
    /// Logits of the rows that asked for them, [row][vocab].
    public let logits: UnsafeMutablePointer<Float>
    private let maxLogitRows: Int
    private let maxContext: Int

    /// An engine for `model` taking up to `maxRows` rows per step and attending over up to `maxContext`
    /// positions; `threads` decoder threads.
    public init(model: LlamaModel, maxRows: Int = 64, maxContext: Int = 2048, threads: Int = 2) {
        self.model = model
        let c = model.config
        config = c
        self.maxRows = maxRows
        self.threads = max(1, threads)
        pool = DecoderThreadPool(width: max(1, threads))
        self.maxContext = maxContext
        let d = c.modelDim
        x = .allocate(capacity: maxRows * d)
        xn = .allocate(capacity: maxRows * max(d, c.ffnDim))
        q = .allocate(capacity: maxRows * d)
        k = .allocate(capacity: maxRows * c.kvDim)
        v = .allocate(capacity: maxRows * c.kvDim)
        att = .allocate(capacity: maxRows * d)
        proj = .allocate(capacity: maxRows * d)
        gate = .allocate(capacity: maxRows * c.ffnDim)
        up = .allocate(capacity: maxRows * c.ffnDim)
        ropeTable = .allocate(capacity: maxRows * c.headDim)
        queryHalf = .allocate(capacity: maxRows * d)
        slotScratch = .allocate(capacity: self.threads * AttentionOrder.single.slots * c.headDim)
        scoresStride = maxContext
        scores = .allocate(capacity: maxRows * c.headCount * maxContext)
        actModel = QuantActivations(columns: d, capacity: maxRows)
        actFFN = QuantActivations(columns: c.ffnDim, capacity: maxRows)
        maxLogitRows = maxRows
        logits = .allocate(capacity: maxRows * c.vocabSize)
    }

    deinit {
        for p in [x, xn, q, k, v, att, proj, gate, up, ropeTable, queryHalf, slotScratch, scores, logits] { p.deallocate() }
    }

    /// One row of a batch: the token at `position` of the sequence whose cache is `cache`.
    public struct Row {
        public var cache: LlamaKVCache
        public var position: Int
        public var token: Int
        /// Whether to compute logits for this row (they land in `logits` in order of such rows).
        public var wantsLogits: Bool

        public init(cache: LlamaKVCache, position: Int, token: Int, wantsLogits: Bool) {
            self.cache = cache
            self.position = position
            self.token = token
            self.wantsLogits = wantsLogits
        }
    }

    /// Logits of the `i`-th row that asked for them.
    public func logits(ofRequest i: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: logits + i * config.vocabSize, count: config.vocabSize)
    }

    /// Runs the rows through the model, appends their keys/values to their caches and computes the
    /// requested logits. Preconditions (checked by callers that face users): rows ≤ maxRows, each
    /// position < its cache capacity and < maxContext, tokens inside the vocabulary.
    ///
    /// `order` picks the summation order of the attention products (see `AttentionOrder`); by default
    /// it is llama.cpp's: `.batch` for steps of several rows, `.single` for one row. Decode steps that
    /// must equal one-row steps bit for bit (continuous batching, speculative verification) pass `.single`.
    public func step(_ rows: [Row], order: AttentionOrder? = nil) {
        let order = order ?? (rows.count > 1 ? .batch : .single)
        let n = rows.count
        precondition(n > 0 && n <= maxRows, "batch of \(n) rows, engine takes 1…\(maxRows)")
        let c = config
        let d = c.modelDim
        for (i, row) in rows.enumerated() {
            precondition(row.position < row.cache.capacity && row.position < maxContext, "position past the context")
            precondition(row.token >= 0 && row.token < c.vocabSize, "token outside the vocabulary")
            try! model.weights.tokenEmbedding.dequantizeRows(row.token..<(row.token + 1), into: x + i * d)
            DecoderKernels.ropeCache(position: row.position, headDim: c.headDim, thetaScale: model.ropeThetaScale, into: ropeTable + i * c.headDim)
        }
        for layer in 0..<c.layerCount {
            forwardLayer(layer, rows, order)
        }
        for row in rows { row.cache.count = max(row.cache.count, row.position + 1) }

        // Final norm and output projection for the rows that want logits.
        var m = 0
        for (i, row) in rows.enumerated() where row.wantsLogits {
            DecoderKernels.rmsNorm(x + i * d, model.weights.outputNorm, xn + m * d, n: d, epsilon: c.rmsEpsilon)
            m += 1
        }
        guard m > 0 else { return }
        actModel.quantize(xn, rows: m)
        let output = model.weights.output
        let act = actModel, out = logits, vocab = c.vocabSize
        DecoderParallel.forChunks(vocab, threads: threads, minimumPerThread: 256, pool: pool) { range in
            QuantMatMul.multiply(output, act, rowRange: range, into: out, ldy: vocab)
        }
    }

    /// y[n, out] = x[n, in] · Wᵀ for a quantised W [out, in], the activations already quantised in `act`.
    private func linear(_ w: GGUFTensor, _ act: QuantActivations, into y: UnsafeMutablePointer<Float>) {
        let outDim = w.rows
        DecoderParallel.forChunks(outDim, threads: threads, minimumPerThread: 16, pool: pool) { range in
            QuantMatMul.multiply(w, act, rowRange: range, into: y, ldy: outDim)
        }
    }

    private func forwardLayer(_ layer: Int, _ rows: [Row], _ order: AttentionOrder) {
        let c = config
        let n = rows.count
        let d = c.modelDim, kvDim = c.kvDim, hd = c.headDim, ffn = c.ffnDim
        let w = model.weights.layers[layer]

        for i in 0..<n {
            DecoderKernels.rmsNorm(x + i * d, w.attentionNorm, xn + i * d, n: d, epsilon: c.rmsEpsilon)
        }
        // The three projections share one quantisation of xn.
        actModel.quantize(xn, rows: n)
        linear(w.query, actModel, into: q)
        linear(w.key, actModel, into: k)
        linear(w.value, actModel, into: v)

        for (i, row) in rows.enumerated() {
            let angles = ropeTable + i * hd
            DecoderKernels.rope(q + i * d, heads: c.headCount, headDim: hd, cache: angles)
            DecoderKernels.rope(k + i * kvDim, heads: c.kvHeadCount, headDim: hd, cache: angles)
            // llama.cpp keeps K and V in an f16 cache and converts the query to f16 for the K·q product.
            let kc = row.cache.key(layer: layer, position: row.position)
            let vc = row.cache.value(layer: layer, position: row.position)
            for j in 0..<kvDim {
                kc[j] = Quant.roundToHalf(k[i * kvDim + j])
                vc[j] = Quant.roundToHalf(v[i * kvDim + j])
            }
            for j in 0..<d { queryHalf[i * d + j] = Quant.roundToHalf(q[i * d + j]) }
        }

        attention(layer, rows, order)
        actModel.quantize(att, rows: n)
        linear(w.output, actModel, into: proj)
        for i in 0..<(n * d) { x[i] += proj[i] }

        for i in 0..<n {
            DecoderKernels.rmsNorm(x + i * d, w.ffnNorm, xn + i * d, n: d, epsilon: c.rmsEpsilon)
        }
        actModel.quantize(xn, rows: n)
        linear(w.gate, actModel, into: gate)
        linear(w.up, actModel, into: up)
        for i in 0..<n { DecoderKernels.swiglu(gate + i * ffn, up + i * ffn, n: ffn) }
        actFFN.quantize(gate, rows: n)
        linear(w.down, actFFN, into: proj)
        for i in 0..<(n * d) { x[i] += proj[i] }
    }

    /// Causal attention of every row over its own sequence's cache, positions 0...row.position.
    private func attention(_ layer: Int, _ rows: [Row], _ order: AttentionOrder) {
        let c = config
        let d = c.modelDim, hd = c.headDim
        let group = c.headCount / c.kvHeadCount
        let scale = 1 / Float(hd).squareRoot()
        let heads = c.headCount
        let q = queryHalf, att = att, scores = scores, stride = scoresStride, slotScratch = slotScratch
        let work = rows.count * heads
        let totalPositions = rows.reduce(0) { $0 + $1.position + 1 }
        rows.withUnsafeBufferPointer { rowsBuffer in
            // Items are dealt out round-robin: under a causal mask later rows cost more, so contiguous
            // chunks would leave one thread with most of a prefill's attention.
            let parts = totalPositions * heads > 512 ? min(threads, work) : 1
            DecoderParallel.forChunks(parts, threads: parts, pool: pool) { range in
                for part in range {
                    let slots = slotScratch + part * AttentionOrder.single.slots * hd
                    var item = part
                    while item < work {
                        let i = item / heads, h = item % heads
                        let row = rowsBuffer[i]
                        let g = h / group
                        let qh = q + i * d + h * hd
                        let s = scores + item * stride
                        let len = row.position + 1
                        for j in 0..<len {
                            s[j] = DecoderAttention.dot(qh, row.cache.key(layer: layer, position: j) + g * hd, n: hd, order: order) * scale
                        }
                        DecoderAttention.softmax(s, n: len)
                        // The probabilities enter the V product as f16, as in llama.cpp's kq·V matmul.
                        for j in 0..<len { s[j] = Quant.roundToHalf(s[j]) }
                        let cache = row.cache
                        DecoderAttention.weightedSum(
                            s, count: len, hd: hd, order: order,
                            value: { UnsafePointer(cache.value(layer: layer, position: $0) + g * hd) },
                            slotsScratch: slots, into: att + i * d + h * hd)
                        item += parts
                    }
                }
            }
        }
    }
}
