import Foundation
import Testing

@testable import Core

/// A loopback site whose pages the tests set at run time (python3, 127.0.0.1, a free port).
///
/// Pages are set through the server's stdin (one JSON line each, acknowledged on stdout), so a test can
/// change a page between two crawls. Every page carries an ETag (a hash of its body) and honours
/// `If-None-Match` unless set with `etag: false`; `/stats?path=P` counts requests and 304 answers.
final class CrawlJobTestSite: Sendable {
    /// The shared site, started on first use.
    static func shared() async throws -> CrawlJobTestSite { try await instance.value }
    private static let instance = Task { try await offPool { try CrawlJobTestSite() } }

    let port: Int
    private let process: Process
    private let input: FileHandle
    private let output: FileHandle

    /// Starting python and waiting for its acknowledgements block: that runs on this serial queue, never on
    /// the two-thread cooperative pool, where it would stall every other test's tasks.
    private static let lane = DispatchQueue(label: "twin.tests.crawljob-site")

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            lane.async { continuation.resume(with: Result { try body() }) }
        }
    }

    private init() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("twin-crawljob-site-\(getpid()).py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let inputPipe = Pipe(), outputPipe = Pipe()
        process.standardInput = inputPipe
        process.standardOutput = outputPipe
        try process.run()
        input = inputPipe.fileHandleForWriting
        output = outputPipe.fileHandleForReading
        guard let line = Self.readLine(output), let port = Int(line) else {
            throw TwinError.io("the crawl-job test site did not print its port")
        }
        self.port = port
    }

    private static func readLine(_ handle: FileHandle) -> String? {
        var bytes: [UInt8] = []
        while true {
            let byte = handle.readData(ofLength: 1)
            guard let b = byte.first else { return nil }
            if b == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(b)
        }
    }

    /// `http://<host>:<port><path>`.
    func url(_ path: String, host: String = "127.0.0.1") -> String { "http://\(host):\(port)\(path)" }

    /// Serves `body` at `path` from now on (with an ETag unless `etag` is false).
    func set(_ path: String, _ body: String, type: String = "text/html; charset=utf-8", etag: Bool = true) async throws {
        let line = JSONValue.object(["path": .string(path), "body": .string(body), "type": .string(type), "etag": .bool(etag)]).jsonText
        let ack = try await Self.offPool { [input, output] () -> String? in
            input.write(Data((line + "\n").utf8))
            return Self.readLine(output)
        }
        guard ack == "ok" else { throw TwinError.io("the test site did not acknowledge \(path): \(ack ?? "EOF")") }
    }

    /// Requests for `path` so far, and how many were answered 304.
    func stats(_ path: String) async throws -> (requests: Int, notModified: Int) {
        var configuration = FetcherConfiguration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: ["127.0.0.1"])
        configuration.obeyRobotsTxt = false
        configuration.minimumDelayPerHost = .zero
        let body = try await WebFetcher(configuration: configuration).fetch(url("/stats?path=" + path)).body
        let value = try JSONValue.parse(String(decoding: body, as: UTF8.self))
        return (value["requests"]?.intValue ?? -1, value["not_modified"]?.intValue ?? -1)
    }

    /// A fetcher for tests: loopback allowed (unless `allowed` is empty), no politeness delay, no retries.
    static func fetcher(allowed: Set<String> = ["127.0.0.1", "localhost"]) -> WebFetcher {
        var configuration = FetcherConfiguration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: allowed)
        configuration.obeyRobotsTxt = false
        configuration.minimumDelayPerHost = .zero
        configuration.maximumRetries = 0
        configuration.connectTimeout = .seconds(2)
        return WebFetcher(configuration: configuration)
    }

    /// A blog article page with `title` and `paragraphs`.
    static func article(_ title: String, _ paragraphs: [String], canonical: String? = nil) -> String {
        """
        <html lang="en"><head><title>\(title) | Test Blog</title><meta property="og:title" content="\(title)">
        <meta name="description" content="A test article.">\(canonical.map { "<link rel=\"canonical\" href=\"\($0)\">" } ?? "")
        </head><body><nav><a href="/">Home</a> <a href="/about">About</a></nav><article><h1>\(title)</h1>
        <div class="entry-content">\(paragraphs.map { "<p>\($0)</p>" }.joined())</div></article>
        <footer>Copyright, privacy policy and terms.</footer></body></html>
        """
    }

    static let script = #"""
        import hashlib, json, os, sys, threading
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
        from urllib.parse import urlparse, parse_qs

        pages, stats, lock = {}, {}, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args):
                pass
            def send(self, status, body=b"", ctype="text/plain", headers=()):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/stats":
                    key = parse_qs(url.query).get("path", [""])[0]
                    with lock:
                        s = stats.get(key, {"requests": 0, "not_modified": 0})
                    return self.send(200, json.dumps(s).encode(), "application/json")
                with lock:
                    s = stats.setdefault(self.path, {"requests": 0, "not_modified": 0})
                    s["requests"] += 1
                    page = pages.get(self.path)
                if page is None:
                    return self.send(404, b"no such page")
                body, ctype, with_etag = page
                etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
                if with_etag and self.headers.get("If-None-Match") == etag:
                    with lock:
                        s["not_modified"] += 1
                    return self.send(304, b"", None, [("ETag", etag)])
                return self.send(200, body, ctype, [("ETag", etag)] if with_etag else [])

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        for line in sys.stdin:
            spec = json.loads(line)
            with lock:
                pages[spec["path"]] = (spec["body"].encode(), spec["type"], spec["etag"])
            print("ok", flush=True)
        os._exit(0)
        """#
}

/// An environment whose registry has the crawl kinds, fetching through `fetcher`.
func crawlEnvironment(fetcher: WebFetcher = CrawlJobTestSite.fetcher()) async throws -> TestEnvironment {
    let configuration = try TwinConfiguration.load(environment: ProcessInfo.processInfo.environment)
    let postgres = PostgresClient(endpoint: configuration.postgres, connections: 2)
    return try await TestEnvironment { registry in CrawlJobs.register(into: &registry, postgres: postgres, fetcher: fetcher) }
}

/// A name no other test uses, so tests sharing the warehouse never see each other's authors.
func uniqueAuthorName(_ first: String = "Test") -> String {
    "\(first) Author\(UUIDv7.make().replacingOccurrences(of: "-", with: "").suffix(10))"
}

@Suite("Crawl: crawl job", .serialized)
struct CrawlJobTests {
    func crawl(_ env: TestEnvironment, _ payload: [String: JSONValue], maxAttempts: Int = 3) async throws -> JobStatus {
        let id = try await env.queue.enqueue(JobSpec(kind: CrawlJob.kind, payload: JSONValue.object(payload).jsonText,
                                                     maxAttempts: maxAttempts))
        return try await env.waitFinal(id)
    }

    func link(_ name: String) -> String { "/jobs/\(UUIDv7.make())/\(name)" }

    @Test func storesAnArticleThenSeesItUnchangedThroughAConditionalGET() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment()
        let store = WarehouseStore(postgres: env.postgres)
        let path = link("etag.html")
        try await site.set(path, CrawlJobTestSite.article("Caching Embeddings", [
            "Embedding the same text twice wastes compute, so a cache keyed by the text's hash pays for itself quickly.",
            "The cache must be invalidated when the model changes, which is why the model id is part of the key.",
        ]))
        let author = uniqueAuthorName()
        let (first, second) = try await env.running(env.worker()) {
            (try await crawl(env, ["link": .string(site.url(path)), "user_full_name": .string(author)]),
             try await crawl(env, ["link": .string(site.url(path)), "user_full_name": .string(author)]))
        }
        #expect(first.state == "succeeded", "\(first.error ?? "")")
        #expect(first.result?["status"] == .string("created"))
        #expect(first.result?["title"] == .string("Caching Embeddings"))
        #expect(first.result?["platform"] == .string("web"))
        #expect(second.result?["status"] == .string("unchanged"))
        #expect(second.result?["id"] == first.result?["id"])
        let stats = try await site.stats(path)
        #expect(stats.requests == 2 && stats.notModified == 1)
        let stored = try #require(try await store.document(link: site.url(path)))
        #expect(stored.authorFullName == author)
        #expect(stored.etag != nil)
        #expect(stored.content["Content"]?.hasPrefix("Embedding the same text twice") == true)
        #expect(try #require(stored.fetchedAt) > stored.updatedAt, "a 304 moves fetched_at, not updated_at")
    }

    @Test func recrawlUpdatesOnlyWhenTheContentHashChanged() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment()
        let store = WarehouseStore(postgres: env.postgres)
        let path = link("changing.html")
        let v1 = CrawlJobTestSite.article("Feature Freshness", [
            "A feature that is an hour old can be worse than no feature at all when the label depends on the last minute.",
        ])
        let author = uniqueAuthorName()
        let payload: [String: JSONValue] = ["link": .string(site.url(path)), "user_full_name": .string(author)]
        let statuses = try await env.running(env.worker()) { () -> [String] in
            var out: [String] = []
            // Without validators the page is fetched in full every time; the hash decides.
            try await site.set(path, v1, etag: false)
            out.append(try await crawl(env, payload).result?["status"]?.stringValue ?? "failed")
            let before = try #require(try await store.document(link: site.url(path)))
            out.append(try await crawl(env, payload).result?["status"]?.stringValue ?? "failed")
            let same = try #require(try await store.document(link: site.url(path)))
            #expect(same.updatedAt == before.updatedAt && same.contentHash == before.contentHash)
            #expect(try #require(same.fetchedAt) > before.fetchedAt!)
            try await site.set(path, CrawlJobTestSite.article("Feature Freshness, Revised", [
                "Freshness is a contract: state the maximum age of every online feature and alert when it is exceeded.",
            ]), etag: false)
            out.append(try await crawl(env, payload).result?["status"]?.stringValue ?? "failed")
            let changed = try #require(try await store.document(link: site.url(path)))
            #expect(changed.id == before.id)
            #expect(changed.content["Title"] == "Feature Freshness, Revised")
            #expect(changed.contentHash != before.contentHash && changed.updatedAt > before.updatedAt)
            return out
        }
        #expect(statuses == ["created", "unchanged", "updated"])
        #expect(try await site.stats(path).notModified == 0)
    }

    @Test func failuresAreDeadJobsWithReasons() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment()
        let image = link("chart.png")
        try await site.set(image, "\u{1}PNG not really", type: "image/png")
        let empty = link("empty.html")
        try await site.set(empty, "<html><head><title>Nothing</title></head><body></body></html>")
        let author = uniqueAuthorName()
        func payload(_ link: String) -> [String: JSONValue] { ["link": .string(link), "user_full_name": .string(author)] }
        let (missing, nonText, badScheme, noText, noAuthor, unknownAuthor) = try await env.running(env.worker()) {
            (try await crawl(env, payload(site.url(link("missing.html")))),
             try await crawl(env, payload(site.url(image))),
             try await crawl(env, payload("ftp://127.0.0.1/file.txt")),
             try await crawl(env, payload(site.url(empty))),
             try await crawl(env, ["link": .string(site.url(empty))]),
             try await crawl(env, ["link": .string(site.url(empty)), "author_id": .string(UUID().uuidString)]))
        }
        for status in [missing, nonText, badScheme, noText, noAuthor, unknownAuthor] {
            #expect(status.state == "dead")
            #expect(status.attempts == 1, "a permanent failure is not retried: \(status.error ?? "")")
        }
        #expect(missing.error?.hasSuffix("HTTP 404") == true, "\(missing.error ?? "")")
        #expect(nonText.error?.contains("non-text content (image/png)") == true, "\(nonText.error ?? "")")
        #expect(badScheme.error?.contains("unsupported URL scheme \"ftp\"") == true, "\(badScheme.error ?? "")")
        #expect(noText.error?.contains("no article text found") == true, "\(noText.error ?? "")")
        #expect(noAuthor.error?.contains("names no author") == true, "\(noAuthor.error ?? "")")
        #expect(unknownAuthor.error?.contains("no author with id") == true, "\(unknownAuthor.error ?? "")")
    }

    @Test func theSSRFGuardRefusesLoopbackUnlessAllowListed() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment(fetcher: CrawlJobTestSite.fetcher(allowed: []))
        let path = link("guarded.html")
        try await site.set(path, CrawlJobTestSite.article("Guarded", ["This page must never be fetched by a crawler without an allow-list entry."]))
        let status = try await env.running(env.worker()) {
            try await crawl(env, ["link": .string(site.url(path)), "user_full_name": .string(uniqueAuthorName())])
        }
        #expect(status.state == "dead" && status.attempts == 1)
        #expect(status.error?.contains("refused") == true && status.error?.contains("loopback address") == true,
                "\(status.error ?? "")")
        #expect(try await site.stats(path).requests == 0)
    }

    @Test func networkErrorsAreRetried() async throws {
        let env = try await crawlEnvironment()
        // Port 1 on loopback: nothing listens, so the connection is refused every time.
        let status = try await env.running(env.worker()) {
            try await crawl(env, ["link": .string("http://127.0.0.1:1/post.html"), "user_full_name": .string(uniqueAuthorName())],
                            maxAttempts: 2)
        }
        #expect(status.state == "dead")
        #expect(status.attempts == 2, "a network error is retried")
        #expect(status.error?.contains("connection failed") == true || status.error?.contains("unreachable") == true,
                "\(status.error ?? "")")
    }

    @Test func theAllowListAndKindsComeFromTheConfiguration() throws {
        let configuration = try TwinConfiguration.load(environment: ["TWIN_CRAWL_ALLOW_HOSTS": " 127.0.0.1, localhost ,"])
        #expect(configuration.crawlAllowedHosts == ["127.0.0.1", "localhost"])
        #expect(try TwinConfiguration.load(environment: [:]).crawlAllowedHosts.isEmpty)
        let registry = JobCatalog.standard(configuration: configuration)
        for kind in [CrawlJob.kind, AuthorJob.kind, CrawlSummaryJob.kind] { #expect(registry.contains(kind)) }
        #expect(throws: TwinError.self) { try registry.validate(kind: CrawlJob.kind, payload: #"{"user_full_name": "A B"}"#) }
    }

    @Test func classifiesHTTPStatusesFromFetcherMessages() {
        #expect(CrawlFailure.httpStatus("http://x/a: HTTP 404") == 404)
        #expect(CrawlFailure.httpStatus("http://x/a: connection failed (refused)") == nil)
        #expect((CrawlFailure.classify(TwinError.http("http://x/a: HTTP 410")) as? JobFailure)?.retryable == false)
        #expect(CrawlFailure.classify(TwinError.http("http://x/a: HTTP 503")) is TwinError)
        #expect(CrawlFailure.classify(TwinError.http("http://x/a: HTTP 429")) is TwinError)
    }
}
