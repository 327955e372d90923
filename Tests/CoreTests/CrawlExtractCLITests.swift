import Foundation
import Testing

@testable import Core

/// `twin extract` end to end: the built `twin` executable sits next to the test bundle.
@Suite("Crawl: twin extract CLI")
struct CrawlExtractCLITests {
    typealias Run = CLIRun

    static func twin(_ arguments: [String]) async throws -> Run {
        try await CLIProcess.runDetached(try CLIProcess.binary("twin"), ["extract"] + arguments)
    }

    static func temporaryFile(_ name: String, _ data: Data) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("twin-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func printsTheJSONKeysOfTheContract() async throws {
        let path = try Self.temporaryFile("post.html", Data(CrawlHTMLFixtures.blog.utf8))
        let run = try await Self.twin([path, "--url", "https://notes.example.org/posts/x", "--json"])
        #expect(run.status == 0, "\(run.errors)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["title", "subtitle", "author", "published", "language", "content"])
        #expect(object["title"] as? String == "Understanding Vector Databases")
        #expect((object["content"] as? String)?.hasPrefix("Vector databases store embeddings") == true)
    }

    @Test func acceptsGzipAndPrintsReadableText() async throws {
        let path = try Self.temporaryFile("page.html.gz", Data(CrawlGzipTests.helloGzip))
        let run = try await Self.twin([path])
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("hello gzip"))
    }

    @Test func reportsBadInputOnStandardError() async throws {
        let missing = try await Self.twin(["/nonexistent/page.html"])
        #expect(missing.status != 0)
        #expect(missing.errors == "twin extract: /nonexistent/page.html: no such file\n")

        let text = try Self.temporaryFile("notes.txt", Data("just words".utf8))
        let notHTML = try await Self.twin([text])
        #expect(notHTML.status != 0)
        #expect(notHTML.errors == "twin extract: \(text): not HTML: no markup found in the input\n")

        let fake = try Self.temporaryFile("page.html.gz", Data("<p>x</p>".utf8))
        let badGzip = try await Self.twin([fake])
        #expect(badGzip.status != 0)
        #expect(badGzip.errors == "twin extract: \(fake): invalid gzip: missing gzip header\n")

        let truncated = try Self.temporaryFile("cut.html.gz", Data(CrawlGzipTests.helloGzip.prefix(20)))
        let cut = try await Self.twin([truncated])
        #expect(cut.status != 0)
        #expect(cut.errors == "twin extract: \(truncated): invalid gzip: the data is truncated\n")

        let badURL = try await Self.twin([text, "--url", "ftp://x"])
        #expect(badURL.status != 0)
        #expect(badURL.errors.contains("--url: expected an http(s) address"))
    }
}
