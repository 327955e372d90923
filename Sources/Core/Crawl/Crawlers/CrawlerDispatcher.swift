import Foundation

/// Chooses the crawler for a link by URL pattern: Medium, Substack, LinkedIn, GitHub, else a generic article.
public struct CrawlerDispatcher: Sendable {
    /// The platforms the dispatcher recognises.
    public enum Platform: String, Sendable, Equatable {
        case medium, substack, linkedInPost = "linkedin", linkedInArticle = "linkedin-article", github, generic
    }

    private let fetcher: WebFetcher
    private let github: GitHubCrawler

    /// Creates a dispatcher whose web crawlers share `fetcher` (and so its politeness and robots cache).
    public init(fetcher: WebFetcher, github: GitHubCrawler = GitHubCrawler()) {
        self.fetcher = fetcher
        self.github = github
    }

    /// The platform of `url`, from its host and path.
    public static func platform(for url: URL) -> Platform {
        let host = url.host?.lowercased() ?? ""
        let path = url.path.lowercased()
        func on(_ domain: String) -> Bool { host == domain || host.hasSuffix("." + domain) }
        if on("medium.com") { return .medium }
        if on("substack.com") { return .substack }
        if on("linkedin.com") { return path.hasPrefix("/pulse/") ? .linkedInArticle : .linkedInPost }
        if host == "github.com" || host == "www.github.com" { return .github }
        return .generic
    }

    /// The crawler for `url`.
    public func crawler(for url: URL) -> any Crawler {
        Self.platform(for: url) == .github ? github : ArticleCrawler(fetcher: fetcher)
    }

    /// Validates `address` and crawls it with the matching crawler.
    public func crawl(_ address: String) async throws -> CrawledDocument {
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let url = URL(string: trimmed), url.scheme != nil else {
            throw TwinError.invalidInput("invalid URL: \"\(address)\"")
        }
        let validated = try WebFetcher.validate(url)
        return try await crawler(for: validated).crawl(validated)
    }
}
