/// Text measurements of an element's subtree, memoised per element for one scoring pass.
struct TextStatistics {
    /// Characters of visible text (whitespace collapsed).
    var length = 0
    /// Characters of text inside links.
    var linkLength = 0
    /// Commas (Latin and CJK), Readability's cheap measure of prose.
    var commas = 0

    /// Link characters over all characters; 0 for empty elements.
    var linkDensity: Double { length == 0 ? 0 : Double(linkLength) / Double(length) }
}

/// Caches `TextStatistics` by element identity; rebuild after the tree changes.
final class TextStatisticsCache {
    private var cache: [ObjectIdentifier: TextStatistics] = [:]

    func statistics(of element: HTMLElement) -> TextStatistics {
        if let known = cache[ObjectIdentifier(element)] { return known }
        var result = TextStatistics()
        let inLink = element.tag == "a"
        for child in element.children {
            switch child {
            case .text(let string):
                let (length, commas) = Self.measure(string)
                result.length += length
                result.commas += commas
                if inLink { result.linkLength += length }
            case .element(let child):
                if Self.invisible.contains(child.tag) { continue }
                let inner = statistics(of: child)
                result.length += inner.length
                result.commas += inner.commas
                result.linkLength += inLink ? inner.length : inner.linkLength
            }
        }
        cache[ObjectIdentifier(element)] = result
        return result
    }

    /// Tags whose text is never shown.
    private static let invisible: Set<String> = ["script", "style", "noscript", "template", "svg", "head", "title"]

    /// Non-whitespace characters plus single separators, and commas.
    private static func measure(_ string: String) -> (length: Int, commas: Int) {
        var length = 0
        var commas = 0
        var previousWasSpace = true
        for scalar in string.unicodeScalars {
            if scalar.isLayoutWhitespace {
                if !previousWasSpace { length += 1 }
                previousWasSpace = true
            } else {
                length += 1
                previousWasSpace = false
                if scalar == "," || scalar == "\u{FF0C}" || scalar == "\u{3001}" || scalar == "\u{060C}" {
                    commas += 1
                }
            }
        }
        return (length, commas)
    }
}
