import Foundation
import NeuralVNNI

/// Products of a quantised weight matrix with rows of quantised activations, reading each weight block
/// once for up to `maxRowsPerPass` activation rows (prefill, single-token decode, continuous batching,
/// speculative verification all use it).
///
/// The arithmetic is the one of llama.cpp's x86 `vec_dot_q4_1_q8_1` / `vec_dot_q4_0_q8_0` /
/// `vec_dot_q8_0_q8_0`, operation for operation: per 32-block the integer products are summed into eight
/// lanes of four products, converted to float and fused-multiply-added with d_w·d_x into eight float
/// accumulators; the accumulators are reduced in the order of its `hsum_float_8`, and for Q4_1 the block
/// minima m_w·s_x are summed separately and added last. Reproducing the order matters: the next layer
/// re-quantises the result to 8 bits, and a last-bit difference that moves a value across a rounding
/// boundary changes the logits of this small model measurably (see docs/benchmarks/generate.md).
enum QuantMatMul {
    /// Rows of activations handled per pass over the weights; larger batches take several passes.
    static let maxRowsPerPass = 8

    /// Which loops run the products: both give bit-identical results.
    enum Kernels: Sendable {
        /// `QuantBlockDot` on the GGUF layout (AVX2 in Linux release builds, portable scalar code elsewhere).
        case avx2
        /// NeuralVNNI's AVX-512 VNNI loops on `InterleavedQuantMatrix` copies of Q4_1 and Q8_0 matrices
        /// (other matrices stay on `avx2`).
        case vnni

        /// The fastest the CPU can run.
        static let best: Kernels = {
            guard VNNIKernels.isCompiled && CPUFeatures.hasAVX512VNNI else { return .avx2 }
            if let text = ProcessInfo.processInfo.environment["TWIN_PREFETCH_BYTES"], let bytes = Int(text), bytes >= 0 {
                VNNIKernels.prefetchDistance = bytes
            }
            return .vnni
        }()
    }

    /// y[t·ldy + r] for t in 0..<x.rows, r in rowRange; `weight` is [out, in] of Q4_0, Q4_1 or Q8_0.
    /// The GGUF-layout loops (`Kernels.avx2`); see `DecoderMatrix` for the dispatch to the VNNI ones.
    static func multiply(
        _ weight: GGUFTensor, _ x: QuantActivations, rowRange: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        var t0 = 0
        while t0 < x.rows {
            let n = min(maxRowsPerPass, x.rows - t0)
            switch weight.type {
            case .q4_1: QuantBlockDot.q4_1Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy)
            case .q4_0: QuantBlockDot.q4_0Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy)
            case .q8_0: QuantBlockDot.q8_0Rows(weight, x, t0, n, rowRange, y + t0 &* ldy, ldy)
            default: preconditionFailure("QuantMatMul: unsupported weight type \(weight.type)")
            }
            t0 &+= n
        }
    }

    /// llama.cpp's `hsum_float_8`: (x4+x0) + (x6+x2), (x5+x1) + (x7+x3), then their sum.
    @inline(__always)
    static func horizontalSum(_ v: SIMD8<Float>) -> Float {
        let a0 = v[4] + v[0], a1 = v[5] + v[1], a2 = v[6] + v[2], a3 = v[7] + v[3]
        return (a0 + a2) + (a1 + a3)
    }
}
