import Foundation

/// Fetches web pages over libcurl, politely and safely.
///
/// Every hop of a redirect chain is checked against robots.txt, the per-host politeness limits and the
/// SSRF guard (`AddressPolicy`, enforced on the address actually connected to). 429 and 5xx answers and
/// transient network errors are retried with exponential backoff, honouring `Retry-After`. Bodies are
/// decoded (gzip, deflate, br as curl supports), size-limited and must be text.
public final class WebFetcher: Sendable {
    /// The configuration this fetcher was created with.
    public let configuration: FetcherConfiguration
    private let politeness: HostPoliteness
    private let robots = RobotsCache()

    /// Creates a fetcher; share one per process so politeness and the robots cache are shared too.
    public init(configuration: FetcherConfiguration = FetcherConfiguration()) {
        self.configuration = configuration
        politeness = HostPoliteness(
            maximumConcurrency: configuration.maximumConcurrencyPerHost,
            minimumDelay: configuration.minimumDelayPerHost)
    }

    /// Fetches `address` (an absolute http or https URL); throws `invalidInput` for a bad address.
    public func fetch(_ address: String, validators: CacheValidators = CacheValidators()) async throws -> FetchResponse {
        guard let url = URL(string: address.trimmingCharacters(in: .whitespaces)) else {
            throw TwinError.invalidInput("invalid URL: \"\(address)\"")
        }
        return try await fetch(url, validators: validators)
    }

    /// Fetches `url`, following redirects; a 304 answer to `validators` comes back with `isNotModified`.
    public func fetch(_ url: URL, validators: CacheValidators = CacheValidators()) async throws -> FetchResponse {
        var current = try Self.validate(url)
        var redirects: [URL] = []
        while true {
            try await checkRobots(current)
            let response = try await fetchWithRetries(current, headers: validators.requestHeaders)
            if [301, 302, 303, 307, 308].contains(response.status) {
                guard redirects.count < configuration.maximumRedirects else {
                    throw TwinError.http("\(url): too many redirects (more than \(configuration.maximumRedirects))")
                }
                guard let location = response.redirectURL ?? response.header("Location"),
                    let next = URL(string: location, relativeTo: current)?.absoluteURL
                else {
                    throw TwinError.http("\(current): redirect (HTTP \(response.status)) without a usable Location")
                }
                redirects.append(current)
                current = try Self.validate(next)
                continue
            }
            return try finish(response, url: current, redirects: redirects, sentValidators: validators)
        }
    }

    /// Fetches a page for extraction: like `fetch`, then, when the page's host is one of the configured
    /// JavaScript domains, replaces the body with the DOM headless Chromium renders.
    ///
    /// The plain fetch comes first so robots.txt, politeness, redirects, the content-type check, the
    /// conditional GET and the SSRF guard all apply; Chromium is then pinned to the address that fetch
    /// connected to and renders under a politeness slot of the same host.
    public func fetchPage(_ url: URL, validators: CacheValidators = CacheValidators()) async throws -> FetchResponse {
        var response = try await fetch(url, validators: validators)
        guard !response.isNotModified,
            configuration.rendersJavaScript(host: url.host) || configuration.rendersJavaScript(host: response.url.host),
            response.mediaType == nil || response.mediaType == "text/html" || response.mediaType == "application/xhtml+xml"
        else { return response }
        guard let text = response.address, let address = IPAddress(text) else {
            throw TwinError.http("\(response.url.absoluteString): the connected address is unknown, so Chromium cannot be pinned to it")
        }
        let renderer = ChromiumRenderer(configuration: configuration)
        let final = response.url
        response.body = try await politeness.withSlot(for: Self.origin(final)) {
            try await renderer.render(final, pinnedTo: address)
        }
        response.isRendered = true
        response.charset = "utf-8"  // --dump-dom always writes UTF-8
        return response
    }

    /// Accepts absolute http(s) URLs with a host; refuses IP literals the SSRF guard forbids before any I/O.
    static func validate(_ url: URL) throws -> URL {
        guard let scheme = url.scheme?.lowercased() else {
            throw TwinError.invalidInput("invalid URL: \"\(url.absoluteString)\" has no scheme")
        }
        guard scheme == "http" || scheme == "https" else {
            throw TwinError.invalidInput("unsupported URL scheme \"\(scheme)\" in \(url.absoluteString): only http and https")
        }
        guard let host = url.host, !host.isEmpty else {
            throw TwinError.invalidInput("invalid URL: \"\(url.absoluteString)\" has no host")
        }
        return url
    }

    private func checkLiteralAddress(_ url: URL) throws {
        guard let host = url.host, !configuration.addressPolicy.isAllowListed(host: host),
            let address = IPAddress(host), let reason = AddressPolicy.refusal(for: address)
        else { return }
        throw TwinError.invalidInput("refused: \(url.absoluteString) points to \(address), a \(reason)")
    }

    private static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? "http"
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(port)"
    }

    private func checkRobots(_ url: URL) async throws {
        guard configuration.obeyRobotsTxt else { return }
        let origin = Self.origin(url)
        let rules: RobotsTxt
        if let cached = robots.cached(origin) {
            rules = cached
        } else {
            rules = try await fetchRobots(origin: origin)
            robots.store(rules, for: origin, lifetime: configuration.robotsCacheDuration)
        }
        var path = url.path.isEmpty ? "/" : url.path
        if let query = url.query { path += "?" + query }
        guard rules.allows(path: path) else {
            throw TwinError.invalidInput("\(url.absoluteString): disallowed by robots.txt for \(configuration.robotsProductToken)")
        }
    }

    /// RFC 9309: 2xx → parse; 4xx (and redirects, not followed) → allow all; 5xx → disallow all.
    private func fetchRobots(origin: String) async throws -> RobotsTxt {
        guard let url = URL(string: origin + "/robots.txt") else { return .allowAll }
        let response = try await fetchWithRetries(url, headers: [])
        switch response.status {
        case 200..<300:
            return RobotsTxt(parsing: String(decoding: response.body, as: UTF8.self),
                             productToken: configuration.robotsProductToken)
        case 500...: return .disallowAll
        default: return .allowAll
        }
    }

    private func fetchWithRetries(_ url: URL, headers: [String]) async throws -> CurlTransfer.Response {
        try checkLiteralAddress(url)
        let host = Self.origin(url)
        var attempt = 0
        while true {
            let transfer = CurlTransfer(
                url: url.absoluteString, host: url.host ?? "", headers: headers, configuration: configuration)
            let outcome: Result<CurlTransfer.Response, CurlTransfer.Failure>
            do {
                outcome = .success(try await politeness.withSlot(for: host) { try await transfer.run() })
            } catch let failure as CurlTransfer.Failure {
                outcome = .failure(failure)
            }
            let delay: Duration
            switch outcome {
            case .success(let response):
                guard [429, 500, 502, 503, 504].contains(response.status), attempt < configuration.maximumRetries else {
                    return response
                }
                delay = try retryDelay(for: response, attempt: attempt, url: url)
            case .failure(let failure):
                guard failure.isTransient, attempt < configuration.maximumRetries else { throw failure.error }
                delay = backoff(attempt)
            }
            try await Task.sleep(for: delay)
            attempt += 1
        }
    }

    private func backoff(_ attempt: Int) -> Duration {
        configuration.retryBaseDelay * (1 << min(attempt, 16))
    }

    private func retryDelay(for response: CurlTransfer.Response, attempt: Int, url: URL) throws -> Duration {
        guard let header = response.header("Retry-After") else { return backoff(attempt) }
        guard let requested = Self.parseRetryAfter(header, now: Date()) else { return backoff(attempt) }
        guard requested <= configuration.maximumRetryAfter else {
            throw TwinError.http("\(url.absoluteString): HTTP \(response.status) asks to retry after \(requested), "
                + "longer than the \(configuration.maximumRetryAfter) limit")
        }
        return requested
    }

    /// `Retry-After` as delay-seconds or an HTTP date; `nil` when unparseable.
    static func parseRetryAfter(_ value: String, now: Date) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSince(now) * 1000)))
    }

    private func finish(
        _ response: CurlTransfer.Response, url: URL, redirects: [URL], sentValidators: CacheValidators
    ) throws -> FetchResponse {
        let type = response.contentType ?? response.header("Content-Type")
        let parts = type?.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        let mediaType = parts.first?.lowercased()
        let charset = parts.dropFirst().first { $0.lowercased().hasPrefix("charset=") }
            .map { String($0.dropFirst("charset=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
        let validators = CacheValidators(
            etag: response.header("ETag") ?? sentValidators.etag,
            lastModified: response.header("Last-Modified") ?? sentValidators.lastModified)
        switch response.status {
        case 304:
            return FetchResponse(
                url: url, redirects: redirects, status: 304, mediaType: mediaType, charset: charset, body: [],
                validators: validators, address: response.primaryAddress)
        case 200..<300:
            if let mediaType, !configuration.accepts(mediaType: mediaType) {
                throw TwinError.invalidInput("\(url.absoluteString): non-text content (\(mediaType)) is not fetched")
            }
            return FetchResponse(
                url: url, redirects: redirects, status: response.status, mediaType: mediaType, charset: charset,
                body: response.body, validators: validators, address: response.primaryAddress)
        default:
            throw TwinError.http("\(url.absoluteString): HTTP \(response.status)")
        }
    }
}
