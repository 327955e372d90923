import Foundation
import Testing
@testable import Core

/// Real `twin-worker` processes: `kill -9` loses nothing, SIGTERM drains gracefully.
@Suite(.serialized) struct WorkerProcessTests {
    /// The build's bin directory: TWIN_BIN_DIR (set by ops/test) or the folder holding the test bundle.
    static var binDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["TWIN_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    static func startWorker(prefix: String, queue: String, lease: Double) throws -> Process {
        let p = Process()
        p.executableURL = binDirectory.appendingPathComponent("twin-worker")
        p.arguments = ["--queues", queue, "--concurrency", "16", "--fetch-batch", "8"]
        var env = ProcessInfo.processInfo.environment
        env["TWIN_QUEUE_PREFIX"] = prefix
        env["TWIN_LEASE_SECONDS"] = String(lease)
        env["TWIN_LOG_LEVEL"] = "error"
        p.environment = env
        try p.run()
        return p
    }

    @Test func killNineOfAWorkerLosesNoJobAndCommitsEachResultOnce() async throws {
        let env = try await TestEnvironment(lease: .seconds(1))
        let ids = try await env.queue.enqueue((0..<64).map { _ in JobSpec(kind: "sleep", payload: #"{"ms":2000}"#, queue: "chaos", maxAttempts: 10) })
        let first = try Self.startWorker(prefix: env.prefix, queue: "chaos", lease: 1)
        // Kill it while it holds leased work (however slowly it started on a loaded machine). 64 jobs of
        // 2 s at concurrency 16 keep work leased for ~8 s, so a poll or kill delayed by a busy test machine
        // (CI's parallel suites can starve the cooperative pool for seconds) still interrupts leased work;
        // with 300 jobs of 40 or 150 ms a starved test twice found the queue already drained.
        let deadline = ContinuousClock.now + .seconds(30)
        while try await env.redisCommand("ZCARD", "\(env.prefix):inflight").int ?? 0 == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let inFlight = try await env.redisCommand("ZCARD", "\(env.prefix):inflight").int ?? 0
        #expect(inFlight > 0)   // the kill really interrupted leased work
        let second = try Self.startWorker(prefix: env.prefix, queue: "chaos", lease: 1)
        defer { second.terminate(); second.waitUntilExit() }
        for id in ids { #expect(try await env.waitFinal(id, timeout: .seconds(60)).state == "succeeded") }
        let rows = try await env.postgres.query("""
            SELECT count(*) AS n, count(DISTINCT id) AS d, count(*) FILTER (WHERE attempts > 1) AS rerun
            FROM platform.jobs WHERE namespace = $1
            """, [env.prefix])
        #expect(try rows.first?.int("n") == ids.count)
        #expect(try rows.first?.int("d") == ids.count)
        #expect(try rows.first!.int("rerun") >= 1)   // the interrupted ones ran again
    }

    @Test func sigtermLetsRunningJobsFinish() async throws {
        let env = try await TestEnvironment()
        let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":800}"#, queue: "drain"))
        let worker = try Self.startWorker(prefix: env.prefix, queue: "drain", lease: 30)
        while try await env.queue.status(id: id).state != "running" { try await Task.sleep(for: .milliseconds(20)) }
        worker.terminate()   // SIGTERM
        worker.waitUntilExit()
        #expect(worker.terminationStatus == 0)
        #expect(try await env.queue.status(id: id).state == "succeeded")
    }

    @Test func heartbeatsKeepALongJobLeased() async throws {
        let env = try await TestEnvironment(lease: .milliseconds(300))
        let status = try await env.running(env.worker()) {
            let id = try await env.queue.enqueue(JobSpec(kind: "sleep", payload: #"{"ms":1500}"#))
            return try await env.waitFinal(id)
        }
        #expect(status.state == "succeeded")
        #expect(status.attempts == 1)
    }
}
