import Foundation

/// The BERT text normaliser and pre-tokeniser, as Hugging Face `tokenizers` runs them for BERT uncased.
///
/// Order matters and follows `BertNormalizer`: drop control characters and map whitespace to a space,
/// pad CJK ideographs with spaces, strip accents (NFD, drop non-spacing marks), lower-case; then
/// `BertPreTokenizer` splits on whitespace and isolates every punctuation character.
public struct BertTextNormalizer: Sendable {
    /// Lower-case the text (uncased models).
    public var lowercase: Bool
    /// Strip accents; Hugging Face defaults this to `lowercase` when the config says null.
    public var stripAccents: Bool
    /// Surround CJK ideographs with spaces so each becomes its own word.
    public var handleChineseCharacters: Bool

    /// A normaliser; the defaults are those of BERT uncased.
    public init(lowercase: Bool = true, stripAccents: Bool? = nil, handleChineseCharacters: Bool = true) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.handleChineseCharacters = handleChineseCharacters
    }

    /// The words of `text` after normalisation and pre-tokenisation.
    public func words(_ text: Substring) -> [String] {
        var cleaned = String.UnicodeScalarView()
        var asciiOnly = true
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) {
                cleaned.append(" ")
            } else if handleChineseCharacters && Self.isChineseCharacter(scalar) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                if scalar.value >= 0x80 { asciiOnly = false }
                cleaned.append(scalar)
            }
        }
        var normalized = String(cleaned)
        if stripAccents && !asciiOnly {
            // NFD splits accented letters (and Hangul syllables) into base + marks; the marks are dropped.
            var stripped = String.UnicodeScalarView()
            for scalar in normalized.decomposedStringWithCanonicalMapping.unicodeScalars
            where scalar.properties.generalCategory != .nonspacingMark {
                stripped.append(scalar)
            }
            normalized = String(stripped)
        }
        if lowercase { normalized = Self.lowercased(normalized, asciiOnly: asciiOnly) }
        return Self.splitWords(normalized)
    }

    /// Per-character lower-casing, like Rust's `char::to_lowercase` (no context rules such as final sigma).
    static func lowercased(_ text: String, asciiOnly: Bool) -> String {
        if asciiOnly { return text.lowercased() }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                out.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
            } else {
                out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// Splits on whitespace (dropped) and punctuation (kept as one-character words).
    static func splitWords(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
            } else if isPunctuation(scalar) {
                if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                words.append(String(scalar))
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { words.append(String(current)) }
        return words
    }

    /// Tab, newline and carriage return count as whitespace, not control.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r": return false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .unassigned, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.isWhitespace
    }

    /// ASCII punctuation (which includes symbols such as `$`, `+`, `^`) or any Unicode P* category.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT treats as single-character words (not kana or Hangul).
    static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
