import Foundation
import Testing

@testable import Core

/// `twin bench extract --crawl`: its argument errors, and one small real round (not timed: the figures
/// belong in docs/benchmarks/extract.md) through the queue with a real twin-worker.
@Suite("Crawl: twin bench extract --crawl")
struct CrawlBenchCLITests {
    static func twin(_ arguments: [String]) throws -> CrawlExtractCLITests.Run {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("twin")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the twin product first")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["bench", "extract"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return .init(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                     errors: String(decoding: err, as: UTF8.self))
    }

    @Test func badArgumentsAreRefusedWithAReason() throws {
        let noData = try Self.twin([])
        #expect(noData.status == 65 && noData.errors.contains("--data DIR is required (or pass --crawl)"))
        let workers = try Self.twin(["--crawl", "--workers", "0,x"])
        #expect(workers.status == 65 && workers.errors.contains("--workers: expected counts between 1 and 64"))
        let corpus = try Self.twin(["--crawl", "--corpus", "/nonexistent/corpus"])
        #expect(corpus.status == 65 && corpus.errors.contains("--corpus /nonexistent/corpus: no such folder"))
    }

    @Test func oneRoundCrawlsEveryLink() throws {
        let run = try Self.twin(["--crawl", "--workers", "1", "--links", "12", "--json", "--corpus", CrawlPlatformTests.corpus.path])
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
