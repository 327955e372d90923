import Foundation
import Testing

@testable import Core

/// The platform a document is stored with: by address, else by markup wherever the page is served
/// (the demo corpus on loopback), else a host name; IP addresses and localhost are `web`.
@Suite("Crawl: platform of a page")
struct CrawlPlatformTests {
    /// demo/corpus in this checkout.
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("demo/corpus")

    @Test(arguments: [
        ("https://medium.com/@maya/a-post-1", nil, "medium"),
        ("https://towardsdatascience.medium.com/x", nil, "medium"),
        ("https://notes.substack.com/p/x", nil, "substack"),
        ("https://www.linkedin.com/posts/maya_x", nil, "linkedin"),
        ("http://127.0.0.1:8080/medium/x.html", "medium", "medium"),
        ("https://blog.example.org/p/x", "substack", "substack"),
        ("http://127.0.0.1:8080/blog/x.html", nil, "web"),
        ("http://localhost:8080/blog/x.html", nil, "web"),
        ("http://[::1]:8080/blog/x.html", nil, "web"),
        ("https://www.example.org/2024/post", nil, "example.org"),
        ("https://engineering.example.com/post", nil, "engineering.example.com"),
    ] as [(String, String?, String)])
    func namesThePlatform(address: String, markup: String?, expected: String) throws {
        let url = try #require(URL(string: address))
        #expect(PageDocument.platformName(for: url, final: url, markup: markup) == expected)
    }

    @Test func theDemoCorpusMarkupNamesItsPlatform() throws {
        let expected = ["medium": "medium", "substack": "substack", "linkedin": "linkedin", "blog": nil as String?]
        var checked = 0
        for (folder, platform) in expected {
            let pages = try FileManager.default.subpathsOfDirectory(atPath: Self.corpus.appendingPathComponent(folder).path)
                .filter { $0.hasSuffix(".html") }
            #expect(pages.count == 3, "demo/corpus/\(folder)")
            for page in pages {
                let bytes = try Array(Data(contentsOf: Self.corpus.appendingPathComponent(folder).appendingPathComponent(page)))
                // Served on loopback: the address says nothing, the markup must.
                let url = URL(string: "http://127.0.0.1:18480/\(folder)/\(page)")
                let article = try HTMLExtractor().extract(html: bytes, url: url)
                #expect(article.platform == platform, "\(folder)/\(page)")
                checked += 1
            }
        }
        #expect(checked == 12)
    }

    @Test func demoPagesOnLoopbackAreStoredWithTheirPlatformAndKind() async throws {
        let site = try await CrawlJobTestSite.shared()
        let crawler = ArticleCrawler(fetcher: CrawlJobTestSite.fetcher())
        let run = UUIDv7.make()
        let cases: [(file: String, platform: String, kind: CrawledDocument.Kind)] = [
            ("medium/rag-is-a-retrieval-problem.html", "medium", .article),
            ("substack/vector-search-in-postgres.html", "substack", .article),
            ("linkedin/posts/maya-lindqvist_chunking-matters.html", "linkedin", .post),
            ("blog/serving-llms-on-cpus.html", "web", .article),
        ]
        for item in cases {
            let html = try String(contentsOf: Self.corpus.appendingPathComponent(item.file), encoding: .utf8)
            let path = "/platform/\(run)/\(item.file)"
            try await site.set(path, html)
            let document = try await crawler.crawl(try #require(URL(string: site.url(path))))
            #expect(document.platform == item.platform, "\(item.file)")
            #expect(document.kind == item.kind, "\(item.file)")
        }
        // The same LinkedIn markup under a /pulse/ address is an article.
        let post = try String(contentsOf: Self.corpus.appendingPathComponent(cases[2].file), encoding: .utf8)
        try await site.set("/platform/\(run)/pulse/an-article.html", post)
        let article = try await crawler.crawl(try #require(URL(string: site.url("/platform/\(run)/pulse/an-article.html"))))
        #expect(article.kind == .article)
        #expect(article.platform == "linkedin")
    }
}
