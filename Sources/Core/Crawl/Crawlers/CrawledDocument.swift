import Foundation

/// What a crawler produced from one link, in the reference export's shape and independent of any author.
///
/// `content` keys by kind: articles `Title`, `Subtitle`, `Content`, `language`; posts `text` and optionally
/// `image`; repositories one entry per file, `path → text`.
public struct CrawledDocument: Sendable, Equatable, Codable {
    /// The shape of `content`.
    public enum Kind: String, Sendable, Codable {
        case article, post, repository
    }

    /// The shape of `content`.
    public var kind: Kind
    /// Where it came from: `medium`, `substack`, `linkedin`, `github` or the site's host for other blogs.
    public var platform: String
    /// The canonical link of the document.
    public var link: String
    /// A name for repositories (`owner/repo`); `nil` otherwise.
    public var name: String?
    /// The content dictionary (see the type's summary).
    public var content: [String: String]

    public init(kind: Kind, platform: String, link: String, name: String? = nil, content: [String: String]) {
        self.kind = kind
        self.platform = platform
        self.link = link
        self.name = name
        self.content = content
    }
}

/// Turns one link into a `CrawledDocument`.
public protocol Crawler: Sendable {
    /// Crawls `url`; errors say why in words (invalid URL, unreachable host, non-text content…).
    func crawl(_ url: URL) async throws -> CrawledDocument
}
