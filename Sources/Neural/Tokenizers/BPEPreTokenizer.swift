/// Splits text into the pieces byte-level BPE merges within, the way llama.cpp does for the `smollm`
/// (and `starcoder`, `refact`, …) pre-tokenizer: first every number scalar (`\p{N}`) on its own, then the
/// GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` on the rest.
enum BPEPreTokenizer {
    private enum Class { case letter, number, space, other }

    @inline(__always)
    private static func classify(_ s: Unicode.Scalar) -> Class {
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text` as scalar ranges, in order; together they cover the text exactly.
    static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(classify)
        var pieces: [Range<Int>] = []
        var start = 0
        // Stage 1: each number scalar alone; stage 2 (GPT-2) runs inside the spans between them.
        for i in 0..<scalars.count where classes[i] == .number {
            if start < i { splitGPT2(scalars, classes, start..<i, into: &pieces) }
            pieces.append(i..<(i + 1))
            start = i + 1
        }
        if start < scalars.count { splitGPT2(scalars, classes, start..<scalars.count, into: &pieces) }
        return pieces
    }

    private static func splitGPT2(
        _ s: [Unicode.Scalar], _ c: [Class], _ span: Range<Int>, into pieces: inout [Range<Int>]
    ) {
        let end = span.upperBound
        var pos = span.lowerBound
        func cls(_ i: Int) -> Class? { i < end ? c[i] : nil }
        while pos < end {
            let start = pos
            let scalar = s[pos]
            // Contractions, case-sensitive as in GPT-2.
            if scalar == "'", pos + 1 < end {
                let n1 = s[pos + 1]
                if n1 == "s" || n1 == "t" || n1 == "m" || n1 == "d" {
                    pieces.append(pos..<(pos + 2))
                    pos += 2
                    continue
                }
                if pos + 2 < end {
                    let n2 = s[pos + 2]
                    if (n1 == "r" && n2 == "e") || (n1 == "v" && n2 == "e") || (n1 == "l" && n2 == "l") {
                        pieces.append(pos..<(pos + 3))
                        pos += 3
                        continue
                    }
                }
            }
            // The optional leading space belongs to the run that follows it.
            let lead = scalar == " " ? cls(pos + 1) : c[pos]
            if lead == .letter || lead == .number {
                if scalar == " " { pos += 1 }
                while cls(pos) == lead { pos += 1 }
                pieces.append(start..<pos)
                continue
            }
            if lead == .other {
                if scalar == " " { pos += 1 }
                while cls(pos) == .other { pos += 1 }
                pieces.append(start..<pos)
                continue
            }
            var spaces = 0
            while cls(pos + spaces) == .space { spaces += 1 }
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // leave the last space to prefix the next word
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            pieces.append(start..<pos)
        }
    }
}
