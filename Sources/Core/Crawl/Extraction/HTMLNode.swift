/// One element of a parsed HTML page, detached from libxml2 so extraction logic is plain Swift.
///
/// A reference type because extraction walks up to ancestors and scores nodes in place; it never leaves
/// the extractor that built it, so it needs no `Sendable` conformance.
final class HTMLElement {
    /// Lower-cased tag name (`p`, `div`, …).
    let tag: String
    /// Attributes in document order, names lower-cased.
    let attributes: [(name: String, value: String)]
    /// Child nodes in document order.
    var children: [HTMLNode] = []
    /// The enclosing element; `nil` for the root.
    weak var parent: HTMLElement?

    init(tag: String, attributes: [(name: String, value: String)]) {
        self.tag = tag
        self.attributes = attributes
    }

    /// The value of the first attribute called `name`.
    func attribute(_ name: String) -> String? {
        for attribute in attributes where attribute.name == name { return attribute.value }
        return nil
    }

    /// `class` and `id` joined and lower-cased: what the boilerplate patterns look at.
    lazy var classAndID: String = {
        ((attribute("class") ?? "") + " " + (attribute("id") ?? "")).lowercased()
    }()

    /// `classAndID` as UTF-8 bytes, for `NamePatterns`.
    lazy var classAndIDBytes: [UInt8] = Array(classAndID.utf8)

    /// Child elements, skipping text.
    var childElements: [HTMLElement] {
        children.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    /// Every descendant element in document order (pre-order), not including `self`.
    func descendants(where predicate: (HTMLElement) -> Bool) -> [HTMLElement] {
        var found: [HTMLElement] = []
        func visit(_ element: HTMLElement) {
            for child in element.childElements {
                if predicate(child) { found.append(child) }
                visit(child)
            }
        }
        visit(self)
        return found
    }

    /// The first descendant that matches, in document order.
    func firstDescendant(where predicate: (HTMLElement) -> Bool) -> HTMLElement? {
        for child in childElements {
            if predicate(child) { return child }
            if let found = child.firstDescendant(where: predicate) { return found }
        }
        return nil
    }

    /// All text below this element, whitespace collapsed to single spaces.
    var text: String {
        var raw = ""
        appendText(to: &raw)
        return raw.collapsingWhitespace()
    }

    private func appendText(to output: inout String) {
        for child in children {
            switch child {
            case .text(let string): output += string
            case .element(let element):
                if !element.isBlock { element.appendText(to: &output) } else {
                    output += " "
                    element.appendText(to: &output)
                    output += " "
                }
            }
        }
    }

    /// Whether this element starts a new block of text when rendered.
    var isBlock: Bool { HTMLElement.blockTags.contains(tag) }

    /// Removes `child` from this element's children.
    func remove(_ child: HTMLElement) {
        children.removeAll { if case .element(let element) = $0 { element === child } else { false } }
    }

    /// Tags that break the flow of text.
    static let blockTags: Set<String> = [
        "p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "ul", "ol", "li", "dl", "dt",
        "dd", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "blockquote", "pre", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "br", "figure", "figcaption", "form", "fieldset", "address", "details", "summary",
        "body", "html", "center", "noscript",
    ]
}

/// A node of the extractor's tree: an element or a run of text.
enum HTMLNode {
    case element(HTMLElement)
    case text(String)
}

extension String {
    /// Runs of whitespace (including non-breaking spaces) replaced by one space, ends trimmed.
    func collapsingWhitespace() -> String {
        var result = ""
        result.reserveCapacity(utf8.count)
        var pendingSpace = false
        for scalar in unicodeScalars {
            if scalar.isLayoutWhitespace {
                pendingSpace = !result.isEmpty
            } else {
                if pendingSpace { result.unicodeScalars.append(" ") }
                pendingSpace = false
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
