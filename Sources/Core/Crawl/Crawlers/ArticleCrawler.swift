import Foundation

/// Crawls an article page (Medium, Substack, LinkedIn Pulse or any blog): fetch, then extract.
public struct ArticleCrawler: Crawler {
    /// The platform name written into documents (`medium`, `substack`; `nil` → the page's host).
    public let platform: String?
    private let fetcher: WebFetcher
    private let extractor = HTMLExtractor()

    /// Creates a crawler that fetches through `fetcher`.
    public init(platform: String?, fetcher: WebFetcher) {
        self.platform = platform
        self.fetcher = fetcher
    }

    public func crawl(_ url: URL) async throws -> CrawledDocument {
        let response = try await fetcher.fetch(url)
        let article = try extractor.extract(html: response.body, url: response.url)
        guard !article.blocks.isEmpty else {
            throw TwinError.invalidInput("\(url.absoluteString): no article text found on the page")
        }
        var content = ["Title": article.title ?? "", "Subtitle": article.subtitle ?? "", "Content": article.content]
        if let language = article.language { content["language"] = language }
        return CrawledDocument(
            kind: .article, platform: platform ?? (response.url.host ?? "web"),
            link: article.canonicalURL ?? response.url.absoluteString, content: content)
    }
}

/// Crawls a public LinkedIn post page into a post document (`text`, and `image` when the page names one).
public struct LinkedInPostCrawler: Crawler {
    private let fetcher: WebFetcher
    private let extractor = HTMLExtractor()

    /// Creates a crawler that fetches through `fetcher`.
    public init(fetcher: WebFetcher) { self.fetcher = fetcher }

    public func crawl(_ url: URL) async throws -> CrawledDocument {
        let response = try await fetcher.fetch(url)
        let article = try extractor.extract(html: response.body, url: response.url)
        guard !article.blocks.isEmpty else {
            throw TwinError.invalidInput("\(url.absoluteString): no post text found (the post may need a login)")
        }
        var content = ["text": article.content]
        if let image = article.image { content["image"] = image }
        return CrawledDocument(
            kind: .post, platform: "linkedin", link: article.canonicalURL ?? response.url.absoluteString,
            content: content)
    }
}
