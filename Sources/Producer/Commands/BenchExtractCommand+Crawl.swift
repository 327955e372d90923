import Core
import Foundation

/// `twin bench extract --crawl`: crawl throughput (links/s) through the real queue with real `twin-worker`
/// processes against the demo corpus served on loopback by python3's http.server.
///
/// Each round enqueues `links` crawl jobs — the corpus pages repeated with a distinct query string, so
/// every job is a real fetch, extraction and warehouse upsert (pages canonicalise to the corpus's
/// documents, so after the first round the upserts take the unchanged path) — starts W workers and
/// measures from the first job's start to the last committed outcome (Postgres timestamps, so worker
/// start-up is excluded). Per-host politeness is switched off for the workers (`TWIN_CRAWL_HOST_DELAY_MS=0`):
/// the site is our own, and with the default 1 s delay the figure would only measure the delay.
struct CrawlBench {
    let runtime: TwinRuntime
    let corpus: String
    let links: Int
    let concurrency: Int
    let log: (String) -> Void

    /// One measured round.
    struct Round: Encodable {
        var workers: Int
        var links: Int
        var succeeded: Int
        var seconds: Double
        var links_per_second: Double
        var worker_cpu_seconds: Double
        var cpu_ms_per_link: Double
        var failures: [String]
    }

    var prefix: String { runtime.configuration.queue.keyPrefix }

    func run(workerCounts: [Int]) async throws -> [Round] {
        let pages = try Self.pages(in: corpus)
        let server = try CorpusServer(folder: corpus)
        defer { server.stop() }
        log("serving \(pages.count) demo pages from \(corpus) on 127.0.0.1:\(server.port)")
        let author = "Bench Crawler"
        defer { Task { [runtime, prefix, port = server.port] in await Self.cleanup(runtime, prefix: prefix, port: port) } }
        var rounds: [Round] = []
        for workers in workerCounts {
            rounds.append(try await round(workers: workers, pages: pages, port: server.port, author: author))
        }
        await Self.cleanup(runtime, prefix: prefix, port: server.port)
        return rounds
    }

    /// The corpus's HTML pages (relative paths), the index page excluded.
    static func pages(in folder: String) throws -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
            let walker = FileManager.default.enumerator(atPath: folder)
        else {
            throw TwinError.notFound("--corpus \(folder): no such folder (run from the repository root or pass --corpus)")
        }
        let pages = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".html") && $0 != "index.html" }.sorted()
        guard !pages.isEmpty else { throw TwinError.invalidInput("--corpus \(folder): no .html pages in it") }
        return pages
    }

    private func round(workers: Int, pages: [String], port: Int, author: String) async throws -> Round {
        let queueName = "crawl-bench-\(workers)"
        let specs = (0..<links).map { index in
            let link = "http://127.0.0.1:\(port)/\(pages[index % pages.count])?round=\(workers)&n=\(index)"
            let payload = JSONValue.object(["link": .string(link), "user_full_name": .string(author)]).jsonText
            return JobSpec(kind: CrawlJob.kind, payload: payload, queue: queueName, maxAttempts: 1, tenant: prefix)
        }
        var start = 0
        while start < specs.count {
            _ = try await runtime.queue.enqueue(Array(specs[start..<min(start + 500, specs.count)]))
            start += 500
        }
        let before = Self.childrenCPUSeconds()
        let processes = try (0..<workers).map { _ in
            try CrawlWorkerProcess(
                prefix: prefix, queue: queueName, concurrency: concurrency,
                environment: [
                    "TWIN_CRAWL_ALLOW_HOSTS": "127.0.0.1", "TWIN_CRAWL_HOST_DELAY_MS": "0",
                    "TWIN_CRAWL_HOST_CONCURRENCY": String(max(1, concurrency)),
                ])
        }
        let deadline = ContinuousClock.now + .seconds(600)
        do {
            while try await finished(queueName) < links {
                if ContinuousClock.now > deadline { throw TwinError.timeout("crawl bench: \(links) links not done in 600 s") }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            processes.forEach { $0.terminate() }
            throw error
        }
        processes.forEach { $0.terminate() }
        let cpu = Self.childrenCPUSeconds() - before
        let row = try await runtime.postgres.query("""
            SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 AS secs,
                   count(*) FILTER (WHERE state = 'succeeded') AS ok
            FROM platform.jobs WHERE tenant = $1 AND queue = $2
            """, [prefix, queueName]).first
        let seconds = max(try row?.optionalDouble("secs") ?? 0, 1e-6)
        let succeeded = try row?.int("ok") ?? 0
        let failures = try await runtime.postgres.query("""
            SELECT coalesce(error, state) AS reason FROM platform.jobs
            WHERE tenant = $1 AND queue = $2 AND state <> 'succeeded' LIMIT 5
            """, [prefix, queueName]).rows.map { try $0.string("reason") }
        let result = Round(
            workers: workers, links: links, succeeded: succeeded, seconds: seconds,
            links_per_second: Double(succeeded) / seconds, worker_cpu_seconds: cpu,
            cpu_ms_per_link: succeeded > 0 ? cpu * 1000 / Double(succeeded) : 0, failures: failures)
        log(String(format: "%d worker process(es) × %d jobs each: %d/%d links in %.2f s = %.1f links/s, worker CPU %.2f s (%.1f ms/link)",
                   workers, concurrency, succeeded, links, seconds, result.links_per_second, cpu, result.cpu_ms_per_link))
        for failure in failures { log("  failed: \(failure)") }
        return result
    }

    private func finished(_ queueName: String) async throws -> Int {
        try await runtime.postgres.query(
            "SELECT count(*) AS n FROM platform.jobs WHERE tenant = $1 AND queue = $2", [prefix, queueName]
        ).first?.int("n") ?? 0
    }

    /// User + system CPU seconds of the waited-for children (the worker processes once terminated).
    static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Removes the bench's jobs, Redis keys, warehouse rows (links on the bench's port) and author.
    static func cleanup(_ runtime: TwinRuntime, prefix: String, port: Int) async {
        let pattern = "http://127.0.0.1:\(port)/%"
        _ = try? await runtime.postgres.query("DELETE FROM platform.jobs WHERE namespace = $1 OR tenant = $1", [prefix])
        for table in ["warehouse.articles", "warehouse.posts"] {
            _ = try? await runtime.postgres.query("DELETE FROM \(table) WHERE link LIKE $1", [pattern])
        }
        _ = try? await runtime.postgres.query("""
            DELETE FROM warehouse.authors a WHERE full_name = 'Bench Crawler'
              AND NOT EXISTS (SELECT 1 FROM warehouse.articles WHERE author_id = a.id)
              AND NOT EXISTS (SELECT 1 FROM warehouse.posts WHERE author_id = a.id)
              AND NOT EXISTS (SELECT 1 FROM warehouse.repositories WHERE author_id = a.id)
            """)
        if let keys = try? await runtime.redis.command(["KEYS", "\(prefix):*"]).array.compactMap(\.text), !keys.isEmpty {
            _ = try? await runtime.redis.command(["DEL"] + keys)
        }
    }
}

/// A running `twin-worker` serving one queue, with extra environment (the crawl settings).
final class CrawlWorkerProcess: @unchecked Sendable {
    // @unchecked: the Process is only touched by the bench's single task.
    private let process = Process()

    init(prefix: String, queue: String, concurrency: Int, environment extra: [String: String]) throws {
        process.executableURL = QueueBench.binDirectory.appendingPathComponent("twin-worker")
        process.arguments = ["--queues", queue, "--concurrency", String(concurrency)]
        var environment = ProcessInfo.processInfo.environment
        environment["TWIN_QUEUE_PREFIX"] = prefix
        environment["TWIN_LOG_LEVEL"] = "error"
        environment.merge(extra) { $1 }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw TwinError.io("cannot start \(process.executableURL?.path ?? "twin-worker"): \(error)")
        }
    }

    /// SIGTERM, then wait (the worker finishes what it holds; here nothing is left).
    func terminate() {
        process.terminate()
        process.waitUntilExit()
    }
}

/// `python3 -m http.server` on 127.0.0.1 and a free port, serving a folder (as ops/demo serves the corpus).
final class CorpusServer: @unchecked Sendable {
    // @unchecked: the Process is only touched by the bench's single task.
    let port: Int
    private let process = Process()

    init(folder: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder, "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw TwinError.io("cannot start python3 -m http.server: \(error)") }
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: " port "), let port = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw TwinError.io("python3 -m http.server did not report its port (got \"\(text)\")")
        }
        self.port = port
    }

    /// SIGKILL, not SIGTERM: a child Foundation starts from a pool thread inherits that thread's blocked
    /// signal mask, so SIGTERM would stay pending forever; the server has nothing to flush.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
