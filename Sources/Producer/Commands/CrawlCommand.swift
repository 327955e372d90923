import ArgumentParser
import Core
import Foundation

/// `twin crawl URL --author "First Last"`: crawls one link through the queue (a worker must be running)
/// and prints the stored document.
struct CrawlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crawl", abstract: "Crawl one link into the warehouse through the queue (needs a running twin-worker).")

    @Argument(help: "The link: an article, a LinkedIn post or a GitHub repository (http or https).") var url: String
    @Option(help: "The author, \"First Last\" (created if unknown).") var author: String
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "Give up waiting after this many seconds (exit 4); the job keeps its place in the queue.") var timeout: Double = 300
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            // Checked here too, so a typo fails at once instead of as a dead job.
            _ = try ConditionalCrawler.url(url)
            _ = try WarehouseAuthor.split(fullName: author)
            let runtime = try await options.runtime()
            let payload = JSONValue.object(["link": .string(url), "user_full_name": .string(author)]).jsonText
            let id = try await runtime.queue.enqueue(JobSpec(kind: CrawlJob.kind, payload: payload, queue: queue, maxAttempts: 3))
            let status: JobStatus
            do {
                status = try await waitForJob(runtime.queue, id: id, timeout: try seconds(timeout, name: "--timeout"))
            } catch let error as TwinError where error.isTimeout {
                throw TwinError.timeout("\(error.message) (is a twin-worker serving queue \(queue) running?)")
            }
            guard status.state == "succeeded", let result = status.result else {
                let reason = "crawl of \(url) \(status.state): \(status.error ?? "no reason recorded") (job \(id))"
                FileHandle.standardError.write(Data("twin: error: \(reason)\n".utf8))
                throw ExitCode(1)
            }
            let document: [String: JSONValue] = [
                "id": result["id"] ?? .null, "platform": result["platform"] ?? .null, "title": result["title"] ?? .null,
                "link": result["link"] ?? .null, "status": result["status"] ?? .null,
            ]
            if options.json { printJSON(JSONValue.object(document)); return }
            print("id:        \(result["id"]?.stringValue ?? "-")")
            print("platform:  \(result["platform"]?.stringValue ?? "-")")
            print("title:     \(result["title"]?.stringValue ?? "-")")
            print("link:      \(result["link"]?.stringValue ?? "-")")
            print("status:    \(result["status"]?.stringValue ?? "-")")
        }
    }
}
