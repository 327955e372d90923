/// Removes what is never main content before scoring: scripts, styles, navigation, footers, forms,
/// hidden elements, cookie banners, share bars, comment sections and other boilerplate named by class or id.
enum BoilerplateFilter {
    /// Tags dropped with everything inside them.
    static let droppedTags: Set<String> = [
        "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed", "nav", "footer",
        "aside", "menu", "dialog", "button", "input", "select", "textarea", "label", "head", "link", "meta", "video",
        "audio", "source", "picture", "img", "map", "math", "frame", "frameset", "figcaption",
    ]

    /// Substrings of `class`/`id` that mark boilerplate (after Readability's "unlikely candidates").
    static let unlikely = NamePatterns([
        "-ad-", "ad-slot", "adslot", "ad-container", "ad_container", "ad-wrapper", "advert", "banner", "breadcrumb",
        "combx", "comment", "community", "consent", "cookie", "cover-wrap", "disqus", "gdpr", "footer", "header",
        "legends", "menu", "navbar", "newsletter", "outbrain", "pager", "pagination", "popup", "related", "remark",
        "replies", "rss", "share", "sharing", "shoutbox", "sidebar", "skyscraper", "social", "sponsor",
        "subscribe", "supplemental", "taboola", "agegate", "yom-remote", "modal", "paywall", "signup", "sign-up",
        "skip-link", "visually-hidden", "visuallyhidden", "sr-only", "screen-reader", "print-only", "recirc",
        "most-popular", "trending", "read-more", "more-stories", "toolbar", "byline", "author-bio", "tag-list",
        "caption", "credit",
    ])

    /// Substrings that rescue an element the list above matched (`article-header` is not a site header).
    static let maybeCandidate = NamePatterns([
        "and", "article", "body", "column", "content", "main", "shadow", "story", "embed", "tweet",
    ])

    /// ARIA roles that are never the article.
    static let droppedRoles: Set<String> = [
        "navigation", "menu", "menubar", "complementary", "alert", "alertdialog", "dialog", "banner", "contentinfo",
        "search",
    ]

    /// Cleans `body`'s subtree in place.
    static func clean(_ body: HTMLElement) {
        let statistics = TextStatisticsCache()
        let bodyLength = max(1, statistics.statistics(of: body).length)
        func visit(_ element: HTMLElement) {
            element.children.removeAll { node in
                guard case .element(let child) = node else { return false }
                guard shouldDrop(child) else { return false }
                guard isNamedBoilerplate(child) else { return true }
                // A wrapper whose name merely mentions "header" or "sidebar" can hold the whole page:
                // judge names only on elements holding a minor share of the text.
                let share = Double(statistics.statistics(of: child).length) / Double(bodyLength)
                return share < (hardBoilerplate.matches(child.classAndIDBytes) ? 0.5 : 0.25)
            }
            for child in element.childElements { visit(child) }
        }
        visit(body)
    }

    /// Whether `shouldDrop` would drop `element` only because of its class or id.
    private static func isNamedBoilerplate(_ element: HTMLElement) -> Bool {
        if droppedTags.contains(element.tag) || element.tag == "header" { return false }
        if element.attribute("hidden") != nil || element.attribute("aria-hidden") == "true" { return false }
        if let role = element.attribute("role")?.lowercased(), droppedRoles.contains(role) { return false }
        if let style = element.attribute("style")?.lowercased().filter({ $0 != " " }),
            style.contains("display:none") || style.contains("visibility:hidden")
        {
            return false
        }
        return true
    }

    static func shouldDrop(_ element: HTMLElement) -> Bool {
        if droppedTags.contains(element.tag) { return true }
        if element.attribute("hidden") != nil || element.attribute("aria-hidden") == "true" { return true }
        if let style = element.attribute("style")?.lowercased().filter({ $0 != " " }),
            style.contains("display:none") || style.contains("visibility:hidden")
        {
            return true
        }
        if let role = element.attribute("role")?.lowercased(), droppedRoles.contains(role) { return true }
        // Page and article headers hold navigation, titles and bylines; keep one only if it holds real prose.
        if element.tag == "header" { return element.text.count < 400 }
        if element.tag == "body" || element.tag == "html" || element.tag == "a" || element.tag == "article"
            || element.tag == "main"
        {
            return false
        }
        let names = element.classAndIDBytes
        guard names.count > 1, unlikely.matches(names) else { return false }
        return !maybeCandidate.matches(names) || hardBoilerplate.matches(names)
    }

    /// Names that stay boilerplate even next to words like "content" (`related-content`, `comment-body`).
    private static let hardBoilerplate = NamePatterns(
        ["comment", "disqus", "cookie", "consent", "gdpr", "newsletter", "outbrain", "taboola"])

}
