import Foundation

/// How `WebFetcher` behaves: limits, politeness, retries and the SSRF allow-list.
public struct FetcherConfiguration: Sendable, Equatable {
    /// Sent as `User-Agent`; its product token (`Twin`) is what robots.txt groups are matched against.
    public var userAgent = "Twin/0.1 (+https://github.com/twin)"
    /// Time allowed to establish a connection (TCP + TLS).
    public var connectTimeout: Duration = .seconds(10)
    /// Time allowed for one whole transfer.
    public var totalTimeout: Duration = .seconds(30)
    /// Largest (decoded) body accepted, in bytes.
    public var maximumBodyBytes = 10 << 20
    /// Redirect hops followed before giving up.
    public var maximumRedirects = 5
    /// Extra attempts after a 429, a 5xx or a transient network error.
    public var maximumRetries = 3
    /// First retry delay when the server sends no `Retry-After`; doubles each attempt.
    public var retryBaseDelay: Duration = .milliseconds(500)
    /// The longest `Retry-After` honoured; a longer one fails the fetch instead of stalling it.
    public var maximumRetryAfter: Duration = .seconds(60)
    /// Requests in flight to one host at once.
    public var maximumConcurrencyPerHost = 2
    /// Minimum time between the starts of two requests to one host.
    public var minimumDelayPerHost: Duration = .seconds(1)
    /// Whether robots.txt is fetched and obeyed.
    public var obeyRobotsTxt = true
    /// How long a host's robots.txt is cached.
    public var robotsCacheDuration: Duration = .seconds(24 * 3600)
    /// The SSRF guard's allow-list.
    public var addressPolicy = AddressPolicy()
    /// Accepted media types; `text/*` is always accepted.
    public var acceptedContentTypes: Set<String> = [
        "application/xhtml+xml", "application/xml", "application/json", "application/ld+json", "application/rss+xml",
        "application/atom+xml",
    ]

    /// Hosts whose pages need JavaScript: they are rendered by headless Chromium before extraction.
    /// A domain covers its subdomains (`medium.com` covers `towardsdatascience.medium.com`).
    public var javaScriptDomains: [String] = []
    /// The Chromium executable, a path or a name looked up on `PATH`.
    public var chromiumPath = "chromium"
    /// Longest one Chromium render may take; the browser's process group is killed after it.
    public var renderTimeout: Duration = .seconds(30)
    /// Virtual time the page's scripts get after load before the DOM is dumped (`--virtual-time-budget`).
    public var renderScriptBudget: Duration = .seconds(5)

    /// The default configuration.
    public init() {}

    /// Whether pages of `host` are rendered by Chromium (`javaScriptDomains`, subdomains included).
    public func rendersJavaScript(host: String?) -> Bool {
        guard let host = host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")), !host.isEmpty
        else { return false }
        return javaScriptDomains.contains { domain in
            let domain = domain.lowercased()
            return host == domain || host.hasSuffix("." + domain)
        }
    }

    /// The `User-Agent`'s product token, lower-cased (`twin`), for robots.txt matching.
    public var robotsProductToken: String {
        String(userAgent.prefix { $0 != "/" && $0 != " " }).lowercased()
    }

    /// Whether `mediaType` (lower-cased, parameters removed) may be downloaded.
    public func accepts(mediaType: String) -> Bool {
        mediaType.hasPrefix("text/") || acceptedContentTypes.contains(mediaType)
    }
}
