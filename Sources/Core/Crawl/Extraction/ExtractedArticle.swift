/// What `HTMLExtractor` finds in a page: metadata and the main content as structured text.
public struct ExtractedArticle: Sendable, Equatable, Codable {
    /// The article's title (Open Graph, JSON-LD, `<h1>` or `<title>`, in that order of trust).
    public var title: String?
    /// A subtitle or description (`og:description`, `<meta name=description>`).
    public var subtitle: String?
    /// The author's name.
    public var author: String?
    /// The publication date as the page states it (usually ISO 8601).
    public var published: String?
    /// The primary language subtag, lower-cased (`en`, `pt`).
    public var language: String?
    /// The canonical address of the page, absolute when a base URL was known.
    public var canonicalURL: String?
    /// The main content as blocks of text, in reading order.
    public var blocks: [ContentBlock]
    /// The page's lead image (`og:image`), absolute when a base URL was known.
    public var image: String?
    /// The publishing platform the page belongs to by its address or, wherever it is served, its markup:
    /// `medium`, `substack` or `linkedin`; `nil` for any other site.
    public var platform: String?

    public init(
        title: String? = nil, subtitle: String? = nil, author: String? = nil, published: String? = nil,
        language: String? = nil, canonicalURL: String? = nil, blocks: [ContentBlock] = []
    ) {
        self.title = title
        self.subtitle = subtitle
        self.author = author
        self.published = published
        self.language = language
        self.canonicalURL = canonicalURL
        self.blocks = blocks
    }

    /// The content as Markdown-like text: `#` headings, `-` list items, fenced code, blank lines between blocks.
    public var content: String {
        var output = ""
        for (index, block) in blocks.enumerated() {
            if index > 0 {
                // Items of one list (and rows of one table) stay on consecutive lines.
                let previous = blocks[index - 1].kind
                let tight = previous == block.kind && (block.kind == .listItem || block.kind == .tableRow)
                output += tight ? "\n" : "\n\n"
            }
            output += block.rendered
        }
        return output
    }
}

/// One block of extracted content.
public struct ContentBlock: Sendable, Equatable, Codable {
    /// What kind of block this is.
    public enum Kind: String, Sendable, Codable {
        case heading, paragraph, listItem, code, quote, tableRow
    }

    /// The kind of block.
    public var kind: Kind
    /// The text; for `.code` kept exactly as written, otherwise whitespace-collapsed.
    public var text: String
    /// Heading level (1–6) or list nesting depth (0-based); 0 otherwise.
    public var level: Int

    public init(kind: Kind, text: String, level: Int = 0) {
        self.kind = kind
        self.text = text
        self.level = level
    }

    /// The block as a line of Markdown-like text.
    public var rendered: String {
        switch kind {
        case .heading: String(repeating: "#", count: max(1, min(level, 6))) + " " + text
        case .paragraph: text
        case .listItem: String(repeating: "  ", count: level) + "- " + text
        case .code: "```\n" + text + "\n```"
        case .quote: "> " + text
        case .tableRow: text
        }
    }
}
