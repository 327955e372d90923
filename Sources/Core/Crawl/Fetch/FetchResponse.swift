import Foundation

/// A fetched page (or a 304 answer to a conditional request).
public struct FetchResponse: Sendable {
    /// The address finally answered, after redirects.
    public var url: URL
    /// The addresses that redirected here, in order.
    public var redirects: [URL]
    /// The HTTP status (200…299, or 304 when `isNotModified`).
    public var status: Int
    /// The media type without parameters, lower-cased (`text/html`).
    public var mediaType: String?
    /// The charset the server declared, if any.
    public var charset: String?
    /// The decoded body (content encodings such as gzip already removed); empty for 304.
    public var body: [UInt8]
    /// Validators to send next time for a conditional GET.
    public var validators: CacheValidators
    /// The IP address the final answer came from, as checked by the SSRF guard.
    public var address: String?
    /// Whether `body` is the DOM rendered by headless Chromium rather than the bytes served.
    public var isRendered = false

    /// Whether the server said the cached copy is still current.
    public var isNotModified: Bool { status == 304 }
}

/// `ETag` / `Last-Modified` values from an earlier fetch, sent back as `If-None-Match` / `If-Modified-Since`.
public struct CacheValidators: Sendable, Equatable, Codable {
    public var etag: String?
    public var lastModified: String?

    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }

    var requestHeaders: [String] {
        (etag.map { ["If-None-Match: \($0)"] } ?? []) + (lastModified.map { ["If-Modified-Since: \($0)"] } ?? [])
    }
}
