import Foundation

/// Time-ordered UUIDs (RFC 9562 version 7): 48 bits of Unix milliseconds, then randomness, so job ids
/// sort by creation time in indexes and listings.
public enum UUIDv7 {
    /// A new id as lowercase text.
    public static func make() -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        for i in 0..<6 { bytes[i] = UInt8((ms >> (8 * (5 - UInt64(i)))) & 0xff) }
        // Two 64-bit draws (two getrandom calls), not one per byte.
        var rng = SystemRandomNumberGenerator()
        let r1 = rng.next(), r2 = rng.next()
        for i in 6..<8 { bytes[i] = UInt8(truncatingIfNeeded: r1 >> (8 * UInt64(i - 6))) }
        for i in 8..<16 { bytes[i] = UInt8(truncatingIfNeeded: r2 >> (8 * UInt64(i - 8))) }
        bytes[6] = (bytes[6] & 0x0f) | 0x70
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` is a UUID in canonical form.
    public static func isValid(_ text: String) -> Bool {
        UUID(uuidString: text) != nil
    }
}
