/// Readability-style scoring: paragraphs vote for their ancestors, the best-scoring container wins,
/// and siblings that look like more of the same article join it.
struct ContentScorer {
    private let statistics = TextStatisticsCache()
    private var scores: [ObjectIdentifier: Double] = [:]
    private var candidates: [HTMLElement] = []

    /// Elements whose own text is a paragraph of prose.
    private static let paragraphTags: Set<String> = ["p", "pre", "td", "blockquote"]

    /// Class/id words that suggest content or boilerplate, each worth ±25 (Readability's weights).
    private static let positive = NamePatterns([
        "article", "body", "content", "entry", "hentry", "h-entry", "main", "post", "text", "blog", "story",
    ])
    private static let negative = NamePatterns([
        "-ad-", "hidden", "banner", "combx", "comment", "com-", "contact", "foot", "footnote", "gdpr", "masthead",
        "media", "meta", "outbrain", "promo", "related", "scroll", "share", "shoutbox", "sidebar", "skyscraper",
        "sponsor", "shopping", "tags", "tool", "widget", "caption", "credit",
    ])

    /// The elements that make up the main content of `body`, in document order.
    mutating func mainContent(of body: HTMLElement) -> [HTMLElement] {
        scoreParagraphs(below: body)
        guard var top = bestCandidate() else { return [body] }
        top = climbIfOnlyChild(top, body: body)
        top = promoteSharedAncestor(of: top)
        return withSiblings(of: top)
    }

    /// The class weight Readability gives an element (positive for content-like names).
    static func classWeight(_ element: HTMLElement) -> Double {
        var weight = 0.0
        for name in [element.attribute("class"), element.attribute("id")] {
            guard let name = name?.lowercased(), !name.isEmpty else { continue }
            let bytes = Array(name.utf8)
            if negative.matches(bytes) { weight -= 25 }
            if positive.matches(bytes) { weight += 25 }
        }
        if element.attribute("itemprop")?.lowercased() == "articlebody" { weight += 50 }
        return weight
    }

    func linkDensity(_ element: HTMLElement) -> Double { statistics.statistics(of: element).linkDensity }

    func textLength(_ element: HTMLElement) -> Int { statistics.statistics(of: element).length }

    private mutating func scoreParagraphs(below body: HTMLElement) {
        var stack = [body]
        while let element = stack.popLast() {
            let children = element.childElements
            stack.append(contentsOf: children)
            let isParagraph = Self.paragraphTags.contains(element.tag)
                || (element.tag == "div" && !children.contains(where: { $0.isBlock && $0.tag != "br" }))
            let paragraphStatistics: TextStatistics
            let voter: HTMLElement?
            if isParagraph {
                paragraphStatistics = statistics.statistics(of: element)
                voter = element.parent
            } else {
                // Loose text beside block children (`<div>text<br>text<p>…</p></div>`) votes for the element itself.
                paragraphStatistics = looseTextStatistics(of: element)
                voter = element
            }
            guard paragraphStatistics.length >= 25, let voter else { continue }
            let score = 1 + Double(paragraphStatistics.commas) + min(Double(paragraphStatistics.length / 100), 3)
            var ancestor: HTMLElement? = voter
            var level = 0
            while let current = ancestor, level < 5, current.tag != "#document" {
                let divider = level == 0 ? 1.0 : level == 1 ? 2.0 : Double(level * 3)
                add(score / divider, to: current)
                ancestor = current.parent
                level += 1
            }
        }
    }

    private func looseTextStatistics(of element: HTMLElement) -> TextStatistics {
        var total = TextStatistics()
        for child in element.children {
            switch child {
            case .text(let string):
                let trimmed = string.collapsingWhitespace()
                total.length += trimmed.count
                total.commas += trimmed.reduce(0) { $1 == "," ? $0 + 1 : $0 }
            case .element(let inline) where !inline.isBlock:
                let inner = statistics.statistics(of: inline)
                total.length += inner.length
                total.commas += inner.commas
                total.linkLength += inner.linkLength
            default:
                break
            }
        }
        // Navigation made of loose links is not prose.
        return total.linkDensity > 0.5 ? TextStatistics() : total
    }

    private mutating func add(_ score: Double, to element: HTMLElement) {
        let key = ObjectIdentifier(element)
        if scores[key] == nil {
            scores[key] = Self.initialScore(element)
            candidates.append(element)
        }
        scores[key, default: 0] += score
    }

    private static func initialScore(_ element: HTMLElement) -> Double {
        let base: Double = switch element.tag {
        case "div", "article", "main", "section": 5
        case "pre", "td", "blockquote": 3
        case "address", "ol", "ul", "dl", "dd", "dt", "li", "form": -3
        case "h1", "h2", "h3", "h4", "h5", "h6", "th": -5
        default: 0
        }
        return base + classWeight(element)
    }

    func score(_ element: HTMLElement) -> Double? { scores[ObjectIdentifier(element)] }

    /// Final score: the raw score scaled down by link density.
    private func finalScore(_ element: HTMLElement) -> Double {
        (score(element) ?? 0) * (1 - linkDensity(element))
    }

    private func bestCandidate() -> HTMLElement? {
        var best: HTMLElement?
        var bestScore = -Double.infinity
        for candidate in candidates where candidate.tag != "body" && candidate.tag != "html" {
            let value = finalScore(candidate)
            if value > bestScore {
                bestScore = value
                best = candidate
            }
        }
        return best
    }

    private func climbIfOnlyChild(_ element: HTMLElement, body: HTMLElement) -> HTMLElement {
        var current = element
        while let parent = current.parent, parent !== body, parent.tag != "#document",
            parent.childElements.count == 1, statistics.statistics(of: parent).length
                <= statistics.statistics(of: current).length + 10
        {
            current = parent
        }
        return current
    }

    /// When several strong candidates share an ancestor that itself scores well, the article is that ancestor.
    private func promoteSharedAncestor(of top: HTMLElement) -> HTMLElement {
        let topScore = finalScore(top)
        let strong = candidates.filter { $0 !== top && finalScore($0) >= topScore * 0.75 }
            .sorted { finalScore($0) > finalScore($1) }.prefix(5)
        guard strong.count >= 2 else { return top }
        var ancestor = top.parent
        while let current = ancestor, current.tag != "body", current.tag != "#document" {
            let contained = strong.filter { isAncestor(current, of: $0) }.count
            if contained >= 2 { return current }
            ancestor = current.parent
        }
        return top
    }

    private func isAncestor(_ ancestor: HTMLElement, of element: HTMLElement) -> Bool {
        var current = element.parent
        while let node = current {
            if node === ancestor { return true }
            current = node.parent
        }
        return false
    }

    private func withSiblings(of top: HTMLElement) -> [HTMLElement] {
        guard let parent = top.parent else { return [top] }
        let topScore = finalScore(top)
        let threshold = max(10, topScore * 0.2)
        let topClass = top.attribute("class") ?? ""
        var included: [HTMLElement] = []
        for sibling in parent.childElements {
            if sibling === top {
                included.append(sibling)
                continue
            }
            var bonus = 0.0
            if !topClass.isEmpty, sibling.attribute("class") == topClass { bonus += topScore * 0.2 }
            if let score = score(sibling), score * (1 - linkDensity(sibling)) + bonus >= threshold {
                included.append(sibling)
                continue
            }
            if sibling.tag == "p" {
                let stats = statistics.statistics(of: sibling)
                let text = sibling.text
                if stats.length > 80, stats.linkDensity < 0.25 {
                    included.append(sibling)
                } else if stats.length > 0, stats.linkDensity == 0, text.hasSuffix(".") {
                    included.append(sibling)
                }
            }
        }
        return included
    }
}
