/// Turns the chosen content elements into `ContentBlock`s: headings, paragraphs, list items, quotes,
/// table rows and code blocks (code keeps its whitespace).
struct ContentRenderer {
    private(set) var blocks: [ContentBlock] = []
    private var inline = ""
    private var context: (kind: ContentBlock.Kind, level: Int) = (.paragraph, 0)
    private var listDepth = -1

    mutating func render(_ element: HTMLElement) {
        visit(element)
        flush()
    }

    private mutating func visit(_ element: HTMLElement) {
        for child in element.children {
            switch child {
            case .text(let string): inline += string
            case .element(let child): visitElement(child)
            }
        }
    }

    private mutating func visitElement(_ element: HTMLElement) {
        switch element.tag {
        case "br", "hr":
            flush()
        case "h1", "h2", "h3", "h4", "h5", "h6":
            flush()
            let text = element.text
            if !text.isEmpty { blocks.append(ContentBlock(kind: .heading, text: text, level: Int(String(element.tag.last!)) ?? 2)) }
        case "pre":
            flush()
            let code = rawText(element).trimmingNewlines()
            if !code.isEmpty { blocks.append(ContentBlock(kind: .code, text: code)) }
        case "ul", "ol":
            flush()
            listDepth += 1
            visit(element)
            flush()
            listDepth -= 1
        case "li", "dd", "dt":
            flush()
            let saved = context
            context = (.listItem, max(listDepth, 0))
            visit(element)
            flush()
            context = saved
        case "blockquote":
            flush()
            let saved = context
            context = (.quote, 0)
            visit(element)
            flush()
            context = saved
        case "tr":
            flush()
            let cells = element.descendants { $0.tag == "td" || $0.tag == "th" }
                .filter { cell in cell.firstDescendant(where: { $0.tag == "td" || $0.tag == "th" }) == nil }
                .map(\.text).filter { !$0.isEmpty }
            if !cells.isEmpty { blocks.append(ContentBlock(kind: .tableRow, text: cells.joined(separator: " | "))) }
        default:
            if element.isBlock {
                flush()
                visit(element)
                flush()
            } else {
                visit(element)
            }
        }
    }

    private mutating func flush() {
        let text = inline.collapsingWhitespace()
        inline = ""
        guard !text.isEmpty else { return }
        blocks.append(ContentBlock(kind: context.kind, text: text, level: context.kind == .listItem ? context.level : 0))
    }

    /// Text exactly as written, for code: `<br>` becomes a newline, nothing is collapsed.
    private func rawText(_ element: HTMLElement) -> String {
        var output = ""
        for child in element.children {
            switch child {
            case .text(let string): output += string
            case .element(let inner): output += inner.tag == "br" ? "\n" : rawText(inner)
            }
        }
        return output
    }
}

extension String {
    /// Leading and trailing newlines removed; other whitespace kept (indentation matters in code).
    func trimmingNewlines() -> String {
        var view = Substring(self)
        while view.first == "\n" || view.first == "\r" { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
