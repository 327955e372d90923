/// A list of lower-case substrings matched against class/id names as bytes
/// (Foundation's `String.contains` is far slower, and this runs for every element of every page).
struct NamePatterns: Sendable {
    private let patterns: [[UInt8]]

    init(_ patterns: [String]) { self.patterns = patterns.map { Array($0.utf8) } }

    /// Whether any pattern occurs in `haystack`.
    func matches(_ haystack: [UInt8]) -> Bool {
        patterns.contains { Self.contains(haystack, $0) }
    }

    /// Whether any pattern occurs in `text` (lower-cased by the caller).
    func matches(_ text: String) -> Bool { matches(Array(text.utf8)) }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var offset = 1
                while offset < needle.count, haystack[index + offset] == needle[offset] { offset += 1 }
                if offset == needle.count { return true }
            }
            index += 1
        }
        return false
    }
}

extension Unicode.Scalar {
    /// Whitespace for text layout, including no-break and zero-width spaces; ASCII answered without tables.
    var isLayoutWhitespace: Bool {
        if value < 0x80 { return value == 0x20 || (value >= 0x09 && value <= 0x0D) }
        return value == 0xA0 || value == 0x200B || properties.isWhitespace
    }
}
