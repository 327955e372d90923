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
}
