import NeuralVNNI

extension QuantBlockDot {
    /// Q4_1 or Q8_0 weights × every activation row through NeuralVNNI: groups of eight (then four)
    /// activation rows share each decoded weight block (weight rows taken 16 at a time, so they stay in L1 across the
    /// groups); one to three leftover rows run the one-row loop, which keeps four weight rows in flight.
    static func vnniRows(
        _ weight: GGUFTensor, _ x: QuantActivations, _ rowRange: Range<Int>,
        _ y: UnsafeMutablePointer<Float>, _ ldy: Int
    ) {
        let nb = weight.columns / 32
        let columns = x.columns
        let base = UnsafeRawPointer(weight.data)
        let xq = UnsafeRawPointer(x.q)
        let isQ4 = weight.type == .q4_1
        let octs = x.rows / 8
        let groups = x.rows / 4
        if groups > 0 {
            var r = rowRange.lowerBound
            while r < rowRange.upperBound {
                let chunk = r..<min(rowRange.upperBound, r &+ 16)
                for o in 0..<octs {
                    let t = o &* 8
                    if isQ4 {
                        VNNIKernels.q4_1Oct(base, nb: nb, rows: chunk, x: xq + t &* columns, columns: columns,
                                            xdT: x.dT + o &* nb &* 8, xsT: x.sT + o &* nb &* 8, y: y + t &* ldy, ldy: ldy)
                    } else {
                        VNNIKernels.q8_0Oct(base, nb: nb, rows: chunk, x: xq + t &* columns, columns: columns,
                                            xdT: x.dT + o &* nb &* 8, y: y + t &* ldy, ldy: ldy)
                    }
                }
                for g in (octs &* 2)..<groups {
                    let t = g &* 4
                    if isQ4 {
                        VNNIKernels.q4_1Quad(base, nb: nb, rows: chunk, x: xq + t &* columns, columns: columns,
                                             xd: x.d + t &* nb, xs: x.s + t &* nb, y: y + t &* ldy, ldy: ldy)
                    } else {
                        VNNIKernels.q8_0Quad(base, nb: nb, rows: chunk, x: xq + t &* columns, columns: columns,
                                             xd: x.d + t &* nb, y: y + t &* ldy, ldy: ldy)
                    }
                }
                r = chunk.upperBound
            }
        }
        for t in (groups &* 4)..<x.rows {
            if isQ4 {
                VNNIKernels.q4_1Single(base, nb: nb, rows: rowRange, x: xq + t &* columns, xd: x.d + t &* nb,
                                       xs: x.s + t &* nb, y: y + t &* ldy)
            } else {
                VNNIKernels.q8_0Single(base, nb: nb, rows: rowRange, x: xq + t &* columns, xd: x.d + t &* nb,
                                       y: y + t &* ldy)
            }
        }
    }
}
