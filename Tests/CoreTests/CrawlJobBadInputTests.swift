import Foundation
import Testing

@testable import Core

/// Bad input through the real queue and worker: each is a failed job with a clear reason and leaves
/// nothing in the warehouse.
@Suite("Crawl: bad input end to end", .serialized)
struct CrawlJobBadInputTests {
    /// Loopback allowed, no retries inside the fetcher; `localhost` is a JavaScript domain whose Chromium
    /// is missing.
    static func fetcher() -> WebFetcher {
        var configuration = FetcherConfiguration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: ["127.0.0.1", "localhost"])
        configuration.obeyRobotsTxt = false
        configuration.minimumDelayPerHost = .zero
        configuration.maximumRetries = 0
        configuration.connectTimeout = .seconds(2)
        configuration.javaScriptDomains = ["localhost"]
        configuration.chromiumPath = "/nonexistent/chromium"
        return WebFetcher(configuration: configuration)
    }

    func crawl(_ env: TestEnvironment, _ link: String, author: String) async throws -> JobStatus {
        let payload = JSONValue.object(["link": .string(link), "user_full_name": .string(author)]).jsonText
        return try await env.waitFinal(try await env.queue.enqueue(JobSpec(kind: CrawlJob.kind, payload: payload, maxAttempts: 1)))
    }

    @Test func eachBadLinkIsAFailedJobWithAReasonAndNothingIsStored() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment(fetcher: Self.fetcher())
        let page = "/bad-input/\(UUIDv7.make())/js.html"
        try await site.set(page, CrawlJobTestSite.article("Needs JavaScript", [
            "A page on a JavaScript domain: it can only be stored once headless Chromium has rendered it.",
        ]))
        let author = uniqueAuthorName()
        let cases: [(link: String, reason: String)] = [
            ("not a url", "invalid URL: \"not a url\""),
            ("http://exa mple.com/post", "invalid URL"),
            ("mailto:maya@example.org", "unsupported URL scheme \"mailto\""),
            ("https://127.0.0.1:\(site.port)/tls.html", "TLS failure"),  // https to a plain-HTTP port
            ("http://127.0.0.1:1/unreachable.html", "unreachable"),
            (site.url(page, host: "localhost"), "apt-get install chromium"),
        ]
        let statuses = try await env.running(env.worker()) {
            var statuses: [JobStatus] = []
            for item in cases { statuses.append(try await crawl(env, item.link, author: author)) }
            return statuses
        }
        for (item, status) in zip(cases, statuses) {
            #expect(status.state == "dead", "\(item.link)")
            #expect(status.error?.contains(item.reason) == true, "\(item.link): \(status.error ?? "no reason")")
        }
        let store = WarehouseStore(postgres: PostgresClient(endpoint: try TwinConfiguration.load().postgres, connections: 1))
        let stored = try #require(try await store.authors().first { $0.fullName == author })
        for kind in [CrawledDocument.Kind.article, .post, .repository] {
            #expect(try await store.documents(kind: kind, authorIDs: [stored.id]).isEmpty)
        }
        #expect(try await store.document(link: site.url(page, host: "localhost")) == nil)
    }
}
