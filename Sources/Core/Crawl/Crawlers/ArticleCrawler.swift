import Foundation

/// Crawls a web page — a Medium, Substack or LinkedIn page or any blog — into an article or post
/// document: fetch (rendered by Chromium for JavaScript domains), extract, then `PageDocument`.
public struct ArticleCrawler: Crawler {
    private let fetcher: WebFetcher
    private let extractor = HTMLExtractor()

    /// Creates a crawler that fetches through `fetcher`.
    public init(fetcher: WebFetcher) {
        self.fetcher = fetcher
    }

    public func crawl(_ url: URL) async throws -> CrawledDocument {
        let response = try await fetcher.fetchPage(url)
        let article = try extractor.extract(html: response.body, url: response.url)
        return try PageDocument.make(from: article, response: response, requested: url)
    }
}
