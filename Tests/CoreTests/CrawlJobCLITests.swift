import Foundation
import Testing

@testable import Core

/// `twin crawl` and `twin warehouse` end to end: the built `twin` executable sits next to the test bundle.
@Suite("Crawl: twin crawl and twin warehouse CLI", .serialized)
struct CrawlJobCLITests {
    typealias Run = CLIRun

    /// Runs `twin` with the test's queue namespace, off the cooperative pool.
    static func twin(_ arguments: [String], prefix: String? = nil) async throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        if let prefix { environment["TWIN_QUEUE_PREFIX"] = prefix }
        return try await CLIProcess.runDetached(try CLIProcess.binary("twin"), arguments, environment: environment)
    }

    @Test func crawlPrintsTheStoredDocumentAsJSON() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment()
        let path = "/cli/\(UUIDv7.make()).html"
        try await site.set(path, CrawlJobTestSite.article("Serving on CPUs", [
            "Token generation on a CPU is bound by memory bandwidth, so a smaller quantized model runs faster.",
        ]))
        let author = uniqueAuthorName("Cli")
        let run = try await env.running(env.worker()) {
            try await Self.twin(["crawl", site.url(path), "--author", author, "--json"], prefix: env.prefix)
        }
        #expect(run.status == 0, "\(run.errors)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["id", "platform", "title", "link", "status"])
        #expect(object["title"] as? String == "Serving on CPUs" && object["status"] as? String == "created")
        let stored = try #require(try await WarehouseStore(postgres: env.postgres).document(link: site.url(path)))
        #expect(object["id"] as? String == stored.id.pgText && stored.authorFullName == author)
    }

    @Test func crawlFailuresExplainThemselves() async throws {
        let bad = try await Self.twin(["crawl", "ftp://127.0.0.1/x", "--author", "Ada Lovelace"])
        #expect(bad.status == 2)
        #expect(bad.errors.contains("unsupported URL scheme \"ftp\""), "\(bad.errors)")
        let env = try await crawlEnvironment()
        let missing = "http://127.0.0.1:\((try await CrawlJobTestSite.shared()).port)/cli/missing-\(UUIDv7.make()).html"
        let run = try await env.running(env.worker()) {
            try await Self.twin(["crawl", missing, "--author", uniqueAuthorName()], prefix: env.prefix)
        }
        #expect(run.status == 1)
        #expect(run.errors.contains("crawl of \(missing) dead") && run.errors.contains("HTTP 404"), "\(run.errors)")
    }

    @Test func warehouseExportAndImportReportCounts() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-cli-wh-\(UUID().uuidString)").path
        let missing = try await Self.twin(["warehouse", "import", "--dir", dir])
        #expect(missing.status == 3 && missing.errors.contains("export folder \(dir) not found"), "\(missing.errors)")
        let store = try await WarehouseStore(postgres: crawlEnvironment().postgres)
        let author = try await store.author(fullName: uniqueAuthorName("Export"))
        _ = try await store.upsert(CrawledDocument(kind: .article, platform: "example.org", link: "https://example.org/\(UUIDv7.make())",
                                                   content: ["Title": "T", "Subtitle": "", "Content": "Text."]), authorID: author.id)
        let export = try await Self.twin(["warehouse", "export", "--dir", dir, "--author", author.fullName, "--json"])
        #expect(export.status == 0, "\(export.errors)")
        let report = try JSONDecoder().decode(WarehouseExport.Report.self, from: Data(export.output.utf8))
        #expect(report.files["ArticleDocument.json"] == 1 && report.files["UserDocument.json"] == 1)
        let reimport = try await Self.twin(["warehouse", "import", "--dir", dir])
        #expect(reimport.status == 0, "\(reimport.errors)")
        #expect(reimport.output.contains("ArticleDocument.json: 1 (unchanged 1)"), "\(reimport.output)")
        let stats = try await Self.twin(["warehouse", "stats", "--json"])
        let counts = try JSONDecoder().decode([String: Int].self, from: Data(stats.output.utf8))
        #expect(Set(counts.keys) == ["authors", "articles", "posts", "repositories"] && counts["articles"]! >= 1)
    }
}
