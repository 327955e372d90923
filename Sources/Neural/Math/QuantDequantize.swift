/// Block layouts of the ggml quantisations and their scalar dequantisation.
///
/// Q4_0 block (18 B): f16 d, 16 bytes of nibbles; x = (q - 8)·d.
/// Q4_1 block (20 B): f16 d, f16 m, 16 bytes of nibbles; x = q·d + m.
/// Q8_0 block (34 B): f16 d, 32 int8; x = q·d.
/// Within a 4-bit block, byte j holds element j in its low nibble and element j+16 in its high nibble.
public enum Quant {
    /// Elements per block of the block quantisations.
    public static let blockSize = 32

    /// IEEE half to single precision, including subnormals, infinities and NaN.
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) &<< 16
        let exponent = UInt32(h &>> 10) & 0x1f
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa &<< 13)) }
        return Float(bitPattern: sign | ((exponent &+ 112) &<< 23) | (mantissa &<< 13))
    }

    /// Single to half precision with round-to-nearest-even (used to build test fixtures and Q8 blocks).
    public static func floatToHalf(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        if f.isNaN { return sign | 0x7e00 }
        let a = abs(f)
        if a >= 65520 { return sign | 0x7c00 }
        if a < 0x1p-14 {  // subnormal half: quantum 2^-24
            return sign | UInt16((a * 0x1p24).rounded(.toNearestOrEven))
        }
        let exponent = Int((bits >> 23) & 0xff) - 127
        let mantissa = bits & 0x7f_ffff
        var h = UInt32(exponent + 15) << 10 | (mantissa >> 13)
        let rest = mantissa & 0x1fff
        if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }

    @inline(__always)
    static func loadHalf(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Dequantises `count` elements of `type` starting at `src` (a whole number of blocks).
    static func dequantize(_ type: GGMLType, from src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { out[i] = loadHalf(src, i &* 2) }
        case .q4_0:
            for b in 0..<(count / 32) {
                let block = src + b &* 18
                let d = loadHalf(block, 0)
                let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
                let o = out + b &* 32
                for j in 0..<16 {
                    o[j] = Float(Int32(qs[j] & 0x0f) &- 8) * d
                    o[j &+ 16] = Float(Int32(qs[j] &>> 4) &- 8) * d
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let block = src + b &* 20
                let d = loadHalf(block, 0)
                let m = loadHalf(block, 2)
                let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
                let o = out + b &* 32
                for j in 0..<16 {
                    o[j] = Float(qs[j] & 0x0f) * d + m
                    o[j &+ 16] = Float(qs[j] &>> 4) * d + m
                }
            }
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = src + b &* 34
                let d = loadHalf(block, 0)
                let qs = (block + 2).assumingMemoryBound(to: Int8.self)
                let o = out + b &* 32
                for j in 0..<32 { o[j] = Float(qs[j]) * d }
            }
        default:
            preconditionFailure("dequantize called for unsupported type \(type)")
        }
    }
}
