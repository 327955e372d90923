import Foundation
import RealModule

/// Element-wise kernels of the encoder: bias and residual adds, LayerNorm, GELU, row softmax.
///
/// Each takes raw pointers hoisted by the caller, loops with wrapping index math and allocates nothing,
/// so the compiler vectorises the simple loops; reductions use `Relaxed` so they may be reordered.
public enum Elementwise {
    /// x[r, c] += bias[c] for a row-major [rows × cols] matrix.
    @inline(never)
    public static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
        addBias(x, rows: rows, cols: cols, rowStride: cols, bias: bias)
    }

    /// x[r, c] += bias[c] for a [rows × cols] block whose rows lie `rowStride` floats apart (a column block).
    @inline(never)
    public static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rowStride: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = x + r &* rowStride
            for c in 0..<cols { row[c] = row[c] + bias[c] }
        }
    }

    /// x[i] += y[i] (residual connection).
    @inline(never)
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = x[i] + y[i] }
    }

    /// In-place LayerNorm over each row of a [rows × cols] matrix: (x - mean) / sqrt(var + eps) · gamma + beta.
    @inline(never)
    public static func layerNorm(
        _ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        for r in 0..<rows {
            let row = x + r &* cols
            var sum: Float = 0
            for c in 0..<cols { sum = Relaxed.sum(sum, row[c]) }
            normalizeRow(row, cols: cols, sum: sum, gamma: gamma, beta: beta, epsilon: epsilon)
        }
    }

    /// The second half of LayerNorm for one row whose element sum is known: variance, then scale and shift.
    @inline(__always)
    static func normalizeRow(
        _ row: UnsafeMutablePointer<Float>, cols: Int, sum: Float, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        let inverseCount = 1 / Float(cols)
        let mean = sum * inverseCount
        var squares: Float = 0
        for c in 0..<cols {
            let d = row[c] - mean
            squares = Relaxed.multiplyAdd(d, d, squares)
        }
        let scale = 1 / (squares * inverseCount + epsilon).squareRoot()
        for c in 0..<cols { row[c] = (row[c] - mean) * scale * gamma[c] + beta[c] }
    }

    /// In-place exact GELU, x · Φ(x) = x/2 · (1 + erf(x/√2)), as BERT's `hidden_act: gelu`.
    @inline(never)
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        geluRow(x, count: count, bias: nil)
    }

    /// row[c] = GELU(row[c] + bias[c]) (bias optional) over `count` floats. Plain loops that the compiler
    /// vectorises (explicit `SIMD8` lanes were slower: their min/max are not inlined).
    @inline(__always)
    static func geluRow(_ row: UnsafeMutablePointer<Float>, count: Int, bias: UnsafePointer<Float>?) {
        let invSqrt2: Float = 0.70710678118654752
        if let bias {
            for c in 0..<count {
                let v = row[c] + bias[c]
                row[c] = 0.5 * v * (1 + erfApproximation(v * invSqrt2))
            }
        } else {
            for c in 0..<count {
                let v = row[c]
                row[c] = 0.5 * v * (1 + erfApproximation(v * invSqrt2))
            }
        }
    }

    /// erf to within 4e-7 absolute, branch-free so loops over it vectorise.
    ///
    /// A rational fit x·P(x²)/Q(x²) on [0, 4] (our own least-squares fit; erf(±4) is ±1 in Float),
    /// a few times faster than calling libm's `erff` per element.
    @inline(__always)
    public static func erfApproximation(_ value: Float) -> Float {
        let x = min(max(value, -4), 4)
        let z = x * x
        // Fused multiply-adds: one instruction per step in the vectorised loops that inline this.
        var p: Float = 1.9660834393449712e-08
        p = (-1.971518969966976e-06 as Float).addingProduct(p, z)
        p = (0.0001471322096296581 as Float).addingProduct(p, z)
        p = (0.003924999060588573 as Float).addingProduct(p, z)
        p = (0.051263932937663306 as Float).addingProduct(p, z)
        p = (0.20519156412207268 as Float).addingProduct(p, z)
        p = (1.12837888452677 as Float).addingProduct(p, z)
        var q: Float = 0.0010101899183587826
        q = (0.014800969263358102 as Float).addingProduct(q, z)
        q = (0.11717148043429361 as Float).addingProduct(q, z)
        q = (0.5151759839310917 as Float).addingProduct(q, z)
        q = (1 as Float).addingProduct(q, z)
        return min(max(x * p / q, -1), 1)
    }

    /// In-place softmax of each row of a [rows × cols] matrix (max-subtracted for stability).
    @inline(never)
    public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r &* cols
            var largest = -Float.infinity
            for c in 0..<cols { largest = max(largest, row[c]) }
            var sum: Float = 0
            for c in 0..<cols {
                let e = fastExp(row[c] - largest)
                row[c] = e
                sum = Relaxed.sum(sum, e)
            }
            let inverse = 1 / sum
            for c in 0..<cols { row[c] = row[c] * inverse }
        }
    }

    /// eˣ to within ~2e-7 relative, branch-free so loops over it vectorise (libm's `expf` is a call per element).
    ///
    /// x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness); eʳ by its degree-6 Taylor polynomial;
    /// 2ⁿ assembled in the exponent bits. Inputs are clamped to [-87, 88], the normal Float range.
    @inline(__always)
    public static func fastExp(_ value: Float) -> Float {
        let x = min(max(value, -87), 88)
        // Adding and subtracting 1.5·2²³ rounds to the nearest integer without a rounding instruction.
        let n = (x * 1.44269504088896341 + 12582912) - 12582912
        let r = (x - n * 0.693145751953125) - n * 1.428606765330187045e-06
        var p: Float = 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        return p * Float(bitPattern: UInt32(bitPattern: (Int32(n) &+ 127) &<< 23))
    }

    /// x[r] = GELU(x[r] + bias) for a [rows × cols] matrix, in one pass.
    @inline(never)
    public static func addBiasGelu(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
        addBiasGelu(x, rows: rows, cols: cols, rowStride: cols, bias: bias)
    }

    /// x[r] = GELU(x[r] + bias) for a [rows × cols] block whose rows lie `rowStride` floats apart (a column block).
    @inline(never)
    public static func addBiasGelu(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rowStride: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows { geluRow(x + r &* rowStride, count: cols, bias: bias) }
    }

    /// x[r] = LayerNorm(x[r] + y[r] + bias) for [rows × cols] matrices: a post-norm residual block in one pass per row.
    @inline(never)
    public static func addBiasResidualLayerNorm(
        _ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float
    ) {
        for r in 0..<rows {
            let row = x + r &* cols, other = y + r &* cols
            var sum: Float = 0
            for c in 0..<cols {
                let v = row[c] + other[c] + bias[c]
                row[c] = v
                sum = Relaxed.sum(sum, v)
            }
            normalizeRow(row, cols: cols, sum: sum, gamma: gamma, beta: beta, epsilon: epsilon)
        }
    }

    /// Scales a vector to unit L2 norm (norm clamped at 1e-12, as `torch.nn.functional.normalize`).
    @inline(never)
    public static func l2Normalize(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var squares: Float = 0
        for i in 0..<count { squares = Relaxed.multiplyAdd(x[i], x[i], squares) }
        let inverse = 1 / max(squares.squareRoot(), 1e-12)
        for i in 0..<count { x[i] = x[i] * inverse }
    }
}
