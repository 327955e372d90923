/// The article-extraction benchmark's scoring rule: token 4-shingle matching per page, macro-averaged.
///
/// Tokens are `\w+` runs as Python's `re` reads them (Unicode letters, numbers and `_`; case kept).
/// Per page, shingle counts give tp = Σ min(true, predicted), fp = Σ excess predicted, fn = Σ missing true,
/// each divided by tp+fp+fn. Precision averages over pages with tp+fp > 0, recall over pages with tp+fn > 0;
/// a page with fp = fn = 0 scores 1 for both.
public struct ExtractionScore: Sendable, Equatable {
    /// Per-page normalised counts.
    public struct Page: Sendable, Equatable {
        public var truePositive: Double
        public var falsePositive: Double
        public var falseNegative: Double
    }

    /// Mean precision over pages.
    public var precision: Double
    /// Mean recall over pages.
    public var recall: Double
    /// Harmonic mean of the averaged precision and recall.
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }

    /// Averages pages as the benchmark does.
    public init(pages: [Page]) {
        var precisions: [Double] = []
        var recalls: [Double] = []
        for page in pages {
            if page.falsePositive == 0, page.falseNegative == 0 {
                precisions.append(1)
                recalls.append(1)
                continue
            }
            if page.truePositive + page.falsePositive > 0 {
                precisions.append(page.truePositive / (page.truePositive + page.falsePositive))
            }
            if page.truePositive + page.falseNegative > 0 {
                recalls.append(page.truePositive / (page.truePositive + page.falseNegative))
            }
        }
        precision = precisions.isEmpty ? 0 : precisions.reduce(0, +) / Double(precisions.count)
        recall = recalls.isEmpty ? 0 : recalls.reduce(0, +) / Double(recalls.count)
    }

    /// Scores one page's prediction against its ground truth.
    public static func page(truth: String, predicted: String) -> Page {
        let trueShingles = shingles(truth)
        let predictedShingles = shingles(predicted)
        var tp = 0.0
        var fp = 0.0
        var fn = 0.0
        for (key, trueCount) in trueShingles {
            let predictedCount = predictedShingles[key] ?? 0
            tp += Double(min(trueCount, predictedCount))
            fn += Double(max(0, trueCount - predictedCount))
        }
        for (key, predictedCount) in predictedShingles {
            fp += Double(max(0, predictedCount - (trueShingles[key] ?? 0)))
        }
        let total = tp + fp + fn
        guard total > 0 else { return Page(truePositive: 0, falsePositive: 0, falseNegative: 0) }
        return Page(truePositive: tp / total, falsePositive: fp / total, falseNegative: fn / total)
    }

    /// `\w+` tokens of `text`.
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isWordScalar(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                tokens.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { tokens.append(String(current)) }
        return tokens
    }

    /// 4-token shingles with counts; fewer than four tokens make one shingle of them all.
    static func shingles(_ text: String, size: Int = 4) -> [String: Int] {
        let tokens = tokens(text)
        var counts: [String: Int] = [:]
        guard !tokens.isEmpty else { return counts }
        let count = max(1, tokens.count - size + 1)
        for start in 0..<count {
            let shingle = tokens[start..<min(start + size, tokens.count)].joined(separator: " ")
            counts[shingle, default: 0] += 1
        }
        return counts
    }

    /// Python's `\w` for `str`: letters (L*), numbers (N*) and underscore.
    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value
            return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A)
                || value == 0x5F
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
            .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }
}
