import NeuralVNNI

extension QuantMatMul {
    /// y[t·ldy + r] for t in 0..<x.rows, r in `rowRange` (whole groups of 16 rows) through NeuralVNNI's
    /// interleaved loops; bit-identical to `multiply` on the GGUF tensor. Only for `Kernels.vnni`.
    static func multiply(
        _ w: InterleavedQuantMatrix, _ x: QuantActivations, rowRange: Range<Int>,
        into y: UnsafeMutablePointer<Float>, ldy: Int
    ) {
        let g = InterleavedQuantMatrix.groupRows
        precondition(rowRange.lowerBound % g == 0 && rowRange.upperBound % g == 0, "rows \(rowRange) not in whole groups of \(g)")
        precondition(x.columns == w.columns, "activations have \(x.columns) columns, the matrix \(w.columns)")
        let groups = (rowRange.lowerBound / g)..<(rowRange.upperBound / g)
        let base = UnsafeRawPointer(w.bytes), end = base + w.byteCount
        if w.type == .q4_1 {
            VNNIKernels.q4_1Interleaved(base, nb: w.blocksPerRow, groups: groups, end: end, x: UnsafeRawPointer(x.q),
                                        columns: x.columns, xd: x.d, xs: x.s, count: x.rows, y: y, ldy: ldy)
        } else {
            VNNIKernels.q8_0Interleaved(base, nb: w.blocksPerRow, groups: groups, end: end, x: UnsafeRawPointer(x.q),
                                        columns: x.columns, xd: x.d, xc: x.laneCorrection, count: x.rows, y: y, ldy: ldy)
        }
    }
}
