import Foundation
import Testing
@testable import Neural

struct DecoderKernelTests {
    /// The fused quantised product agrees with dequantise-then-dot on real Q4_1 and Q8_0 matrices.
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
            var y = [Float](repeating: 0, count: n * rowsToCheck)
            y.withUnsafeMutableBufferPointer { QuantMatMul.multiply(w, act, rowRange: 0..<rowsToCheck, into: $0.baseAddress!, ldy: rowsToCheck) }
            var row = [Float](repeating: 0, count: w.columns)
            var worst: Float = 0
            for r in 0..<rowsToCheck {
                try row.withUnsafeMutableBufferPointer { try w.dequantizeRows(r..<(r + 1), into: $0.baseAddress!) }
                for t in 0..<n {
                    var ref: Float = 0
                    for j in 0..<w.columns { ref += row[j] * x[t * w.columns + j] }
                    worst = max(worst, abs(ref - y[t * rowsToCheck + r]) / (1 + abs(ref)))
                }
            }
            #expect(worst < 0.1, "\(name): worst relative error \(worst)")
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
    /// otherwise), and the weighted sum over positions agrees with a plain double-precision one.
    @Test func attentionOrders() {
        let hd = 64
        var rng = SystemRandomNumberGenerator()
        let a = (0..<hd).map { _ in Float(Int.random(in: -20...20, using: &rng)) }
        let b = (0..<hd).map { _ in Float(Int.random(in: -20...20, using: &rng)) }
        let exact = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        for order in [AttentionOrder.batch, .single] {
            #expect(DecoderAttention.dot(a, b, n: hd, order: order) == exact)
        }
        let count = 150
        let p = (0..<count).map { _ in Quant.roundToHalf(Float.random(in: 0...0.02, using: &rng)) }
        let values = (0..<(count * hd)).map { _ in Quant.roundToHalf(Float.random(in: -4...4, using: &rng)) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 64 * hd)
        defer { scratch.deallocate() }
        for order in [AttentionOrder.batch, .single] {
            var out = [Float](repeating: 0, count: hd)
            values.withUnsafeBufferPointer { v in
                out.withUnsafeMutableBufferPointer { o in
                    DecoderAttention.weightedSum(p, count: count, hd: hd, order: order,
                                                 value: { v.baseAddress! + $0 * hd }, slotsScratch: scratch, into: o.baseAddress!)
                }
            }
            for e in 0..<hd {
                let reference = (0..<count).reduce(0.0) { $0 + Double(p[$1]) * Double(values[$1 * hd + e]) }
                #expect(abs(Double(out[e]) - reference) < 1e-4, "\(order) dim \(e)")
            }
        }
        var scores: [Float] = [1, 2, 3, -1, 0.5] + Array(repeating: -3, count: 20)
        scores.withUnsafeMutableBufferPointer { DecoderAttention.softmax($0.baseAddress!, n: $0.count) }
        #expect(abs(scores.reduce(0, +) - 1) < 1e-5)
        #expect(scores[2] > scores[1] && scores[1] > scores[0])
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
            pool.run(parts: parts) { counts[$0] += 1 }
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
    }
}
