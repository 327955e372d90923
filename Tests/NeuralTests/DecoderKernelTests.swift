import Foundation
import Testing
@testable import Neural

struct DecoderKernelTests {
    /// The fused quantised product equals dequantised weights times dequantised activations: the integer
    /// kernels compute exactly that product, up to float rounding of the per-block sums and, for Q4_1, the
    /// half-precision block sums s = d·Σq that llama.cpp's Q8_1 keeps (relative 2^-11 of the minima's
    /// terms): bound 1e-3 of the sum of |terms|, where a wrong lane or block would be off by order 1.
    /// Quantising the activations is checked separately: within half a step of each value.
    @Test func quantisedProductMatchesDequantisedDot() throws {
        let file = try GGUFFile(path: TestModels.smolLMPath)
        for name in ["blk.3.ffn_down.weight", "blk.0.attn_q.weight", "token_embd.weight"] {
            let w = try file.requireTensor(name)
            let rowsToCheck = min(w.rows, 300)
            var rng = SystemRandomNumberGenerator()
            let n = 3
            let x: [Float] = (0..<(n * w.columns)).map { _ in Float.random(in: -2...2, using: &rng) }
            let act = QuantActivations(columns: w.columns, capacity: n)
            x.withUnsafeBufferPointer { act.quantize($0.baseAddress!, rows: n) }
            var xq = [Float](repeating: 0, count: n * w.columns)
            xq.withUnsafeMutableBufferPointer { act.dequantize(into: $0.baseAddress!) }
            for j in 0..<(n * w.columns) {
                let block = j / 32
                let amax = (0..<32).map { abs(x[block * 32 + $0]) }.max()!
                #expect(abs(xq[j] - x[j]) <= amax / 127 * 0.5001 + amax * 0.001, "\(name): activation \(j) quantised to \(xq[j]) from \(x[j])")
            }
            var y = [Float](repeating: 0, count: n * rowsToCheck)
            y.withUnsafeMutableBufferPointer { QuantMatMul.multiply(w, act, rowRange: 0..<rowsToCheck, into: $0.baseAddress!, ldy: rowsToCheck) }
            var row = [Float](repeating: 0, count: w.columns)
            var worst = 0.0
            for r in 0..<rowsToCheck {
                try row.withUnsafeMutableBufferPointer { try w.dequantizeRows(r..<(r + 1), into: $0.baseAddress!) }
                for t in 0..<n {
                    var ref = 0.0, magnitude = 0.0
                    for j in 0..<w.columns {
                        let term = Double(row[j]) * Double(xq[t * w.columns + j])
                        ref += term
                        magnitude += abs(term)
                    }
                    worst = max(worst, abs(ref - Double(y[t * rowsToCheck + r])) / (magnitude + 1e-6))
                }
            }
            #expect(worst < 1e-3, "\(name): worst error \(worst) of the terms' magnitude")
        }
    }

    /// Every path of the fused product (one row, pairs of rows, groups of four, the general loop) gives
    /// bit-identical results for the same activation row, so batching never changes a sequence's output.
    @Test func quantisedProductIsIndependentOfBatchSize() throws {
        let file = try GGUFFile(path: TestModels.smolLMPath)
        for name in ["blk.2.ffn_up.weight", "token_embd.weight"] {
            let w = try file.requireTensor(name)
            let rows = 37  // odd: exercises the pair loop's tail row
            let n = 11     // two groups of four plus a remainder of three
            var rng = SystemRandomNumberGenerator()
            let x: [Float] = (0..<(n * w.columns)).map { _ in Float.random(in: -3...3, using: &rng) }
            let all = QuantActivations(columns: w.columns, capacity: n)
            x.withUnsafeBufferPointer { all.quantize($0.baseAddress!, rows: n) }
            var batched = [Float](repeating: 0, count: n * rows)
            batched.withUnsafeMutableBufferPointer { QuantMatMul.multiply(w, all, rowRange: 0..<rows, into: $0.baseAddress!, ldy: rows) }
            let one = QuantActivations(columns: w.columns, capacity: 1)
            for t in 0..<n {
                x.withUnsafeBufferPointer { one.quantize($0.baseAddress! + t * w.columns, rows: 1) }
                var single = [Float](repeating: 0, count: rows)
                single.withUnsafeMutableBufferPointer { QuantMatMul.multiply(w, one, rowRange: 0..<rows, into: $0.baseAddress!, ldy: rows) }
                #expect(Array(batched[(t * rows)..<((t + 1) * rows)]) == single, "\(name): activation row \(t)")
            }
        }
    }

    /// The AVX-512 VNNI loops (NeuralVNNI, on the interleaved copy of the weights) and the AVX2 loops (on
    /// the GGUF layout) give bit-identical products for every number of activation rows (pairs, an odd
    /// last row) and any stretch of whole 16-row groups; Q4_1 and Q8_0 (the output head).
    @Test func vnniKernelsEqualAVX2Kernels() throws {
        try #require(QuantMatMul.Kernels.best == .vnni || !CPUFeatures.hasAVX512VNNI,
                     "this CPU has AVX-512 VNNI, so a release build must pick the VNNI loops")
        guard QuantMatMul.Kernels.best == .vnni else { return }  // nothing to compare on this CPU/build
        let file = try GGUFFile(path: TestModels.smolLMPath)
        for name in ["blk.1.ffn_gate.weight", "blk.4.ffn_down.weight", "blk.7.attn_k.weight", "token_embd.weight"] {
            let w = try file.requireTensor(name)
            #expect(InterleavedQuantMatrix.canInterleave(w))
            let packed = InterleavedQuantMatrix(w)
            let rows = 16..<80
            var rng = SystemRandomNumberGenerator()
            for n in [1, 2, 3, 4, 7, 8, 13] {
                let x: [Float] = (0..<(n * w.columns)).map { _ in Float.random(in: -3...3, using: &rng) }
                let act = QuantActivations(columns: w.columns, capacity: n)
                x.withUnsafeBufferPointer { act.quantize($0.baseAddress!, rows: n) }
                var fast = [Float](repeating: .nan, count: n * 80), reference = fast
                fast.withUnsafeMutableBufferPointer { QuantMatMul.multiply(packed, act, rowRange: rows, into: $0.baseAddress!, ldy: 80) }
                reference.withUnsafeMutableBufferPointer { QuantMatMul.multiply(w, act, rowRange: rows, into: $0.baseAddress!, ldy: 80) }
                #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern), "\(name), \(n) activation rows")
            }
        }
    }

    /// Only Q4_1 and Q8_0 matrices with whole groups of 16 rows are interleaved; others keep the GGUF loops.
    @Test func interleavingNeedsWholeGroupsOfSupportedTypes() throws {
        let file = try GGUFFile(path: TestModels.smolLMPath)
        let norm = try file.requireTensor("blk.0.attn_norm.weight")
        #expect(!InterleavedQuantMatrix.canInterleave(norm))
        let w = try file.requireTensor("blk.0.attn_q.weight")
        let cut = GGUFTensor(name: "cut", shape: [w.columns, 40], type: w.type, data: w.data, byteCount: 40 * w.rowBytes)
        #expect(!InterleavedQuantMatrix.canInterleave(cut))
        #expect(DecoderMatrix(cut, kernels: .vnni).interleaved == nil)
        #expect(DecoderMatrix(w, kernels: .avx2).interleaved == nil)
    }

    /// Activation quantisation equals llama.cpp's `quantize_row_q8_1` arithmetic written out plainly
    /// (ties to even, a zero block, large and tiny magnitudes), and quantising a batch in row ranges
    /// (as the decoder's threads do) gives the same bytes as quantising it at once.
    @Test func activationQuantisationMatchesReference() {
        let columns = 96, rows = 5
        var rng = SystemRandomNumberGenerator()
        var x: [Float] = (0..<(rows * columns)).map { _ in Float.random(in: -4...4, using: &rng) }
        for j in 32..<64 { x[j] = 0 }                                       // a zero block
        for j in 64..<96 { x[j] = Float(j - 80) * 0.5 + (j == 70 ? 7.5 : 0) }  // amax 8 · 127/8: .5 ties
        for j in 96..<128 { x[j] *= 1e-30 }
        for j in 128..<160 { x[j] *= 3e4 }
        let whole = QuantActivations(columns: columns, capacity: rows)
        let split = QuantActivations(columns: columns, capacity: rows)
        x.withUnsafeBufferPointer { p in
            whole.quantize(p.baseAddress!, rows: rows)
            split.setRows(rows)
            split.quantizeRows(p.baseAddress!, 3..<5)
            split.quantizeRows(p.baseAddress!, 0..<3)
        }
        let nb = columns / 32
        for b in 0..<(rows * nb) {
            let block = x[(b * 32)..<(b * 32 + 32)]
            let amax = block.map(abs).max()!
            let id: Float = amax != 0 ? 127 / amax : 0
            let q = block.map { Int32(($0 * id).rounded(.toNearestOrEven)) }
            let dv = amax / 127
            #expect(whole.d[b] == Float(Float16(dv)), "block \(b)")
            #expect(whole.s[b] == Float(Float16(dv * Float(q.reduce(0, +)))), "block \(b)")
            for j in 0..<32 { #expect(Int32(whole.q[b * 32 + j]) == q[j], "block \(b) element \(j)") }
            for i in 0..<8 {
                #expect(whole.laneCorrection[b * 8 + i] == -128 * q[(4 * i)..<(4 * i + 4)].reduce(0, +), "block \(b) lane \(i)")
            }
            #expect(split.d[b] == whole.d[b] && split.s[b] == whole.s[b])
            #expect((0..<32).allSatisfy { split.q[b * 32 + $0] == whole.q[b * 32 + $0] })
            #expect((0..<8).allSatisfy { split.laneCorrection[b * 8 + $0] == whole.laneCorrection[b * 8 + $0] })
        }
    }

    /// The four-rows-at-a-time RMSNorm gives every row exactly the one-row result (ragged row counts too).
    @Test func rowwiseRMSNormEqualsOneRow() {
        let n = 576
        var rng = SystemRandomNumberGenerator()
        let x: [Float] = (0..<(7 * n)).map { _ in Float.random(in: -5...5, using: &rng) }
        let gain: [Float] = (0..<n).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        for rows in [0..<7, 1..<6, 2..<3] {
            var batched = [Float](repeating: .nan, count: 7 * n), single = batched
            batched.withUnsafeMutableBufferPointer { out in
                DecoderKernels.rmsNorm(rows: rows, x, gain, out.baseAddress!, n: n, epsilon: 1e-5)
            }
            x.withUnsafeBufferPointer { xp in
                single.withUnsafeMutableBufferPointer { out in
                    for r in rows { DecoderKernels.rmsNorm(xp.baseAddress! + r * n, gain, out.baseAddress! + r * n, n: n, epsilon: 1e-5) }
                }
            }
            #expect(batched.map(\.bitPattern) == single.map(\.bitPattern), "rows \(rows)")
        }
    }

    /// llama.cpp's exponential stays within 2 ulp of the correctly rounded one and saturates like it.
    @Test func llamaCppExponential() {
        var x: Float = -100
        while x < 88 {
            let ours = DecoderExp.exp(x), reference = Float.exp(x)
            #expect(abs(ours - reference) <= 2 * reference.ulp, "exp(\(x)) = \(ours), expected ≈ \(reference)")
            x += 0.0371
        }
        #expect(DecoderExp.exp(0) == 1)
        #expect(DecoderExp.exp(-200) == 0)
        #expect(DecoderExp.exp(-.infinity) == 0)
        #expect(DecoderExp.exp(100) == .infinity)
        #expect(DecoderExp.exp(.nan).isNaN)
        #expect(abs(DecoderExp.silu(2) - 2 / (1 + Float.exp(-2))) < 1e-6)
    }

    /// Both attention summation orders compute the same sums (exactly for small integers, to rounding
    /// otherwise), and the weighted sum over positions agrees with a plain double-precision one. Lanes
    /// past the count are masked: whatever the cache or score row holds there (here NaN and ∞) is ignored.
    @Test func attentionOrders() {
        let hd = 64
        var rng = SystemRandomNumberGenerator()
        let a = (0..<hd).map { _ in Float(Int.random(in: -20...20, using: &rng)) }
        let b = (0..<hd).map { _ in Float16(Float(Int.random(in: -20...20, using: &rng))) }
        let exact = zip(a, b).reduce(Float(0)) { $0 + $1.0 * Float($1.1) }
        for order in [AttentionOrder.batch, .single] {
            #expect(DecoderAttention.dot(a, b, n: hd, order: order) == exact)
        }
        for count in [1, 15, 16, 17, 63, 64, 65, 150] {
            var p = (0..<count).map { _ in Quant.roundToHalf(Float.random(in: 0...0.02, using: &rng)) }
            p += Array(repeating: .nan, count: 64)
            // Transposed values: row e holds dimension e of every position; garbage after each row.
            let stride = count + 64
            var values = [Float16](repeating: .infinity, count: hd * stride)
            for e in 0..<hd {
                for j in 0..<count { values[e * stride + j] = Float16(Float.random(in: -4...4, using: &rng)) }
                values[e * stride + count] = .nan
            }
            for order in [AttentionOrder.batch, .single] {
                for e in 0..<hd {
                    let out = values.withUnsafeBufferPointer { v in
                        DecoderAttention.weightedSum(p, v.baseAddress! + e * stride, count: count, order: order)
                    }
                    let reference = (0..<count).reduce(0.0) { $0 + Double(p[$1]) * Double(values[e * stride + $1]) }
                    #expect(abs(Double(out) - reference) < 1e-4, "\(order) count \(count) dim \(e): \(out) vs \(reference)")
                }
            }
        }
        var scores: [Float] = [1, 2, 3, -1, 0.5] + Array(repeating: -3, count: 20)
        scores.withUnsafeMutableBufferPointer { DecoderAttention.softmax($0.baseAddress!, n: $0.count) }
        #expect(abs(scores.reduce(0, +) - 1) < 1e-3)
        #expect(scores[2] > scores[1] && scores[1] > scores[0])
        #expect(scores.allSatisfy { Float(Float16($0)) == $0 }, "probabilities are rounded to f16")
    }

    /// Eight exponentials at a time are bit-identical to the scalar llama.cpp exponential, including lanes
    /// that fall back to it (results near 0 or ∞, NaN) in the same vector as ordinary ones.
    @Test func vectorExponentialEqualsScalar() {
        var x: Float = -110
        while x < 95 {
            let v = SIMD8<Float>(x, x + 0.013, -x, x * 0.5, x - 80, 0, .nan, x + 0.77)
            let out = DecoderExp.exp(v)
            for l in 0..<8 {
                let scalar = DecoderExp.exp(v[l])
                #expect(out[l].bitPattern == scalar.bitPattern || (out[l].isNaN && scalar.isNaN), "exp(\(v[l])): \(out[l]) vs \(scalar)")
            }
            x += 0.0917
        }
    }

    /// The worker pool runs every part exactly once per job, the caller included, and returns only after
    /// all parts finished; forChunks over it covers the range exactly once.
    @Test func threadPoolRunsEveryPart() {
        let pool = DecoderThreadPool(width: 3)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 3)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 3)
        for job in 0..<3000 {
            let parts = 1 + job % 3
            pool.run(tasks: parts) { counts[$0] += 1 }
        }
        #expect(counts[0] == 3000 && counts[1] == 2000 && counts[2] == 1000)
        var hits = [Int](repeating: 0, count: 1000)
        hits.withUnsafeMutableBufferPointer { h in
            let base = h.baseAddress!
            DecoderParallel.forChunks(1000, threads: 3, pool: pool) { range in
                for i in range { base[i] += 1 }
            }
        }
        #expect(hits.allSatisfy { $0 == 1 })
        // Shares claimed from both ends: each item exactly once, ranges in whole grains but the last.
        for count in [0, 1, 7, 64, 1001, 40_000] {
            var seen = [Int](repeating: 0, count: count)
            let misaligned = UnsafeMutablePointer<Int>.allocate(capacity: 1)
            misaligned.initialize(to: 0)
            seen.withUnsafeMutableBufferPointer { h in
                let base = h.baseAddress!
                DecoderParallel.forShares(count, grain: 8, pool: pool) { range in
                    if range.lowerBound % 8 != 0 || (range.upperBound % 8 != 0 && range.upperBound != count) { misaligned.pointee += 1 }
                    for i in range { base[i] += 1 }
                }
            }
            #expect(seen.allSatisfy { $0 == 1 }, "\(count) items")
            #expect(misaligned.pointee == 0, "\(count) items: a share not in whole grains")
            misaligned.deallocate()
        }
    }
}
