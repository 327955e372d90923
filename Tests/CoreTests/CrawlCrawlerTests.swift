import Foundation
import Testing

@testable import Core

@Suite("Crawl: crawlers and dispatcher")
struct CrawlCrawlerTests {
    @Test(arguments: [
        ("https://medium.com/decodingml/an-article-123", CrawlerDispatcher.Platform.medium),
        ("https://pauliusztin.medium.com/a-post", .medium),
        ("https://decodingml.substack.com/p/weekly", .substack),
        ("https://www.linkedin.com/posts/paul_rag-activity-1", .linkedInPost),
        ("https://www.linkedin.com/feed/update/urn:li:activity:1", .linkedInPost),
        ("https://www.linkedin.com/pulse/an-article-paul", .linkedInArticle),
        ("https://github.com/decodingml/llm-twin-course", .github),
        ("https://notmedium.com/x", .generic),
        ("https://github.com.evil.example/x/y", .generic),
        ("https://blog.example.org/2024/01/post", .generic),
    ])
    func dispatchesByURLPattern(address: String, platform: CrawlerDispatcher.Platform) throws {
        #expect(CrawlerDispatcher.platform(for: try #require(URL(string: address))) == platform)
    }

    @Test func rejectsBadAddressesWithAReason() async throws {
        let dispatcher = CrawlerDispatcher(fetcher: WebFetcher())
        await #expect(throws: TwinError.invalidInput("invalid URL: \"not a url\"")) {
            _ = try await dispatcher.crawl("not a url")
        }
        await #expect(throws: TwinError.invalidInput("unsupported URL scheme \"ftp\" in ftp://example.com/x: only http and https")) {
            _ = try await dispatcher.crawl("ftp://example.com/x")
        }
        await #expect(throws: TwinError.invalidInput("http://github.com/x: expected https://github.com/<owner>/<repository>")) {
            _ = try await GitHubCrawler().crawl(URL(string: "http://github.com/x")!)
        }
    }

    @Test func articleCrawlerBuildsTheReferenceShape() async throws {
        let server = CrawlTestHTTPServer.shared
        let document = try await ArticleCrawler(fetcher: WebFetcher(configuration: CrawlWebFetcherTests.configuration()))
            .crawl(URL(string: server.url("/page"))!)
        #expect(document.kind == .article)
        #expect(document.platform == "web")
        #expect(document.link == server.url("/page"))
        #expect(Set(document.content.keys) == ["Title", "Subtitle", "Content"])
        #expect(document.content["Title"] == "Loopback page")
        #expect(document.content["Content"]?.hasPrefix("This page is served on loopback") == true)
    }

    @Test func githubCrawlerKeepsTextFilesAsWritten() async throws {
        let manager = FileManager.default
        let repository = manager.temporaryDirectory.appendingPathComponent("twin-repo-\(UUID().uuidString)")
        defer { try? manager.removeItem(at: repository) }
        let files: [String: Data] = [
            "README.md": Data("# Demo\n\nA tiny repository.\n".utf8),
            "Sources/main.swift": Data("func main() {\n    print(\"hi\")\t// tab kept\n}\n".utf8),
            "package-lock.json": Data("{}".utf8),
            "node_modules/dep/index.js": Data("module.exports = 1".utf8),
            "assets/logo.png": Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
            "data/blob": Data([0x01, 0x00, 0x02, 0x00]),
            "docs/huge.txt": Data(String(repeating: "a", count: 5000).utf8),
            "web/app.min.js": Data("var a=1;".utf8),
        ]
        for (path, data) in files {
            let url = repository.appendingPathComponent(path)
            try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        try manager.createSymbolicLink(atPath: repository.appendingPathComponent("link").path, withDestinationPath: "/etc/hostname")
        try Self.git(["init", "--quiet"], in: repository)
        try Self.git(["add", "--all"], in: repository)
        try Self.git(["-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "init"], in: repository)

        var limits = GitHubCrawler.Limits()
        limits.maximumFileBytes = 1000
        let document = try await GitHubCrawler(limits: limits)
            .crawl(cloneURL: repository.absoluteString, link: "https://github.com/test/demo", name: "test/demo")
        #expect(document.kind == .repository)
        #expect(document.platform == "github")
        #expect(document.name == "test/demo")
        #expect(document.content == [
            "README.md": "# Demo\n\nA tiny repository.\n",
            "Sources/main.swift": "func main() {\n    print(\"hi\")\t// tab kept\n}\n",
        ])
    }

    @Test func aCloneThatHangsIsKilledAtTheTimeout() async throws {
        // The loopback server answers /never-script only after 30 s; git must be killed after 1 s.
        var limits = GitHubCrawler.Limits()
        limits.cloneTimeout = .seconds(1)
        let address = CrawlTestHTTPServer.shared.url("/never-script")
        let started = ContinuousClock.now
        await #expect(throws: TwinError.timeout("git clone of \(address) did not finish within 1.0 seconds")) {
            _ = try await GitHubCrawler(limits: limits).crawl(cloneURL: address, link: "x", name: "x")
        }
        // Unkilled, git would wait for the server's answer at 30 s; the margin absorbs a loaded test machine.
        #expect(ContinuousClock.now - started < .seconds(27))
    }

    @Test func githubCrawlerReportsCloneFailures() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("twin-no-repo-\(UUID().uuidString)")
        do {
            _ = try await GitHubCrawler().crawl(cloneURL: missing.absoluteString, link: "x", name: "x")
            Issue.record("cloning a missing repository succeeded")
        } catch let error as TwinError {
            #expect(error.message.hasPrefix("git clone of \(missing.absoluteString) failed:"), "\(error.message)")
        }
    }

    private static func git(_ arguments: [String], in folder: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", folder.path] + arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TwinError.io("git \(arguments) failed") }
    }
}

@Suite("Crawl: LinkedIn export import")
struct CrawlLinkedInExportTests {
    @Test func importsSharesCSV() throws {
        let csv = """
            Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\r
            2024-01-02 10:00:00,https://www.linkedin.com/feed/update/urn:li:share:1,"RAG is not dead.\r
            Retrieval still wins, on cost and ""freshness"".",,https://media.licdn.com/image1.jpg,MEMBER_NETWORK\r
            2024-01-03 11:00:00,https://www.linkedin.com/feed/update/urn:li:share:2,,https://example.com/shared,,PUBLIC\r
            2024-01-04 12:00:00,https://www.linkedin.com/feed/update/urn:li:share:3,Short post,,,PUBLIC
            """
        let posts = try LinkedInExportImporter.posts(fromCSV: csv)
        #expect(posts.count == 2)
        #expect(posts[0].content == [
            "text": "RAG is not dead.\nRetrieval still wins, on cost and \"freshness\".",
            "image": "https://media.licdn.com/image1.jpg",
        ])
        #expect(posts[0].link == "https://www.linkedin.com/feed/update/urn:li:share:1")
        #expect(posts[1].content == ["text": "Short post"])
        #expect(posts.allSatisfy { $0.kind == .post && $0.platform == "linkedin" })
    }

    @Test func rejectsOtherFiles() {
        #expect(throws: TwinError.invalidInput("LinkedIn export: no ShareCommentary column (is this Shares.csv?)")) {
            _ = try LinkedInExportImporter.posts(fromCSV: "a,b\n1,2\n")
        }
        #expect(throws: TwinError.invalidInput("CSV: a quoted field is never closed")) {
            _ = try LinkedInExportImporter.posts(fromCSV: "ShareCommentary\n\"open")
        }
    }
}
