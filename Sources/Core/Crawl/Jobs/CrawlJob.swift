import Foundation

/// Job kind `crawl`: crawls one link for an author and stores it in the warehouse.
///
/// Payload `{"link": …, "user_full_name": "First Last"}` or `{"link": …, "author_id": "<uuid>"}`; as a
/// pipeline step the author may also come from an input named `author` (the `warehouse.author` result).
/// The fetch is conditional on the stored copy's ETag/Last-Modified. Result:
/// `{id, platform, link, source, title?, status: created|updated|unchanged}`. A bad URL, an SSRF refusal,
/// non-text content, robots.txt, a page without text, a missing Chromium or a 4xx answer fails at once; network errors,
/// timeouts and 5xx answers are retried.
public struct CrawlJob: JobHandler {
    public static let kind = "crawl"

    public struct Payload: Decodable, Sendable {
        public var link: String
        public var user_full_name: String?
        public var author_id: String?
        public var inputs: [String: StepInput]?
    }

    /// An upstream step's result as a pipeline passes it (`{"artifact": …, "value": …}`).
    public struct StepInput: Decodable, Sendable {
        public var value: JSONValue?
    }

    public struct Output: Encodable, Sendable, Equatable {
        public var id: String
        public var platform: String
        /// The stored (canonical) link.
        public var link: String
        /// The link as it was asked for.
        public var source: String
        public var title: String?
        public var status: String
        public var author_id: String
    }

    public let crawler: ConditionalCrawler
    public let store: WarehouseStore

    public init(crawler: ConditionalCrawler, store: WarehouseStore) {
        self.crawler = crawler
        self.store = store
    }

    public func handle(_ payload: Payload, context: JobContext) async throws -> Output {
        let url: URL
        do { url = try ConditionalCrawler.url(payload.link) } catch { throw CrawlFailure.classify(error) }
        let author = try await resolveAuthor(payload)
        let kind = ConditionalCrawler.kind(of: url)
        // A web page may turn out a post by its markup (a LinkedIn page on another host), so any web kind
        // matches; repositories only match repositories.
        let stored = try await store.document(link: url.absoluteString).flatMap {
            ($0.kind == .repository) == (kind == .repository) ? $0 : nil
        }
        let validators = stored.map { CacheValidators(etag: $0.etag, lastModified: $0.lastModified) } ?? CacheValidators()
        let outcome: ConditionalCrawler.Outcome
        do {
            outcome = try await crawler.crawl(url, validators: validators)
        } catch {
            throw CrawlFailure.classify(error)
        }
        switch outcome {
        case .notModified(let fresh):
            guard let stored else {
                throw JobFailure.permanent("\(url.absoluteString): HTTP 304 to an unconditional request")
            }
            let id = try await store.touch(kind: stored.kind, link: stored.link,
                                           fetch: FetchRecord(sourceLink: url.absoluteString, validators: fresh))
            context.logger.debug("crawl not modified", metadata: ["link": "\(stored.link)"])
            return Output(id: id.pgText, platform: stored.platform, link: stored.link, source: url.absoluteString,
                          title: stored.title, status: UpsertStatus.unchanged.rawValue, author_id: stored.authorID.pgText)
        case .fetched(let document, let fresh):
            // One link is one document: a page that changed kind replaces its old row atomically.
            let result = try await store.upsert(document, authorID: author.id,
                                                fetch: FetchRecord(sourceLink: url.absoluteString, validators: fresh),
                                                replacingOtherKinds: true)
            let title: String? = switch document.kind {
            case .article: document.content["Title"].flatMap { $0.isEmpty ? nil : $0 }
            case .repository: document.name
            case .post: nil
            }
            return Output(id: result.id.pgText, platform: document.platform, link: document.link, source: url.absoluteString,
                          title: title, status: result.status.rawValue, author_id: author.id.pgText)
        }
    }

    private func resolveAuthor(_ payload: Payload) async throws -> WarehouseAuthor {
        var authorID = payload.author_id
        if authorID == nil, let value = payload.inputs?["author"]?.value { authorID = value["id"]?.stringValue }
        if let authorID {
            guard let id = UUID(uuidString: authorID) else { throw JobFailure.permanent("crawl: author_id \"\(authorID)\" is not a UUID") }
            guard let author = try await store.author(id: id) else { throw JobFailure.permanent("crawl: no author with id \(authorID)") }
            return author
        }
        guard let name = payload.user_full_name else {
            throw JobFailure.permanent("crawl: the payload names no author (user_full_name, author_id or an author input)")
        }
        do { return try await store.author(fullName: name) } catch let error as TwinError where error.isInvalidInput {
            throw JobFailure.permanent("crawl: \(error.message)")
        }
    }
}

/// Sorts crawl errors into permanent failures (retrying cannot help) and retryable ones.
enum CrawlFailure {
    static func classify(_ error: any Error) -> any Error {
        guard let error = error as? TwinError else { return error }
        // Bad input and a missing tool (headless Chromium) do not get better by retrying.
        if error.isInvalidInput || error.isConfiguration { return JobFailure.permanent(error.message) }
        if let status = httpStatus(error.message), (400..<500).contains(status), status != 408, status != 429 {
            return JobFailure.permanent(error.message)
        }
        return error
    }

    /// The status in `WebFetcher`'s "<url>: HTTP <status>" failure, if the message is one.
    static func httpStatus(_ message: String) -> Int? {
        guard let range = message.range(of: ": HTTP ", options: .backwards) else { return nil }
        let digits = message[range.upperBound...]
        guard digits.count == 3 else { return nil }
        return Int(digits)
    }
}
