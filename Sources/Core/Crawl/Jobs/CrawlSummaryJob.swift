import Foundation

/// Job kind `crawl.summary`: what a fan-out crawl step achieved, per domain, with every failure's reason.
///
/// Its input (any name) is the crawl step's artifact — the results of the children that succeeded; the
/// failed children are read from `platform.jobs` (state `dead` or `cancelled`, their `error`) of the run
/// (`run_id`, default: this job's own run) and step (`step`, default `crawl`). The summary never fails
/// because crawls did: like the reference, a partly failed crawl is reported, not fatal.
public struct CrawlSummaryJob: JobHandler {
    public static let kind = "crawl.summary"

    public struct Payload: Decodable, Sendable {
        public var run_id: String?
        public var step: String?
        public var inputs: [String: CrawlJob.StepInput]?
    }

    public struct Output: Encodable, Sendable, Equatable {
        public var total: Int
        public var successful: Int
        public var failed: Int
        /// Domain (`host[:port]`) → `{successful, total}`, as in the reference's step metadata.
        public var domains: [String: DomainCount]
        /// `created`/`updated`/`unchanged` → count, over the successful crawls.
        public var statuses: [String: Int]
        /// One entry per failed link, in fan-out order.
        public var failures: [Failure]
    }

    public struct DomainCount: Encodable, Sendable, Equatable {
        public var successful: Int
        public var total: Int
    }

    public struct Failure: Encodable, Sendable, Equatable {
        public var link: String
        public var reason: String
    }

    public let postgres: PostgresClient

    public init(postgres: PostgresClient) { self.postgres = postgres }

    public func handle(_ payload: Payload, context: JobContext) async throws -> Output {
        guard let run = payload.run_id ?? context.job.pipelineStep?.run else {
            throw JobFailure.permanent("crawl.summary: no run_id and not running inside a pipeline")
        }
        guard UUID(uuidString: run) != nil else { throw JobFailure.permanent("crawl.summary: run_id \"\(run)\" is not a UUID") }
        let step = payload.step ?? "crawl"
        var successes: [(link: String, status: String)] = []
        for (name, input) in (payload.inputs ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard let value = input.value else { continue }
            guard case .array(let items) = value else {
                throw JobFailure.permanent("crawl.summary: input \(name) is not a list of crawl results")
            }
            for item in items {
                guard let link = item["source"]?.stringValue ?? item["link"]?.stringValue else {
                    throw JobFailure.permanent("crawl.summary: input \(name) holds an item without a link: \(item.jsonText)")
                }
                successes.append((link, item["status"]?.stringValue ?? "unknown"))
            }
        }
        let rows = try await postgres.query("""
            SELECT payload->>'link' AS link, state, error FROM platform.jobs
            WHERE pipeline_run = $1::uuid AND step = $2 AND state IN ('dead', 'cancelled') ORDER BY step_child
            """, [run, step])
        let failures = try rows.rows.map { row in
            Failure(link: try row.optionalString("link") ?? "(no link)",
                    reason: try row.optionalString("error") ?? (try row.string("state") == "cancelled" ? "cancelled" : "failed without a message"))
        }
        var domains: [String: DomainCount] = [:]
        var statuses: [String: Int] = [:]
        for s in successes {
            domains[Self.domain(s.link), default: DomainCount(successful: 0, total: 0)].successful += 1
            domains[Self.domain(s.link), default: DomainCount(successful: 0, total: 0)].total += 1
            statuses[s.status, default: 0] += 1
        }
        for f in failures { domains[Self.domain(f.link), default: DomainCount(successful: 0, total: 0)].total += 1 }
        return Output(total: successes.count + failures.count, successful: successes.count, failed: failures.count,
                      domains: domains, statuses: statuses, failures: failures)
    }

    /// The link's network location, `host[:port]` (the reference's `netloc`); the text itself when unparseable.
    static func domain(_ link: String) -> String {
        guard let components = URLComponents(string: link.trimmingCharacters(in: .whitespaces)), let host = components.host,
              !host.isEmpty else { return link }
        return components.port.map { "\(host.lowercased()):\($0)" } ?? host.lowercased()
    }
}
