import Foundation
import Testing

@testable import Core

/// `digital_data_etl` from `configs/pipelines/` end to end against a loopback site on two host names.
@Suite("Crawl: digital_data_etl pipeline")
struct CrawlJobPipelineTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func waitRun(_ service: PipelineService, _ id: String) async throws -> PipelineService.RunView {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let view = try await service.show(id)
            if view.state != "running" { return view }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TwinError.timeout("run \(id) still running")
    }

    @Test func crawlsStoresAndSummarisesPerDomainWithFailureReasons() async throws {
        let site = try await CrawlJobTestSite.shared()
        let env = try await crawlEnvironment()
        let store = WarehouseStore(postgres: env.postgres)
        let definition = try PipelineDefinition.load(
            file: Self.packageRoot.appendingPathComponent("configs/pipelines/digital_data_etl.yaml").path,
            registry: env.queue.registry)
        let base = "/etl/\(UUIDv7.make())"
        let topics = ["Fine-tuning with LoRA", "Retrieval first", "Feature stores"]
        for (i, topic) in topics.enumerated() {
            try await site.set("\(base)/\(i).html", CrawlJobTestSite.article(topic, [
                "\(topic) is the subject of this test article, written with enough words to count as real content.",
                "A second paragraph adds sentences, commas, and detail, so the extractor keeps the article body.",
            ]))
        }
        try await site.set("\(base)/image.png", "not an image", type: "image/png")
        let links = [site.url("\(base)/0.html"), site.url("\(base)/1.html"), site.url("\(base)/2.html", host: "localhost"),
                     site.url("\(base)/missing.html"), site.url("\(base)/image.png", host: "localhost")]
        let author = uniqueAuthorName("Maya")
        let service = PipelineService(queue: env.queue)
        let run = try await env.running(env.worker()) {
            let started = try await service.start(definition, overrides: [
                "user_full_name": .string(author), "links": .array(links.map { .string($0) }),
            ])
            return try await waitRun(service, started.id)
        }
        #expect(run.state == "succeeded", "\(run.error ?? "")")
        let crawl = try #require(run.steps.first { $0.step == "crawl" })
        #expect(crawl.fan_out_total == 5 && crawl.fan_out_succeeded == 3 && crawl.fan_out_failed == 2)

        let (_, summary) = try await service.artifact("digital_data_etl.summary")
        // The latest summary in this namespace is this run's (each test has its own namespace).
        #expect(summary["total"] == .number(5) && summary["successful"] == .number(3) && summary["failed"] == .number(2))
        let loopback = "127.0.0.1:\(site.port)", localhost = "localhost:\(site.port)"
        #expect(summary["domains"]?[loopback] == .object(["successful": .number(2), "total": .number(3)]))
        #expect(summary["domains"]?[localhost] == .object(["successful": .number(1), "total": .number(2)]))
        #expect(summary["statuses"] == .object(["created": .number(3)]))
        guard case .array(let failures)? = summary["failures"] else { Issue.record("no failures list"); return }
        #expect(failures.count == 2)
        #expect(failures.first?["link"] == .string(links[3]))
        #expect(failures.first?["reason"]?.stringValue?.hasSuffix("HTTP 404") == true)
        #expect(failures.last?["link"] == .string(links[4]))
        #expect(failures.last?["reason"]?.stringValue?.contains("non-text content (image/png)") == true)

        let stored = try #require(try await store.authors().first { $0.fullName == author })
        let documents = try await store.documents(kind: .article, authorIDs: [stored.id])
        #expect(Set(documents.compactMap { $0.content["Title"] }) == Set(topics))
        #expect(Set(documents.map(\.platform)) == ["web"])  // loopback hosts are no platform
    }
}
