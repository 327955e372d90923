import Core
import Foundation

/// The measurements behind `twin bench queue`, against real `twin-worker` processes.
struct QueueBench: Sendable {
    let runtime: TwinRuntime
    let log: @Sendable (String) -> Void
    var queue: JobQueue { runtime.queue }
    var prefix: String { runtime.configuration.queue.keyPrefix }

    /// The directory of this executable (twin-worker is built next to it).
    static var binDirectory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    func cleanup() async {
        _ = try? await runtime.postgres.query("DELETE FROM platform.jobs WHERE namespace = $1", [prefix])
        if let keys = try? await runtime.redis.command(["KEYS", "\(prefix):*"]).array.compactMap(\.text), !keys.isEmpty {
            _ = try? await runtime.redis.command(["DEL"] + keys)
        }
    }

    func spec(_ queue: String, kind: String = "noop", payload: String = "{}") -> JobSpec {
        JobSpec(kind: kind, payload: payload, queue: queue, maxAttempts: 10, tenant: prefix)
    }

    func enqueueRate(count: Int, bulk: Bool) async throws -> Double {
        let q = "enq-\(bulk ? "bulk" : "single")"
        let start = ContinuousClock.now
        if bulk {
            var i = 0
            while i < count {
                let n = min(500, count - i)
                _ = try await queue.enqueue(Array(repeating: spec(q), count: n))
                i += n
            }
        } else {
            for _ in 0..<count { _ = try await queue.enqueue(spec(q)) }
        }
        let rate = Double(count) / (ContinuousClock.now - start).seconds
        log(String(format: "enqueue %@: %d jobs, %.0f jobs/s", bulk ? "bulk (500 per call)" : "single (1 per call)", count, rate))
        _ = try await runtime.redis.command(["DEL", "\(prefix):queue:\(q)"])
        return rate
    }

    /// A running `twin-worker` process.
    final class WorkerProcess: @unchecked Sendable {
        // @unchecked: Process is only touched by the bench's single task.
        let process = Process()
        init(prefix: String, queue: String, fetchBatch: Int, concurrency: Int, lease: Double? = nil) throws {
            process.executableURL = QueueBench.binDirectory.appendingPathComponent("twin-worker")
            process.arguments = ["--queues", queue, "--fetch-batch", String(fetchBatch), "--concurrency", String(concurrency)]
            var env = ProcessInfo.processInfo.environment
            env["TWIN_QUEUE_PREFIX"] = prefix
            env["TWIN_LOG_LEVEL"] = "error"
            if let lease { env["TWIN_LEASE_SECONDS"] = String(lease) }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }
        func terminate() { process.terminate(); process.waitUntilExit() }
        func kill9() { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    func finalCount(queue q: String) async throws -> Int {
        try await runtime.postgres.query("SELECT count(*) AS n FROM platform.jobs WHERE tenant = $1 AND queue = $2", [prefix, q]).first?.int("n") ?? 0
    }

    /// Pre-enqueues `count` no-op jobs, starts the workers, and measures from the first start to the last
    /// committed outcome (Postgres timestamps, so worker start-up is excluded).
    func burnDown(count: Int, workers: Int, fetchBatch: Int, concurrency: Int) async throws -> Double {
        let q = "burn-\(fetchBatch)"
        var i = 0
        while i < count {
            let n = min(500, count - i)
            _ = try await queue.enqueue(Array(repeating: spec(q), count: n))
            i += n
        }
        let procs = try (0..<workers).map { _ in try WorkerProcess(prefix: prefix, queue: q, fetchBatch: fetchBatch, concurrency: concurrency) }
        defer { procs.forEach { $0.terminate() } }
        let deadline = ContinuousClock.now + .seconds(300)
        while try await finalCount(queue: q) < count {
            if ContinuousClock.now > deadline { throw TwinError.timeout("burn-down did not finish") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let row = try await runtime.postgres.query("""
            SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 AS secs
            FROM platform.jobs WHERE tenant = $1 AND queue = $2
            """, [prefix, q]).first
        let secs = try row?.optionalDouble("secs") ?? 1
        let rate = Double(count) / secs
        log(String(format: "burn-down, fetch batch %d, %d worker process(es): %d jobs in %.2f s = %.0f jobs/s (committed in Postgres)",
                   fetchBatch, workers, count, secs, rate))
        return rate
    }

    /// Open-loop load at `rate` jobs/s against an idle worker; enqueue→start latency from the Redis clock.
    func latency(rate: Int, seconds: Double) async throws -> (Double, Double) {
        let q = "latency"
        let proc = try WorkerProcess(prefix: prefix, queue: q, fetchBatch: 1, concurrency: 64)
        defer { proc.terminate() }
        try await Task.sleep(for: .milliseconds(500))
        let total = Int(Double(rate) * seconds)
        let start = ContinuousClock.now
        for n in 0..<total {
            let due = start + .microseconds(Int64(n) * 1_000_000 / Int64(rate))
            let now = ContinuousClock.now
            if due > now { try await Task.sleep(until: due, clock: .continuous) }
            _ = try await queue.enqueue(spec(q))
        }
        while try await finalCount(queue: q) < total { try await Task.sleep(for: .milliseconds(50)) }
        let row = try await runtime.postgres.query("""
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000 AS p50,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at)) * 1000 AS p99
            FROM platform.jobs WHERE tenant = $1 AND queue = $2
            """, [prefix, q]).first
        let p50 = try row?.optionalDouble("p50") ?? 0, p99 = try row?.optionalDouble("p99") ?? 0
        log(String(format: "enqueue→start latency at %d jobs/s (%d jobs): p50 %.3f ms, p99 %.3f ms", rate, total, p50, p99))
        return (p50, p99)
    }

    /// Sleep jobs through two workers while one of them is killed with SIGKILL every `killEvery` seconds
    /// and restarted; counts jobs without a final outcome (lost) and jobs with more than one committed
    /// result (duplicates; the primary key makes this 0 by construction, checked anyway).
    func crashRun(count: Int, killEvery: Double) async throws -> (kills: Int, lost: Int, duplicates: Int, reexecuted: Int) {
        let q = "crash"
        var i = 0
        while i < count {
            let n = min(500, count - i)
            _ = try await queue.enqueue(Array(repeating: spec(q, kind: "sleep", payload: #"{"ms":20}"#), count: n))
            i += n
        }
        var procs = try (0..<2).map { _ in try WorkerProcess(prefix: prefix, queue: q, fetchBatch: 16, concurrency: 16, lease: 2) }
        var kills = 0
        let deadline = ContinuousClock.now + .seconds(240)
        var nextKill = ContinuousClock.now + .milliseconds(Int(killEvery * 1000))
        while try await finalCount(queue: q) < count {
            if ContinuousClock.now > deadline { break }
            if ContinuousClock.now >= nextKill {
                let victim = kills % procs.count
                procs[victim].kill9()
                kills += 1
                procs[victim] = try WorkerProcess(prefix: prefix, queue: q, fetchBatch: 16, concurrency: 16, lease: 2)
                nextKill = ContinuousClock.now + .milliseconds(Int(killEvery * 1000))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        procs.forEach { $0.terminate() }
        let row = try await runtime.postgres.query("""
            SELECT count(*) FILTER (WHERE state = 'succeeded') AS ok, count(*) - count(DISTINCT id) AS dup,
                   count(*) FILTER (WHERE attempts > 1) AS rerun
            FROM platform.jobs WHERE tenant = $1 AND queue = $2
            """, [prefix, q]).first
        let ok = try row?.int("ok") ?? 0
        let lost = count - ok
        let dup = try row?.int("dup") ?? 0
        let rerun = try row?.int("rerun") ?? 0
        log("crash run: \(count) sleep jobs, 2 workers, \(kills) kill -9: lost \(lost), duplicate results \(dup), re-executed after a crash \(rerun)")
        return (kills, lost, dup, rerun)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
