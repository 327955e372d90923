/// A frozen weight matrix kept in 32-element quantised blocks (QLoRA base) and dequantised on use.
///
/// Q8_0: one Float absmax scale per block, `x ≈ d·q` with q in −127…127.
/// Q4_1: a Float scale and minimum per block, `x ≈ d·q + m` with q in 0…15 (two per byte).
final class QuantizedMatrix {
    static let blockSize = 32

    let kind: BaseQuantization
    let rows: Int
    let columns: Int
    private let scales: UnsafeMutablePointer<Float>
    private let mins: UnsafeMutablePointer<Float>
    private let quants: UnsafeMutablePointer<UInt8>
    private let blocks: Int

    /// Quantises a row-major [rows, columns] matrix; `columns` must be a multiple of 32.
    init(kind: BaseQuantization, rows: Int, columns: Int, values: UnsafePointer<Float>) {
        precondition(columns % Self.blockSize == 0, "quantised columns must be a multiple of 32")
        self.kind = kind
        self.rows = rows
        self.columns = columns
        blocks = rows * columns / Self.blockSize
        scales = .allocate(capacity: blocks)
        mins = .allocate(capacity: kind == .q4_1 ? blocks : 1)
        let bytesPerBlock = kind == .q8_0 ? Self.blockSize : Self.blockSize / 2
        quants = .allocate(capacity: blocks * bytesPerBlock)
        for b in 0..<blocks {
            let x = values + b &* Self.blockSize
            switch kind {
            case .q8_0:
                var amax: Float = 0
                for i in 0..<Self.blockSize { amax = Swift.max(amax, abs(x[i])) }
                let d = amax / 127
                let inv: Float = d > 0 ? 1 / d : 0
                scales[b] = d
                let q = quants + b &* Self.blockSize
                for i in 0..<Self.blockSize {
                    q[i] = UInt8(bitPattern: Int8(Swift.max(-127, Swift.min(127, (x[i] * inv).rounded()))))
                }
            case .q4_1:
                var lo = x[0], hi = x[0]
                for i in 0..<Self.blockSize { lo = Swift.min(lo, x[i]); hi = Swift.max(hi, x[i]) }
                let d = (hi - lo) / 15
                let inv: Float = d > 0 ? 1 / d : 0
                scales[b] = d
                mins[b] = lo
                let q = quants + b &* (Self.blockSize / 2)
                for i in 0..<(Self.blockSize / 2) {
                    let a = UInt8(Swift.max(0, Swift.min(15, ((x[2 &* i] - lo) * inv).rounded())))
                    let c = UInt8(Swift.max(0, Swift.min(15, ((x[2 &* i &+ 1] - lo) * inv).rounded())))
                    q[i] = a | (c << 4)
                }
            }
        }
    }

    deinit {
        scales.deallocate()
        mins.deallocate()
        quants.deallocate()
    }

    /// Bytes held by the quantised representation.
    var byteCount: Int {
        blocks * (kind == .q8_0 ? 4 + Self.blockSize : 8 + Self.blockSize / 2)
    }

    /// Writes the whole dequantised matrix into `out` ([rows, columns]).
    @inline(never)
    func dequantise(into out: UnsafeMutablePointer<Float>) {
        let bs = Self.blockSize
        switch kind {
        case .q8_0:
            let q = UnsafeRawPointer(quants).assumingMemoryBound(to: Int8.self)
            for b in 0..<blocks {
                let d = scales[b]
                let src = q + b &* bs
                let dst = out + b &* bs
                for i in 0..<bs { dst[i] = Float(src[i]) * d }
            }
        case .q4_1:
            let half = bs / 2
            for b in 0..<blocks {
                let d = scales[b], m = mins[b]
                let src = quants + b &* half
                let dst = out + b &* bs
                for i in 0..<half {
                    let byte = src[i]
                    dst[2 &* i] = Float(byte & 0x0F) * d + m
                    dst[2 &* i &+ 1] = Float(byte >> 4) * d + m
                }
            }
        }
    }
}
