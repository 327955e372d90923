/// Turns a stream of token ids into text pieces that never split a UTF-8 character.
///
/// Byte-level tokens can end in the middle of a multi-byte character; the decoder holds such bytes back
/// until the character is complete (or gives them out, repaired, on `finish()`).
public struct BPEStreamDecoder {
    private let tokenizer: BPETokenizer
    private let includeSpecial: Bool
    private var pending: [UInt8] = []

    /// A decoder for `tokenizer`; control tokens are dropped unless `includeSpecial`.
    public init(tokenizer: BPETokenizer, includeSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.includeSpecial = includeSpecial
    }

    /// Adds one token and returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int) -> String {
        pending.append(contentsOf: tokenizer.bytes(of: id, includeSpecial: includeSpecial))
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is still held back, with incomplete characters replaced by U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside an incomplete UTF-8 sequence.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // Look back at most 3 bytes for the lead byte of the last sequence.
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {  // a lead or ASCII byte
                let need = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                return n - i >= need ? n : i
            }
            i -= 1
        }
        return n  // stray continuation bytes: give them out, String repairs them
    }
}
