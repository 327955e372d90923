/// GPT-2's reversible map between bytes and printable Unicode scalars used by byte-level BPE vocabularies.
///
/// Printable Latin-1 bytes map to themselves; the other 68 bytes (controls, space, NBSP, soft hyphen)
/// map to U+0100 onwards in byte order, so every token string is printable and spaces show as `Ġ`.
enum BPEByteMapping {
    /// Scalar for each byte value.
    static let byteToScalar: [Unicode.Scalar] = {
        var map = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                map[b] = Unicode.Scalar(UInt32(b))!
            } else {
                map[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return map
    }()

    /// Byte for each mapped scalar, nil for scalars outside the map.
    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 { return byteToScalar[Int(v)].value == v ? UInt8(v) : nil }
        return inverseHigh[Int(v) - 256]
    }

    private static let inverseHigh: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 0x10000)
        for (b, s) in byteToScalar.enumerated() where s.value >= 256 { table[Int(s.value) - 256] = UInt8(b) }
        return table
    }()
}
