import Foundation
import Testing
@testable import Neural

/// The element-wise kernels against plain scalar formulas.
struct EncoderKernelTests {
    @Test func erfApproximationIsWithin4e7OfLibm() {
        var worst: Double = 0
        for i in -6000...6000 {
            let x = Float(i) / 1000
            worst = max(worst, abs(Double(Elementwise.erfApproximation(x)) - erf(Double(x))))
        }
        #expect(worst < 4e-7, "worst error \(worst)")
    }

    @Test func geluMatchesExactFormula() {
        var values: [Float] = stride(from: -8, through: 8, by: 0.125).map { Float($0) }
        let expected = values.map { 0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot())) }
        values.withUnsafeMutableBufferPointer { Elementwise.gelu($0.baseAddress!, count: $0.count) }
        for (v, e) in zip(values, expected) { #expect(abs(Double(v) - e) < 2e-6) }
    }

    @Test func layerNormAndSoftmaxAndNormalize() {
        var x: [Float] = [1, 2, 3, 4, -1, 0, 1, 2]
        let gamma: [Float] = [1, 2, 1, 1], beta: [Float] = [0, 0, 1, 0]
        x.withUnsafeMutableBufferPointer { Elementwise.layerNorm($0.baseAddress!, rows: 2, cols: 4, gamma: gamma, beta: beta, epsilon: 1e-12) }
        let n = 1 / Float(1.25).squareRoot()
        let expectedRow: [Float] = [-1.5 * n, -0.5 * n * 2, 0.5 * n + 1, 1.5 * n]
        for (a, b) in zip(x, expectedRow + expectedRow) { #expect(abs(a - b) < 1e-5) }

        var s: [Float] = [0, 0, 1000, 1000, 1, 2]
        s.withUnsafeMutableBufferPointer { Elementwise.softmaxRows($0.baseAddress!, rows: 3, cols: 2) }
        let e = Float(1 / (1 + exp(1.0)))
        for (a, b) in zip(s, [0.5, 0.5, 0.5, 0.5, e, 1 - e] as [Float]) { #expect(abs(a - b) < 1e-6) }

        var v: [Float] = [3, 4]
        v.withUnsafeMutableBufferPointer { Elementwise.l2Normalize($0.baseAddress!, count: 2) }
        #expect(abs(v[0] - 0.6) < 1e-6 && abs(v[1] - 0.8) < 1e-6)
    }

    @Test func fastExpIsWithin3e7RelativeOfLibm() {
        var worst: Double = 0
        for i in -87_000...88_000 {
            let x = Float(i) / 1000
            let exact = exp(Double(x))
            worst = max(worst, abs(Double(Elementwise.fastExp(x)) - exact) / exact)
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(Elementwise.fastExp(-1000) < 1e-37 && Elementwise.fastExp(0) == 1)
    }

    @Test func fusedKernelsEqualTheirParts() {
        let rows = 3, cols = 5
        let x0: [Float] = (0..<15).map { Float($0) * 0.3 - 2 }
        let y: [Float] = (0..<15).map { Float(($0 * 7) % 11) * 0.2 - 1 }
        let bias: [Float] = [0.1, -0.2, 0.3, 0, 0.5], gamma: [Float] = [1, 0.5, 2, 1, 1], beta: [Float] = [0, 0.1, 0, -0.1, 0]
        var fused = x0, parts = x0
        fused.withUnsafeMutableBufferPointer {
            Elementwise.addBiasResidualLayerNorm($0.baseAddress!, y, rows: rows, cols: cols, bias: bias, gamma: gamma, beta: beta, epsilon: 1e-12)
        }
        parts.withUnsafeMutableBufferPointer { p in
            Elementwise.add(p.baseAddress!, y, count: 15)
            Elementwise.addBias(p.baseAddress!, rows: rows, cols: cols, bias: bias)
            Elementwise.layerNorm(p.baseAddress!, rows: rows, cols: cols, gamma: gamma, beta: beta, epsilon: 1e-12)
        }
        for (a, b) in zip(fused, parts) { #expect(abs(a - b) < 1e-5) }
        var geluFused = x0, geluParts = x0
        geluFused.withUnsafeMutableBufferPointer { Elementwise.addBiasGelu($0.baseAddress!, rows: rows, cols: cols, bias: bias) }
        geluParts.withUnsafeMutableBufferPointer { p in
            Elementwise.addBias(p.baseAddress!, rows: rows, cols: cols, bias: bias)
            Elementwise.gelu(p.baseAddress!, count: 15)
        }
        #expect(geluFused == geluParts)
    }

    /// The column-block variants touch only their block: rows `rowStride` apart, the other columns unchanged.
    @Test func columnBlockKernelsLeaveTheRestAlone() {
        let rows = 3, stride = 20, cols = 11, offset = 4
        let x0: [Float] = (0..<(rows * stride)).map { Float(($0 * 13) % 17) * 0.25 - 2 }
        let bias: [Float] = (0..<cols).map { Float($0) * 0.1 - 0.5 }
        for useGelu in [false, true] {
            var x = x0
            x.withUnsafeMutableBufferPointer { p in
                if useGelu {
                    Elementwise.addBiasGelu(p.baseAddress! + offset, rows: rows, cols: cols, rowStride: stride, bias: bias)
                } else {
                    Elementwise.addBias(p.baseAddress! + offset, rows: rows, cols: cols, rowStride: stride, bias: bias)
                }
            }
            for r in 0..<rows {
                for c in 0..<stride {
                    let before = x0[r * stride + c], after = x[r * stride + c]
                    guard (offset..<(offset + cols)).contains(c) else {
                        #expect(after == before)
                        continue
                    }
                    let v = Double(before + bias[c - offset])
                    let expected = useGelu ? 0.5 * v * (1 + erf(v / 2.0.squareRoot())) : v
                    #expect(abs(Double(after) - expected) < 2e-6, "row \(r) column \(c)")
                }
            }
        }
    }
}
