import Foundation

/// Extracts an article from an HTML page: metadata plus the main content as structured text.
///
/// Known platforms (Medium, Substack, LinkedIn public posts) and common blog/CMS containers are found by
/// their markup; any other page goes through Readability-style scoring. The parser repairs malformed HTML,
/// so any byte sequence that looks like markup gives a result rather than an error.
public struct HTMLExtractor: Sendable {
    /// Creates an extractor.
    public init() {}

    /// Extracts from raw page bytes (UTF-8 unless the page declares its charset). `url`, when known,
    /// selects site rules and makes the canonical link absolute.
    public func extract(html bytes: [UInt8], url: URL? = nil) throws -> ExtractedArticle {
        try Self.checkLooksLikeHTML(bytes)
        let root = try HTMLParser.parse(bytes)
        let metadata = PageMetadata(root: root, baseURL: url)
        let site = SiteRules.site(for: url, root: root)
        let body = root.firstDescendant { $0.tag == "body" } ?? root
        BoilerplateFilter.clean(body)

        let elements = contentElements(of: body, site: site)
        let pruner = ContentPruner()
        var renderer = ContentRenderer()
        for element in elements {
            pruner.prune(element)
            renderer.render(element)
        }
        var article = ExtractedArticle(
            title: metadata.title, subtitle: metadata.subtitle, author: metadata.author,
            published: metadata.published, language: metadata.language, canonicalURL: metadata.canonicalURL,
            blocks: renderer.blocks)
        article.image = metadata.image
        article.platform = site.platform
        article.blocks = Self.withoutRepeatedTitle(article.blocks, title: metadata.title).filter(Self.isContent)
        if let structured = metadata.articleBody, structured.count > 2 * article.content.count {
            // Script-rendered pages carry their text only in JSON-LD.
            article.blocks = structured.split(whereSeparator: \.isNewline).map { String($0).collapsingWhitespace() }
                .filter { !$0.isEmpty }.map { ContentBlock(kind: .paragraph, text: $0) }
        }
        return article
    }

    /// Extracts from a page already decoded to a string.
    public func extract(html: String, url: URL? = nil) throws -> ExtractedArticle {
        try extract(html: Array(html.utf8), url: url)
    }

    private func contentElements(of body: HTMLElement, site: SiteRules.Site) -> [HTMLElement] {
        let named = SiteRules.bodyElements(in: body, site: site, minimumLength: site == .generic ? 200 : 1)
        if let named, site != .generic { return named }
        var scorer = ContentScorer()
        let scored = scorer.mainContent(of: body)
        guard let named else { return scored }
        let namedLength = named.reduce(0) { $0 + $1.text.count }
        let scoredLength = scored.reduce(0) { $0 + $1.text.count }
        let inside = named.allSatisfy { element in scored.contains { isInside(element, $0) } }
        // A CMS body container is more precise than a scored ancestor holding it, unless it is a fragment.
        return inside || Double(namedLength) >= 0.5 * Double(scoredLength) ? named : scored
    }

    private func isInside(_ element: HTMLElement, _ container: HTMLElement) -> Bool {
        var current: HTMLElement? = element
        while let node = current {
            if node === container { return true }
            current = node.parent
        }
        return false
    }

    /// The title usually opens the content as a heading too; keep it once, in `title`.
    private static func withoutRepeatedTitle(_ blocks: [ContentBlock], title: String?) -> [ContentBlock] {
        guard let title, let first = blocks.firstIndex(where: { $0.kind == .heading }), first < 3,
            blocks[first].text == title
        else { return blocks }
        var result = blocks
        result.remove(at: first)
        return result
    }

    /// Labels that ad slots and widgets leave behind as the whole text of a block.
    private static let slotLabels: Set<String> = [
        "advertisement", "advert", "ad", "ads", "sponsored", "sponsored content", "story continues below",
        "story continues below advertisement", "continue reading below", "continue reading", "read more",
        "skip advert", "scroll to continue with content", "related", "related articles", "share", "share this",
        "share this article", "comments", "trending", "trending:", "don't miss", "more", "see also",
    ]

    /// Drops the page title repeated as a heading, slot labels and blocks without a single letter
    /// (gallery counters, stray separators); code is always kept.
    static func isContent(_ block: ContentBlock) -> Bool {
        if block.kind == .code { return true }
        if block.kind == .heading, block.level == 1 { return false }
        if slotLabels.contains(block.text.lowercased()) { return false }
        return block.text.unicodeScalars.contains { $0.properties.isAlphabetic }
    }

    /// Rejects input that is clearly not a page: empty, binary, or without any markup.
    static func checkLooksLikeHTML(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { throw TwinError.invalidInput("not HTML: the input is empty") }
        let head = bytes.prefix(8192)
        if head.contains(0) { throw TwinError.invalidInput("not HTML: the input is binary data") }
        guard head.contains(UInt8(ascii: "<")) else {
            throw TwinError.invalidInput("not HTML: no markup found in the input")
        }
    }
}
