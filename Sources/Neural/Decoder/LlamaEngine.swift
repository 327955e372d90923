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
    private let scores: UnsafeMutablePointer<Float>
    private let scoresStride: Int
    private let actModel: QuantActivations
    private let actFFN: QuantActivations
    /// Logits of the rows that asked for them, [row][vocab].
    public let logits: UnsafeMutablePointer<Float>
    private let maxLogitRows: Int
    /// The batch rows whose logits a step computes, in order (scratch).
    private let logitRows: UnsafeMutablePointer<Int>
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
        // Rows of scores are read in whole chunks of 16 (lanes past the count masked).
        scoresStride = (maxContext + 63) / 64 * 64
        scores = .allocate(capacity: maxRows * c.headCount * scoresStride + 64)
        actModel = QuantActivations(columns: d, capacity: maxRows)
        actFFN = QuantActivations(columns: c.ffnDim, capacity: maxRows)
        maxLogitRows = maxRows
        logitRows = .allocate(capacity: maxRows)
        logits = .allocate(capacity: maxRows * c.vocabSize)
    }

    deinit {
        for p in [x, xn, q, k, v, att, proj, gate, up, ropeTable, queryHalf, scores, logits] { p.deallocate() }
        logitRows.deallocate()
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
            logitRows[m] = i
            m += 1
        }
        guard m > 0 else { return }
        let x = x, xn = xn, act = actModel, norm = model.weights.outputNorm, wanted = logitRows
        act.setRows(m)
        forRows(m) { range in
            for j in range {
                DecoderKernels.rmsNorm(x + wanted[j] * d, norm, xn + j * d, n: d, epsilon: c.rmsEpsilon)
            }
            act.quantizeRows(xn, range)
        }
        let output = model.outputMatrix
        let out = logits, vocab = c.vocabSize
        DecoderParallel.forShares(vocab, grain: 256, pool: pool) { range in
            output.multiply(act, rowRange: range, into: out, ldy: vocab)
        }
    }

    /// One matrix product of a parallel section: y[n, out] = x[n, in] · Wᵀ.
    private typealias Product = (weight: DecoderMatrix, y: UnsafeMutablePointer<Float>)

    /// Up to three products sharing the activations in `act`, in one parallel section: the rows of all
    /// the matrices, taken as one sequence, are shared out from both ends in whole 4-row groups
    /// (`DecoderParallel.forShares`; 16-row groups for interleaved matrices, whose row counts are
    /// multiples of 16 so every share stays on group boundaries), so each thread streams through its own
    /// stretch of weights and both finish together even when one runs slower.
    private func linear(_ a: Product, _ b: Product? = nil, _ c: Product? = nil, act: QuantActivations) {
        let ra = a.weight.rows, rb = b?.weight.rows ?? 0, rc = c?.weight.rows ?? 0
        @inline(__always) func part(_ p: Product, offset: Int, _ range: Range<Int>) {
            let first = max(range.lowerBound, offset) - offset, last = min(range.upperBound, offset + p.weight.rows) - offset
            if first < last { p.weight.multiply(act, rowRange: first..<last, into: p.y, ldy: p.weight.rows) }
        }
        let grain = InterleavedQuantMatrix.groupRows
        guard ra % grain == 0 && rb % grain == 0 else {
            // A matrix whose rows are not whole groups (never interleaved itself) would put the next
            // one's ranges off its group boundaries: give each product its own section instead.
            linear(a, act: act)
            if let b { linear(b, act: act) }
            if let c { linear(c, act: act) }
            return
        }
        DecoderParallel.forShares(ra + rb + rc, grain: grain, pool: pool) { range in
            part(a, offset: 0, range)
            if let b { part(b, offset: ra, range) }
            if let c { part(c, offset: ra + rb, range) }
        }
    }

    private func forwardLayer(_ layer: Int, _ rows: [Row], _ order: AttentionOrder) {
        let c = config
        let n = rows.count
        let d = c.modelDim, kvDim = c.kvDim, hd = c.headDim, ffn = c.ffnDim
        let w = model.weights.layers[layer]
        let m = model.layerMatrices[layer]
        let x = x, xn = xn, q = q, k = k, v = v, att = att, proj = proj, gate = gate, up = up
        let actModel = actModel, actFFN = actFFN, ropeTable = ropeTable, queryHalf = queryHalf

        // The three projections share one quantisation of xn.
        actModel.setRows(n)
        forRows(n) { range in
            DecoderKernels.rmsNorm(rows: range, x, w.attentionNorm, xn, n: d, epsilon: c.rmsEpsilon)
            actModel.quantizeRows(xn, range)
        }
        linear((m.query, q), (m.key, k), (m.value, v), act: actModel)

        rows.withUnsafeBufferPointer { rowsBuffer in
            forRows(n) { range in
                for i in range {
                    let angles = ropeTable + i * hd
                    DecoderKernels.rope(q + i * d, heads: c.headCount, headDim: hd, cache: angles)
                    DecoderKernels.rope(k + i * kvDim, heads: c.kvHeadCount, headDim: hd, cache: angles)
                    // llama.cpp keeps K and V in an f16 cache and converts the query to f16 for the K·q product.
                    // Rows of one sequence write different positions: disjoint memory.
                    rowsBuffer[i].cache.store(layer: layer, position: rowsBuffer[i].position, keys: k + i * kvDim, values: v + i * kvDim)
                    DecoderKernels.roundToHalf(q + i * d, into: queryHalf + i * d, n: d)
                }
            }
        }

        attention(layer, rows, order)
        actModel.setRows(n)
        forRows(n) { range in actModel.quantizeRows(att, range) }
        linear((m.output, proj), act: actModel)

        actModel.setRows(n)
        forRows(n) { range in
            let first = range.lowerBound * d
            DecoderKernels.add(proj + first, into: x + first, n: range.count * d)
            DecoderKernels.rmsNorm(rows: range, x, w.ffnNorm, xn, n: d, epsilon: c.rmsEpsilon)
            actModel.quantizeRows(xn, range)
        }
        linear((m.gate, gate), (m.up, up), act: actModel)

        actFFN.setRows(n)
        forRows(n) { range in
            for i in range { DecoderKernels.swiglu(gate + i * ffn, up + i * ffn, n: ffn) }
            actFFN.quantizeRows(gate, range)
        }
        linear((m.down, proj), act: actFFN)
        DecoderKernels.add(proj, into: x, n: n * d)
    }

    /// Runs `body` over ranges covering the batch rows 0..<n, shared out over the threads when the batch
    /// has enough rows to repay a parallel section: the per-row work between the matrix products (norms,
    /// quantisation, RoPE, cache writes, SwiGLU) would otherwise leave all but one thread waiting.
    @inline(__always)
    private func forRows(_ n: Int, _ body: (Range<Int>) -> Void) {
        if n >= Self.minimumParallelRows {
            DecoderParallel.forShares(n, grain: 1, pool: pool, body)
        } else {
            body(0..<n)
        }
    }

    /// Fewer rows than this run their per-row work on the calling thread (a section costs a hand-off).
    static let minimumParallelRows = 4

    /// Causal attention of every row over its own sequence's cache, positions 0...row.position.
    ///
    /// Three parallel phases, each dealing its units round-robin over the threads (under a causal mask
    /// later rows cost more, so contiguous chunks would leave one thread with most of a prefill):
    /// scores (row, KV head, block of 64 positions; the key rows are read once for the query heads that
    /// share them), softmax (row, head), and the V product (row, KV head, 16 output dimensions). A decode
    /// step thus splits evenly over two threads although 9 heads do not.
    private func attention(_ layer: Int, _ rows: [Row], _ order: AttentionOrder) {
        let c = config
        let d = c.modelDim, hd = c.headDim
        let group = c.headCount / c.kvHeadCount
        let kvHeads = c.kvHeadCount
        let scale = 1 / Float(hd).squareRoot()
        let heads = c.headCount
        let q = queryHalf, att = att, scores = scores, stride = scoresStride
        let totalPositions = rows.reduce(0) { $0 + $1.position + 1 }
        let parts = totalPositions * heads > 512 ? threads : 1
        let dimBlocks = (hd + 15) / 16
        rows.withUnsafeBufferPointer { rowsBuffer in
            let n = rowsBuffer.count
            // Scores: s[j] = (q_h · k_j) · scale for the heads h of KV head g.
            DecoderParallel.forChunks(parts, threads: parts, pool: pool) { range in
                for part in range {
                    var unit = 0
                    for i in 0..<n {
                        let row = rowsBuffer[i]
                        let len = row.position + 1
                        let blocks = (len + 63) / 64
                        for g in 0..<kvHeads {
                            let keys = row.cache.keyRows(layer: layer, head: g)
                            for b in 0..<blocks {
                                defer { unit += 1 }
                                guard unit % parts == part else { continue }
                                for j in (b * 64)..<min(len, b * 64 + 64) {
                                    let k = UnsafePointer(keys + j * hd)
                                    for h in (g * group)..<(g * group + group) {
                                        scores[(i * heads + h) * stride + j] = DecoderAttention.dot(q + i * d + h * hd, k, n: hd, order: order) * scale
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Softmax per (row, head); probabilities rounded to f16.
            DecoderParallel.forChunks(parts, threads: parts, pool: pool) { range in
                for part in range {
                    var item = part
                    while item < n * heads {
                        DecoderAttention.softmax(scores + item * stride, n: rowsBuffer[item / heads].position + 1)
                        item += parts
                    }
                }
            }
            // out[e] = Σ_j p_j · v_j[e], 16 dimensions of one KV head's query heads per unit.
            DecoderParallel.forChunks(parts, threads: parts, pool: pool) { range in
                for part in range {
                    var unit = part
                    while unit < n * kvHeads * dimBlocks {
                        let i = unit / (kvHeads * dimBlocks)
                        let g = (unit / dimBlocks) % kvHeads
                        let e0 = (unit % dimBlocks) * 16
                        let row = rowsBuffer[i]
                        let len = row.position + 1
                        let values = UnsafePointer(row.cache.valueRows(layer: layer, head: g))
                        let capacity = row.cache.capacity
                        for e in e0..<min(hd, e0 + 16) {
                            let v = values + e * capacity
                            for h in (g * group)..<(g * group + group) {
                                att[i * d + h * hd + e] = DecoderAttention.weightedSum(scores + (i * heads + h) * stride, v, count: len, order: order)
                            }
                        }
                        unit += parts
                    }
                }
            }
        }
    }
}
