/// Removes boilerplate left inside the chosen content: link lists, image galleries, widgets, forms
/// (Readability's "clean conditionally").
struct ContentPruner {
    private let statistics = TextStatisticsCache()

    /// Containers the pruner judges; paragraphs, headings and code are kept or dropped by their own rules.
    private static let judged: Set<String> = ["div", "section", "ul", "ol", "table", "form", "fieldset", "dl", "figure"]

    /// Prunes `element`'s subtree in place, children before parents.
    func prune(_ element: HTMLElement) {
        for child in element.childElements { prune(child) }
        element.children.removeAll { node in
            guard case .element(let child) = node else { return false }
            return shouldRemove(child)
        }
    }

    private func shouldRemove(_ element: HTMLElement) -> Bool {
        if element.tag == "pre" || element.firstDescendant(where: { $0.tag == "pre" }) != nil { return false }
        let stats = statistics.statistics(of: element)
        if element.tag.count == 2, element.tag.hasPrefix("h"), element.tag != "hr" {
            return ContentScorer.classWeight(element) < 0 || stats.linkDensity > 0.33
        }
        if element.tag == "p" { return stats.length > 0 && stats.linkDensity > 0.8 && stats.length < 200 }
        guard Self.judged.contains(element.tag) else { return false }
        let weight = ContentScorer.classWeight(element)
        let paragraphs = element.descendants { $0.tag == "p" }.count
        // Wrappers named "widget-container" and the like still hold prose; a negative name alone is not enough.
        // Embedded posts (tweets, quotes) arrive in wrappers named "social-media-embed": a quote is content.
        let quotes = element.firstDescendant { $0.tag == "blockquote" } != nil
        if quotes { return stats.linkDensity > 0.5 }
        if weight < 0, paragraphs < 3 || stats.linkDensity > 0.2 { return true }
        if stats.commas >= 10 { return false }
        let items = element.descendants { $0.tag == "li" }.count - 100
        let isList = element.tag == "ul" || element.tag == "ol"
        if !isList, items > paragraphs, element.tag != "table" { return true }
        if weight < 25, stats.linkDensity > 0.2 { return true }
        if weight >= 25, stats.linkDensity > 0.5 { return true }
        if stats.length == 0 { return true }
        return false
    }
}
