import Foundation

/// Known publishing platforms whose markup names the article body outright.
enum SiteRules {
    /// The platform a page belongs to, from its address or, for custom domains, its markup.
    enum Site: String, Sendable {
        case medium, substack, linkedIn, generic

        /// The platform name documents are stored with; `nil` for generic sites.
        var platform: String? {
            switch self {
            case .medium: "medium"
            case .substack: "substack"
            case .linkedIn: "linkedin"
            case .generic: nil
            }
        }
    }

    /// Class names only LinkedIn's public post and article pages use.
    static let linkedInMarkup = NamePatterns([
        "attributed-text-segment-list__content", "main-feed-activity-card", "feed-shared-update-v2",
        "article-main__content", "reader-article-content",
    ])

    static func site(for url: URL?, root: HTMLElement) -> Site {
        let host = url?.host?.lowercased() ?? ""
        if host == "medium.com" || host.hasSuffix(".medium.com") { return .medium }
        if host.hasSuffix("substack.com") { return .substack }
        if host == "linkedin.com" || host.hasSuffix(".linkedin.com") { return .linkedIn }
        // Custom domains and copies served elsewhere (the demo corpus on loopback) are known by markup.
        var found: Site?
        _ = root.firstDescendant { element in
            if element.tag == "meta" {
                let content = element.attribute("content")
                let property = element.attribute("property") ?? element.attribute("name")
                if content == "com.medium.reader" || (property == "og:site_name" && content == "Medium") {
                    found = .medium
                } else if content?.contains("substackcdn.com") == true {
                    found = .substack
                } else if property == "og:site_name" && content == "LinkedIn" {
                    found = .linkedIn
                }
            } else if linkedInMarkup.matches(element.classAndIDBytes) {
                found = .linkedIn
            }
            return found != nil
        }
        return found ?? .generic
    }

    /// Class-name fragments of the body container, most specific first, per platform.
    static func bodySelectors(for site: Site) -> [String] {
        switch site {
        case .medium: ["pw-post-body", "postarticle-content", "section-content"]
        case .substack: ["available-content", "body markup", "post-content"]
        case .linkedIn:
            [
                "attributed-text-segment-list__content", "feed-shared-update-v2__description",
                "main-feed-activity-card__commentary", "article-main__content", "reader-article-content",
            ]
        case .generic: genericSelectors
        }
    }

    /// Containers that blogs and news CMSs (WordPress, Ghost, Blogger, Drupal, Arc…) use for the article body.
    static let genericSelectors = [
        "articlebody", "article-body", "article__body", "article-content", "article__content", "articlecontent",
        "entry-content", "post-content", "post-body", "post__content", "postbody", "story-body", "storybody",
        "story-content", "blog-post-content", "single-content", "rich-text", "content-body", "td-post-content",
        "post-entry", "entry__content", "c-entry-content", "article-text", "article_body", "body-text",
    ]

    /// Top-most elements whose class or `itemprop` names the body, for the first selector that matches
    /// enough text; `nil` when none does.
    static func bodyElements(in body: HTMLElement, site: Site, minimumLength: Int) -> [HTMLElement]? {
        let itemprop = topMost(body.descendants { $0.attribute("itemprop")?.lowercased() == "articlebody" })
        if site == .generic, totalLength(itemprop) >= minimumLength { return itemprop }
        // One pass collects every element naming any selector; then selectors are tried in priority order.
        let selectors = bodySelectors(for: site).map { NamePatterns([$0]) }
        let any = NamePatterns(bodySelectors(for: site))
        let named = body.descendants { any.matches($0.classAndIDBytes) }
        for selector in selectors {
            let matches = topMost(named.filter { selector.matches($0.classAndIDBytes) })
            if totalLength(matches) >= minimumLength { return matches }
        }
        if site == .medium || site == .substack || site == .linkedIn,
            let article = body.firstDescendant(where: { $0.tag == "article" }), article.text.count >= minimumLength
        {
            return [article]
        }
        return nil
    }

    private static func totalLength(_ elements: [HTMLElement]) -> Int {
        elements.reduce(0) { $0 + $1.text.count }
    }

    /// Drops elements nested inside another element of the list.
    private static func topMost(_ elements: [HTMLElement]) -> [HTMLElement] {
        let identities = Set(elements.map(ObjectIdentifier.init))
        return elements.filter { element in
            var ancestor = element.parent
            while let current = ancestor {
                if identities.contains(ObjectIdentifier(current)) { return false }
                ancestor = current.parent
            }
            return true
        }
    }
}
