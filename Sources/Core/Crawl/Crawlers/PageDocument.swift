import Foundation

/// Turns an extracted web page into the warehouse document it is stored as.
///
/// The platform comes from the address when it names one (medium.com, *.substack.com, linkedin.com),
/// else from the page's markup (a Medium, Substack or LinkedIn page served from a custom domain or a
/// copy on loopback), else from the host name without `www.`; pages on an IP address or `localhost`
/// are `web`. A LinkedIn page is a post unless it is a `/pulse/` article, by address or by markup.
enum PageDocument {
    static func make(from article: ExtractedArticle, response: FetchResponse, requested url: URL) throws
        -> CrawledDocument
    {
        let link = article.canonicalURL ?? response.url.absoluteString
        let platform = platformName(for: url, final: response.url, markup: article.platform)
        let addressPlatform = CrawlerDispatcher.platform(for: url)
        let isPost = addressPlatform == .linkedInPost
            || (addressPlatform == .generic && platform == "linkedin" && !url.path.lowercased().contains("/pulse/"))
        if isPost {
            guard !article.blocks.isEmpty else {
                throw TwinError.invalidInput("\(url.absoluteString): no post text found (the post may need a login)")
            }
            var content = ["text": article.content]
            if let image = article.image { content["image"] = image }
            return CrawledDocument(kind: .post, platform: platform, link: link, content: content)
        }
        guard !article.blocks.isEmpty else {
            throw TwinError.invalidInput("\(url.absoluteString): no article text found on the page")
        }
        var content = ["Title": article.title ?? "", "Subtitle": article.subtitle ?? "", "Content": article.content]
        if let language = article.language { content["language"] = language }
        return CrawledDocument(kind: .article, platform: platform, link: link, content: content)
    }

    /// The platform name of a page asked for at `url`, answered from `final`, whose markup says `markup`.
    static func platformName(for url: URL, final: URL, markup: String?) -> String {
        for address in [url, final] {
            switch CrawlerDispatcher.platform(for: address) {
            case .medium: return "medium"
            case .substack: return "substack"
            case .linkedInPost, .linkedInArticle: return "linkedin"
            case .github: return "github"
            case .generic: continue
            }
        }
        if let markup { return markup }
        var host = final.host?.lowercased() ?? ""
        if host.hasPrefix("www.") { host.removeFirst(4) }
        if host.isEmpty || host == "localhost" || host.hasSuffix(".localhost") || IPAddress(host) != nil { return "web" }
        return host
    }
}
