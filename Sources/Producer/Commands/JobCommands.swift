import ArgumentParser
import Core
import Foundation

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submit", abstract: "Enqueue a job.")

    @Argument(help: "Job kind (for example noop, sleep, fail, echo).") var kind: String
    @Option(help: "JSON payload.") var payload: String = "{}"
    @Option(help: "Queue name.") var queue: String = "default"
    @Option(help: "Priority 0…9 (higher runs sooner).") var priority: Int = 0
    @Option(help: "Run no earlier than this many seconds from now.") var delay: Double?
    @Option(name: .customLong("idempotency-key"), help: "Jobs with the same key within the unique window (24 h by default) collapse into one.")
    var idempotencyKey: String?
    @Option(name: .customLong("max-attempts"), help: "Attempts before the job is dead.") var maxAttempts: Int?
    @Option(help: "Per-attempt time limit in seconds.") var timeout: Double?
    @Flag(help: "Wait for the job to finish and print its status.") var wait = false
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let runtime = try await options.runtime()
            let spec = JobSpec(kind: kind, payload: payload, queue: queue, priority: priority, maxAttempts: maxAttempts,
                               timeout: try seconds(timeout, name: "--timeout"), delay: try seconds(delay, name: "--delay") ?? .zero,
                               idempotencyKey: idempotencyKey)
            let id = try await runtime.queue.enqueue(spec)
            if wait {
                let status = try await waitForJob(runtime.queue, id: id, timeout: nil)
                if options.json { printJSON(status) } else { printStatus(status) }
                if status.state != "succeeded" { throw ExitCode(1) }
            } else if options.json {
                printJSON(["id": id])
            } else {
                print(id)
            }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a job's state, attempts, result and error.")
    @Argument(help: "Job id.") var id: String
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let status = try await options.runtime().queue.status(id: id)
            if options.json { printJSON(status) } else { printStatus(status) }
        }
    }
}

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wait", abstract: "Wait until a job reaches a final state.")
    @Argument(help: "Job id.") var id: String
    @Option(help: "Give up after this many seconds (exit 4).") var timeout: Double?
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let status = try await waitForJob(options.runtime().queue, id: id, timeout: try seconds(timeout, name: "--timeout"))
            if options.json { printJSON(status) } else { printStatus(status) }
            if status.state != "succeeded" { throw ExitCode(1) }
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a waiting job, or ask a running job's worker to stop it.")
    @Argument(help: "Job id.") var id: String
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let result = try await options.runtime().queue.cancel(id: id)
            if options.json { printJSON(["id": id, "result": result.rawValue]) } else { print("\(id): \(result.rawValue)") }
        }
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs, newest first.")
    @Option(help: "Only this state: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).") var state: String?
    @Option(help: "Only this kind.") var kind: String?
    @Option(help: "At most this many.") var limit: Int = 50
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            var filter: JobState?
            if let state {
                guard let s = JobState(rawValue: state) else {
                    throw TwinError.invalidInput("unknown state \"\(state)\" (known: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                filter = s
            }
            guard limit > 0 else { throw TwinError.invalidInput("--limit must be positive") }
            let jobs = try await options.runtime().queue.list(state: filter, kind: kind, limit: limit)
            if options.json { printJSON(jobs); return }
            print(table(["ID", "KIND", "QUEUE", "STATE", "ATTEMPTS", "CREATED"],
                        jobs.map { [$0.id, $0.kind, $0.queue, $0.state, "\($0.attempts)/\($0.max_attempts)", $0.created_at ?? ""] }))
        }
    }
}

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queues", abstract: "Depth, in-flight count and oldest age of every queue.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let queues = try await options.runtime().queue.queues()
            if options.json { printJSON(queues); return }
            print(table(["QUEUE", "DEPTH", "DELAYED", "IN FLIGHT", "OLDEST (s)", "SUCCEEDED", "DEAD", "LIMITS"],
                        queues.map { q in
                            [q.name, "\(q.depth)", "\(q.delayed)", "\(q.in_flight)", q.oldest_age_seconds.map { String(format: "%.3f", $0) } ?? "-",
                             "\(q.succeeded)", "\(q.dead)",
                             [q.concurrency_limit.map { "concurrency \($0)" }, q.rate_limit_per_second.map { "rate \($0)/s" }]
                                .compactMap { $0 }.joined(separator: ", ")]
                        }))
        }
    }
}

struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dlq", abstract: "The dead-letter queue.",
                                                    subcommands: [List.self, Retry.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Dead jobs, newest first.")
        @Option(help: "At most this many.") var limit: Int = 50
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let jobs = try await options.runtime().queue.deadLetters(limit: limit)
                if options.json { printJSON(jobs); return }
                print(table(["ID", "KIND", "QUEUE", "ATTEMPTS", "ERROR"],
                            jobs.map { [$0.id, $0.kind, $0.queue, "\($0.attempts)", String(($0.error ?? "").prefix(80))] }))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retry", abstract: "Put a dead job back in its queue (attempts reset).")
        @Argument(help: "Job id.") var id: String
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                try await options.runtime().queue.retryDead(id: id)
                if options.json { printJSON(["id": id, "state": "queued"]) } else { print("\(id): queued") }
            }
        }
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await guarded {
            let runtime = try await options.runtime(migrate: false)
            let applied = try await Migrator.migrate(runtime.postgres)
            let version = try await Migrator.currentVersion(runtime.postgres)
            if options.json { printJSON(["applied": applied, "version": [version]]) }
            else { print(applied.isEmpty ? "up to date (version \(version))" : "applied \(applied.map(String.init).joined(separator: ", ")); now at version \(version)") }
        }
    }
}

/// Polls until the job is final: Redis while it is in flight, Postgres after.
func waitForJob(_ queue: JobQueue, id: String, timeout: Duration?) async throws -> JobStatus {
    let deadline = timeout.map { ContinuousClock.now + $0 }
    var pause = Duration.milliseconds(2)
    while true {
        let status = try await queue.status(id: id)
        if JobState(rawValue: status.state)?.isFinal == true { return status }
        if let deadline, ContinuousClock.now >= deadline {
            throw TwinError.timeout("job \(id) is still \(status.state) after \(timeout!)")
        }
        try await Task.sleep(for: pause)
        pause = min(pause * 2, .milliseconds(200))
    }
}

func printStatus(_ s: JobStatus) {
    print("id:        \(s.id)")
    print("kind:      \(s.kind)  queue: \(s.queue)  priority: \(s.priority)")
    print("state:     \(s.state)\(s.cancel_requested == true ? " (cancel requested)" : "")")
    print("attempts:  \(s.attempts)/\(s.max_attempts)")
    print("created:   \(s.created_at ?? "-")")
    print("started:   \(s.started_at ?? "-")")
    print("finished:  \(s.finished_at ?? "-")")
    if let r = s.result { print("result:    \(r.jsonText)") }
    if let e = s.error { print("error:     \(e)") }
}
