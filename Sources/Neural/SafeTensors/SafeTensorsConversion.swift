/// Element conversion between `Float` and the stored little-endian F32 / F16 / BF16 bytes.
enum SafeTensorsConversion {
    /// Decodes `bytes` (exactly `out.count` elements of `dtype`) into `out`; bytes may be unaligned.
    static func decode(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType, into out: UnsafeMutableBufferPointer<Float>) {
        let n = out.count
        switch dtype {
        case .f32:
            // The format is little-endian, as is every platform Swift runs Neural on; a plain copy suffices.
            UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<(n &* 4)]))
        case .f16:
            for i in 0..<n {
                out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))))
            }
        case .bf16:
            for i in 0..<n {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            preconditionFailure("decode called with unsupported dtype \(dtype)")
        }
    }

    /// Encodes `values` as `dtype` little-endian bytes, appending to `out`.
    static func encode(_ values: UnsafeBufferPointer<Float>, dtype: SafeTensorsDType, into out: inout [UInt8]) {
        switch dtype {
        case .f32:
            out.append(contentsOf: UnsafeRawBufferPointer(values))
        case .f16:
            out.reserveCapacity(out.count + values.count * 2)
            for value in values { appendLE(Float16(value).bitPattern, to: &out) }
        case .bf16:
            out.reserveCapacity(out.count + values.count * 2)
            for value in values { appendLE(bfloat16Bits(value), to: &out) }
        default:
            preconditionFailure("encode called with unsupported dtype \(dtype)")
        }
    }

    /// Round-to-nearest-even truncation of a Float to its upper 16 bits; NaN stays a (quiet) NaN.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) &+ ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    @inline(__always)
    private static func appendLE(_ value: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }
}
