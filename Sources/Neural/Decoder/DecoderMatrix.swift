/// A weight matrix as the decoder multiplies it: the GGUF tensor, and its interleaved copy when the
/// CPU runs NeuralVNNI's loops (`QuantMatMul.Kernels.vnni`). Both give bit-identical products.
public struct DecoderMatrix: Sendable {
    /// The tensor in the GGUF layout (the mapping, or an adapter-merged buffer).
    public let tensor: GGUFTensor
    /// The copy the VNNI loops read; nil on other CPUs and for matrices they do not take.
    let interleaved: InterleavedQuantMatrix?

    /// Wraps `tensor`, interleaving it when `kernels` is `.vnni` and its type and shape allow.
    init(_ tensor: GGUFTensor, kernels: QuantMatMul.Kernels = .best) {
        self.tensor = tensor
        interleaved = kernels == .vnni && InterleavedQuantMatrix.canInterleave(tensor) ? InterleavedQuantMatrix(tensor) : nil
    }

    /// Output rows.
    var rows: Int { tensor.rows }

    /// y[t·ldy + r] for t in 0..<x.rows, r in `rowRange` (starting and ending on multiples of 16 when interleaved).
    func multiply(_ x: QuantActivations, rowRange: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        if let interleaved {
            QuantMatMul.multiply(interleaved, x, rowRange: rowRange, into: y, ldy: ldy)
        } else {
            QuantMatMul.multiply(tensor, x, rowRange: rowRange, into: y, ldy: ldy)
        }
    }
}

/// The decoder's matrices of one block, in `LlamaLayerWeights` order.
struct LlamaLayerMatrices: Sendable {
    let query, key, value, output, gate, up, down: DecoderMatrix

    /// The block's matrices, each made by `prepare` (which wraps a tensor, interleaving it where it can).
    init(_ w: LlamaLayerWeights, prepare: (GGUFTensor) -> DecoderMatrix) {
        query = prepare(w.query)
        key = prepare(w.key)
        value = prepare(w.value)
        output = prepare(w.output)
        gate = prepare(w.gate)
        up = prepare(w.up)
        down = prepare(w.down)
    }
}
