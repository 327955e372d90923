import Foundation

/// Reads title, description, author, date, language and canonical link from a page's head and markup.
///
/// Sources in order of trust: Open Graph / article meta tags, JSON-LD `Article` objects, plain meta tags,
/// then visible markup (`<h1>`, `rel=author`, `<time>`).
struct PageMetadata {
    var title: String?
    var subtitle: String?
    var author: String?
    var published: String?
    var language: String?
    var canonicalURL: String?
    var image: String?
    /// The JSON-LD `articleBody`, for pages that render their text with scripts only.
    var articleBody: String?

    init(root: HTMLElement, baseURL: URL?) {
        var meta: [String: String] = [:]
        var canonical: String?
        var htmlLanguage: String?
        var titleTag: String?
        var jsonLD: [[String: Any]] = []
        var stack = [root]
        while let element = stack.popLast() {
            switch element.tag {
            case "meta":
                let key = (element.attribute("property") ?? element.attribute("name") ?? element.attribute("itemprop")
                    ?? element.attribute("http-equiv"))?.lowercased()
                if let key, let value = element.attribute("content")?.collapsingWhitespace(), !value.isEmpty,
                    meta[key] == nil
                {
                    meta[key] = value
                }
            case "link":
                let rel = element.attribute("rel")?.lowercased() ?? ""
                if rel.split(separator: " ").contains("canonical"), canonical == nil {
                    canonical = element.attribute("href")
                }
            case "html":
                htmlLanguage = htmlLanguage ?? element.attribute("lang") ?? element.attribute("xml:lang")
            case "title":
                if titleTag == nil { titleTag = element.text }
            case "script":
                if element.attribute("type")?.lowercased().contains("ld+json") == true {
                    jsonLD += Self.articleObjects(inJSON: element.text)
                }
            default:
                break
            }
            stack.append(contentsOf: element.childElements.reversed())
        }

        let article = jsonLD.first
        title = Self.nonEmpty(meta["og:title"]) ?? Self.nonEmpty(meta["twitter:title"])
            ?? Self.nonEmpty(article?["headline"] as? String)
            ?? Self.nonEmpty(root.firstDescendant { $0.tag == "h1" }?.text)
            ?? Self.nonEmpty(titleTag).map(Self.withoutSiteName)
        subtitle = Self.nonEmpty(meta["og:description"]) ?? Self.nonEmpty(meta["description"])
            ?? Self.nonEmpty(meta["twitter:description"]) ?? Self.nonEmpty(article?["description"] as? String)
        author = Self.nonEmpty(meta["author"]).flatMap(Self.personName)
            ?? Self.nonEmpty(meta["article:author"]).flatMap(Self.personName)
            ?? article.flatMap { Self.authorName(from: $0["author"]) }
            ?? Self.nonEmpty(meta["parsely-author"]) ?? Self.nonEmpty(meta["sailthru.author"])
            ?? Self.nonEmpty(meta["twitter:creator"]).flatMap(Self.personName)
            ?? Self.visibleAuthor(in: root)
        published = Self.nonEmpty(meta["article:published_time"]) ?? Self.nonEmpty(article?["datePublished"] as? String)
            ?? Self.nonEmpty(meta["datepublished"]) ?? Self.nonEmpty(meta["date"]) ?? Self.nonEmpty(meta["pubdate"])
            ?? Self.nonEmpty(meta["publish-date"]) ?? Self.nonEmpty(meta["dc.date"])
            ?? Self.nonEmpty(meta["parsely-pub-date"]) ?? Self.nonEmpty(meta["og:published_time"])
            ?? Self.nonEmpty(root.firstDescendant { $0.tag == "time" && $0.attribute("datetime") != nil }?
                .attribute("datetime"))
        let rawLanguage = Self.nonEmpty(htmlLanguage) ?? Self.nonEmpty(meta["content-language"])
            ?? Self.nonEmpty(meta["og:locale"]) ?? Self.nonEmpty(article?["inLanguage"] as? String)
        language = rawLanguage.flatMap(Self.primaryLanguage)
        articleBody = jsonLD.compactMap { $0["articleBody"] as? String }.max { $0.count < $1.count }
        image = Self.absolute(Self.nonEmpty(meta["og:image"]) ?? Self.nonEmpty(meta["twitter:image"]), base: baseURL)
        let rawCanonical = Self.nonEmpty(canonical) ?? Self.nonEmpty(meta["og:url"])
        canonicalURL = Self.absolute(rawCanonical, base: baseURL) ?? baseURL?.absoluteString
    }

    private static func nonEmpty(_ string: String?) -> String? {
        guard let trimmed = string?.collapsingWhitespace(), !trimmed.isEmpty else { return nil }
        return trimmed
    }

    /// "Story title | Site" → "Story title": drops the part after the last separator when what remains
    /// still reads as a title (at least three words).
    static func withoutSiteName(_ title: String) -> String {
        for separator in [" | ", " - ", " – ", " — ", " :: ", " · "] {
            guard let range = title.range(of: separator, options: .backwards) else { continue }
            let head = String(title[..<range.lowerBound])
            if head.split(separator: " ").count >= 3 { return head }
        }
        return title
    }

    /// `en-US` → `en`; rejects values that are not language tags.
    static func primaryLanguage(_ raw: String) -> String? {
        let primary = raw.split(whereSeparator: { $0 == "-" || $0 == "_" || $0 == "," || $0 == " " }).first
            .map { $0.lowercased() } ?? ""
        guard (2...3).contains(primary.count), primary.allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        return primary
    }

    /// A name, not a profile URL or handle list.
    private static func personName(_ raw: String) -> String? {
        if raw.hasPrefix("http://") || raw.hasPrefix("https://") {
            // Medium and others put a profile URL here; the last path component is still a usable name.
            guard let last = URL(string: raw)?.lastPathComponent, !last.isEmpty, last != "/" else { return nil }
            return last.hasPrefix("@") ? String(last.dropFirst()) : last
        }
        return raw.hasPrefix("@") ? String(raw.dropFirst()) : raw
    }

    private static func authorName(from value: Any?) -> String? {
        switch value {
        case let name as String: return nonEmpty(name)
        case let object as [String: Any]: return nonEmpty(object["name"] as? String)
        case let list as [Any]:
            let names = list.compactMap { authorName(from: $0) }
            return names.isEmpty ? nil : names.joined(separator: ", ")
        default: return nil
        }
    }

    private static func visibleAuthor(in root: HTMLElement) -> String? {
        let candidate = root.firstDescendant { element in
            element.attribute("rel")?.lowercased() == "author" || element.attribute("itemprop") == "author"
                || element.classAndID.contains("author-name") || element.classAndID.contains("byline__name")
        }
        guard let text = candidate?.text, (2...80).contains(text.count) else { return nil }
        return text.hasPrefix("By ") ? String(text.dropFirst(3)) : text
    }

    private static let articleTypes: Set<String> = [
        "article", "newsarticle", "blogposting", "reportagenewsarticle", "socialmediaposting", "techarticle",
        "scholarlyarticle", "analysisnewsarticle", "opinionnewsarticle", "webpage", "discussionforumposting",
    ]

    /// Article-like objects in a JSON-LD script, most specific first (`WebPage` last).
    static func articleObjects(inJSON text: String) -> [[String: Any]] {
        guard let data = text.data(using: .utf8),
            let value = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        else { return [] }
        var found: [[String: Any]] = []
        func visit(_ value: Any) {
            if let list = value as? [Any] { list.forEach(visit) }
            guard let object = value as? [String: Any] else { return }
            let types: [String] = (object["@type"] as? String).map { [$0] } ?? (object["@type"] as? [String]) ?? []
            if types.contains(where: { articleTypes.contains($0.lowercased()) }) { found.append(object) }
            if let graph = object["@graph"] { visit(graph) }
        }
        visit(value)
        return found.sorted { lhs, rhs in
            ((lhs["@type"] as? String)?.lowercased() == "webpage" ? 1 : 0)
                < ((rhs["@type"] as? String)?.lowercased() == "webpage" ? 1 : 0)
        }
    }

    private static func absolute(_ link: String?, base: URL?) -> String? {
        guard let link else { return nil }
        if let base, let resolved = URL(string: link, relativeTo: base) { return resolved.absoluteString }
        return link
    }
}
