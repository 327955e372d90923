import ArgumentParser
import Core
import Foundation

/// `twin bench extract --data DIR [--json]`: extraction quality (token-shingle F1) and speed on a page set
/// laid out as `ground-truth.json` + `html/<id>.html.gz`; with `--crawl`, crawl throughput through the
/// queue with real `twin-worker` processes against the demo corpus on loopback (`CrawlBench`).
struct BenchExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Score the HTML extractor (shingle F1, precision, recall) and measure pages/s on a page set; "
            + "with --crawl, measure crawl throughput (links/s) with N twin-worker processes.")

    @Option(help: "Folder holding ground-truth.json and html/<id>.html.gz (not needed with --crawl).")
    var data: String?

    @Option(name: .customLong("repeat"), help: "Timed passes over all pages; the median is reported.")
    var repeats: Int = 3

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    @Flag(help: "Also print each page's F1, worst first.")
    var perPage = false

    @Option(help: "Write each page's extracted text to this folder as <id>.txt (for error analysis).")
    var dump: String?

    @Flag(help: "Measure crawl throughput through the queue instead (needs Redis, PostgreSQL and a built twin-worker).")
    var crawl = false

    @Option(help: "With --crawl: worker process counts to measure, comma separated.")
    var workers: String = "1,2,4"

    @Option(help: "With --crawl: crawl jobs per round.")
    var links: Int = 240

    @Option(help: "With --crawl: jobs each worker process runs at once.")
    var concurrency: Int = 8

    @Option(help: "With --crawl: the folder served on loopback.")
    var corpus: String = "demo/corpus"

    @Option(help: "Configuration file (default: TWIN_CONFIG or ./twin.yaml).")
    var config: String?

    func run() async throws {
        do {
            if crawl {
                try await runCrawl()
                return
            }
            guard let data else { throw TwinError.invalidInput("--data DIR is required (or pass --crawl)") }
            let pages = try Self.loadPages(from: data)
            try report(pages: pages)
        } catch let error as TwinError {
            var standardError = FileHandle.standardError
            print("twin bench extract: \(error.message)", to: &standardError)
            throw ExitCode(65)
        }
    }

    private func runCrawl() async throws {
        let counts = try workers.split(separator: ",").map { part -> Int in
            guard let count = Int(part.trimmingCharacters(in: .whitespaces)), count >= 1, count <= 64 else {
                throw TwinError.invalidInput("--workers: expected counts between 1 and 64 separated by commas, got \"\(workers)\"")
            }
            return count
        }
        guard !counts.isEmpty else { throw TwinError.invalidInput("--workers: expected at least one count") }
        guard links >= 1 else { throw TwinError.invalidInput("--links: must be at least 1, got \(links)") }
        guard concurrency >= 1 else { throw TwinError.invalidInput("--concurrency: must be at least 1, got \(concurrency)") }
        var base = try TwinConfiguration.load(file: config)
        base.queue.keyPrefix = "crawlbench" + String(UUIDv7.make().replacingOccurrences(of: "-", with: "").suffix(8))
        let runtime = TwinRuntime(configuration: base, label: "twin-bench", redisConnections: 2, postgresConnections: 2)
        try await runtime.prepare()
        let quiet = json
        let bench = CrawlBench(runtime: runtime, corpus: corpus, links: links, concurrency: concurrency) { line in
            if !quiet { print(line) }
        }
        let rounds = try await bench.run(workerCounts: counts)
        if json {
            printJSON(CrawlReport(tool: "twin", benchmark: "crawl", corpus: corpus, concurrency: concurrency, rounds: rounds))
        } else if let first = rounds.first, first.links_per_second > 0 {
            for round in rounds.dropFirst() {
                print(String(format: "scaling %d → %d workers: %.2f×", first.workers, round.workers,
                             round.links_per_second / first.links_per_second))
            }
        }
    }

    /// `--crawl --json` output.
    struct CrawlReport: Encodable {
        var tool: String
        var benchmark: String
        var corpus: String
        var concurrency: Int
        var rounds: [CrawlBench.Round]
    }


    struct BenchPage {
        let id: String
        let truth: String
        let url: URL?
        let html: [UInt8]
    }

    static func loadPages(from folder: String) throws -> [BenchPage] {
        let truthPath = folder + "/ground-truth.json"
        guard let truthData = FileManager.default.contents(atPath: truthPath) else {
            throw TwinError.notFound("\(truthPath): no such file")
        }
        guard let truth = try? JSONSerialization.jsonObject(with: truthData) as? [String: [String: Any]] else {
            throw TwinError.invalidInput("\(truthPath): expected {id: {articleBody, url}}")
        }
        return try truth.keys.sorted().map { id in
            let entry = truth[id] ?? [:]
            let html = try Gzip.readPossiblyCompressed(path: "\(folder)/html/\(id).html.gz")
            return BenchPage(
                id: id, truth: entry["articleBody"] as? String ?? "", url: (entry["url"] as? String).flatMap(URL.init),
                html: html)
        }
    }

    private func report(pages: [BenchPage]) throws {
        let extractor = HTMLExtractor()
        var predictions = [String](repeating: "", count: pages.count)
        var durations: [Double] = []
        for _ in 0..<max(1, repeats) {
            let clock = ContinuousClock()
            let elapsed = try clock.measure {
                for (index, page) in pages.enumerated() {
                    predictions[index] = try extractor.extract(html: page.html, url: page.url).content
                }
            }
            durations.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
        }
        let median = durations.sorted()[durations.count / 2]
        let scored = zip(pages, predictions).map { ExtractionScore.page(truth: $0.truth, predicted: $1) }
        let score = ExtractionScore(pages: scored)
        if let dump {
            try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            for (page, prediction) in zip(pages, predictions) {
                try prediction.write(toFile: "\(dump)/\(page.id).txt", atomically: true, encoding: .utf8)
            }
        }
        let pagesPerSecond = Double(pages.count) / median
        let peakRSS = Self.peakResidentMegabytes()
        if json {
            let object: [String: Any] = [
                "tool": "twin", "pages": pages.count, "f1": score.f1, "precision": score.precision,
                "recall": score.recall, "pages_per_second": pagesPerSecond, "median_seconds": median,
                "peak_rss_mb": peakRSS,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(String(format: "twin extract: %d pages  F1 %.4f  P %.4f  R %.4f  %.1f pages/s (median of %d)  peak RSS %.0f MB",
                         pages.count, score.f1, score.precision, score.recall, pagesPerSecond, durations.count, peakRSS))
        }
        if perPage {
            let rows = zip(pages, scored).map { page, result -> (String, Double) in
                let p = result.truePositive + result.falsePositive == 0 ? 0 : result.truePositive / (result.truePositive + result.falsePositive)
                let r = result.truePositive + result.falseNegative == 0 ? 0 : result.truePositive / (result.truePositive + result.falseNegative)
                let f = p + r == 0 ? 0 : 2 * p * r / (p + r)
                return (String(format: "%.3f P %.3f R %.3f  %@  %@", f, p, r, page.id, page.url?.host ?? "-"), f)
            }
            for row in rows.sorted(by: { $0.1 < $1.1 }) { print(row.0) }
        }
    }

    /// Peak resident set size of this process in MiB (`ru_maxrss` is KiB on Linux).
    static func peakResidentMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
