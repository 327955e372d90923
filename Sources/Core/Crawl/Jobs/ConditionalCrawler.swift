import Foundation

/// Crawls one link like ``CrawlerDispatcher`` but with a conditional GET: it sends the validators of the
/// stored copy and reports a 304 as ``Outcome/notModified(_:)``, and it returns the validators of a fresh
/// page so the next crawl can be conditional too. GitHub repositories are cloned (git has no validators).
public struct ConditionalCrawler: Sendable {
    /// What one crawl produced.
    public enum Outcome: Sendable {
        /// The page changed or is new: its document and the validators to store.
        case fetched(CrawledDocument, CacheValidators)
        /// The server answered 304 to the stored validators (returned, possibly refreshed).
        case notModified(CacheValidators)
    }

    public let fetcher: WebFetcher
    private let dispatcher: CrawlerDispatcher
    private let extractor = HTMLExtractor()

    /// Creates a crawler fetching through `fetcher` (share one per process: politeness and robots cache).
    public init(fetcher: WebFetcher, github: GitHubCrawler = GitHubCrawler()) {
        self.fetcher = fetcher
        dispatcher = CrawlerDispatcher(fetcher: fetcher, github: github)
    }

    /// Parses and validates `address` (absolute http or https URL with a host).
    /// - Throws: ``TwinError/invalidInput(_:)`` naming what is wrong.
    public static func url(_ address: String) throws -> URL {
        let trimmed = address.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw TwinError.invalidInput("invalid URL: the link is empty") }
        guard let url = URL(string: trimmed), url.scheme != nil else {
            throw TwinError.invalidInput("invalid URL: \"\(address)\"")
        }
        return try WebFetcher.validate(url)
    }

    /// The kind of document `address` yields (from its platform), so a stored copy can be looked up first.
    public static func kind(of url: URL) -> CrawledDocument.Kind {
        switch CrawlerDispatcher.platform(for: url) {
        case .github: .repository
        case .linkedInPost: .post
        default: .article
        }
    }

    /// Crawls `url`, sending `validators` (from the stored copy) for a conditional GET.
    public func crawl(_ url: URL, validators: CacheValidators = CacheValidators()) async throws -> Outcome {
        let platform = CrawlerDispatcher.platform(for: url)
        if platform == .github {
            return .fetched(try await dispatcher.crawler(for: url).crawl(url), CacheValidators())
        }
        let response = try await fetcher.fetchPage(url, validators: validators)
        if response.isNotModified { return .notModified(response.validators) }
        let article = try extractor.extract(html: response.body, url: response.url)
        return .fetched(try PageDocument.make(from: article, response: response, requested: url), response.validators)
    }
}
