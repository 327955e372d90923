import Foundation
import Testing

@testable import Core

/// `twin bench extract --crawl`: its argument errors, and one small real round (not timed: the figures
/// belong in docs/benchmarks/extract.md) through the queue with a real twin-worker.
@Suite("Crawl: twin bench extract --crawl")
struct CrawlBenchCLITests {
    static func twin(_ arguments: [String]) async throws -> CLIRun {
        try await CLIProcess.runDetached(try CLIProcess.binary("twin"), ["bench", "extract"] + arguments)
    }

    @Test func badArgumentsAreRefusedWithAReason() async throws {
        let noData = try await Self.twin([])
        #expect(noData.status == 65 && noData.errors.contains("--data DIR is required (or pass --crawl)"))
        let workers = try await Self.twin(["--crawl", "--workers", "0,x"])
        #expect(workers.status == 65 && workers.errors.contains("--workers: expected counts between 1 and 64"))
        let corpus = try await Self.twin(["--crawl", "--corpus", "/nonexistent/corpus"])
        #expect(corpus.status == 65 && corpus.errors.contains("--corpus /nonexistent/corpus: no such folder"))
    }

    @Test func oneRoundCrawlsEveryLink() async throws {
        let run = try await Self.twin(["--crawl", "--workers", "1", "--links", "12", "--json", "--corpus", CrawlPlatformTests.corpus.path])
        #expect(run.status == 0, "\(run.errors)")
        let report = try JSONValue.parse(run.output)
        guard case .array(let rounds)? = report["rounds"], let round = rounds.first else {
            Issue.record("no rounds in \(run.output)")
            return
        }
        #expect(round["workers"]?.intValue == 1)
        #expect(round["succeeded"]?.intValue == 12)
        #expect(round["failures"] == .array([]))
    }
}
