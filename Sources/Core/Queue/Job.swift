import Foundation

/// What a producer asks for: one job of `kind` with a JSON payload.
public struct JobSpec: Sendable, Equatable {
    /// The handler that runs it (must be registered).
    public var kind: String
    /// JSON text (an object, array or scalar); validated and size-limited at enqueue.
    public var payload: String
    /// The queue it waits in.
    public var queue: String = "default"
    /// 0…9; higher runs sooner.
    public var priority: Int = 0
    /// Attempts before it goes to the dead-letter queue (nil = configured default).
    public var maxAttempts: Int?
    /// Per-attempt time limit (nil = none).
    public var timeout: Duration?
    /// Run no earlier than this long from now.
    public var delay: Duration = .zero
    /// Jobs with the same key inside the unique window collapse into the first one.
    public var idempotencyKey: String?
    /// Owner of the job (API keys see only their tenant's jobs).
    public var tenant: String?
    /// Batch this job belongs to (set by ``JobQueue/enqueueBatch(_:callback:)``).
    var batch: String?
    /// A preset id (batch callbacks, DLQ retries, pipeline steps); normally generated.
    var presetID: String?
    /// The pipeline step this job runs for, as `run|step|child` (child -1 for a step without fan-out).
    var pipeline: String?

    public init(kind: String, payload: String = "{}", queue: String = "default", priority: Int = 0,
                maxAttempts: Int? = nil, timeout: Duration? = nil, delay: Duration = .zero,
                idempotencyKey: String? = nil, tenant: String? = nil) {
        self.kind = kind; self.payload = payload; self.queue = queue; self.priority = priority
        self.maxAttempts = maxAttempts; self.timeout = timeout; self.delay = delay
        self.idempotencyKey = idempotencyKey; self.tenant = tenant
    }
}

/// Lifecycle states; `succeeded`, `dead` and `cancelled` are final and live in Postgres.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case scheduled, queued, running, retrying, succeeded, dead, cancelled

    public var isFinal: Bool { self == .succeeded || self == .dead || self == .cancelled }
}

/// A job a worker holds, with the fencing token that proves its lease.
public struct LeasedJob: Sendable, Equatable {
    public let id: String
    public let token: String
    public let queue: String
    public let kind: String
    public let payload: String
    public let priority: Int
    /// 1 for the first run.
    public let attempt: Int
    public let maxAttempts: Int
    /// 0 = no limit.
    public let timeoutMs: Int
    public let createdMicros: Int64
    public let startedMicros: Int64
    public let batch: String
    public let tenant: String
    public let crashes: Int
    public let idempotencyKey: String
    /// `run|step|child` when the job is a pipeline step, empty otherwise.
    public var pipeline: String = ""

    /// The pipeline run, step and fan-out child this job belongs to, if any.
    public var pipelineStep: (run: String, step: String, child: Int)? {
        let parts = pipeline.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, let child = Int(parts[2]) else { return nil }
        return (String(parts[0]), String(parts[1]), child)
    }
}

/// A job's final outcome, ready for the group commit.
public struct JobOutcome: Sendable {
    public var job: LeasedJob
    public var state: JobState
    /// JSON text of the handler's result.
    public var result: String?
    public var error: String?
    public var finishedMicros: Int64

    public init(job: LeasedJob, state: JobState, result: String? = nil, error: String? = nil,
                finishedMicros: Int64 = Clock.micros()) {
        self.job = job; self.state = state; self.result = result; self.error = error; self.finishedMicros = finishedMicros
    }
}

/// What `twin status` shows: the job's record, live from Redis while in flight, from Postgres once final.
public struct JobStatus: Sendable, Codable, Equatable {
    public var id: String
    public var kind: String
    public var queue: String
    public var state: String
    public var attempts: Int
    public var max_attempts: Int
    public var priority: Int
    public var payload: JSONValue
    public var result: JSONValue?
    public var error: String?
    public var created_at: String?
    public var started_at: String?
    public var finished_at: String?
    public var tenant: String?
    public var idempotency_key: String?
    public var cancel_requested: Bool?
}

/// Wall-clock helpers.
public enum Clock {
    /// Microseconds since the Unix epoch.
    public static func micros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// ISO-8601 text with microseconds, UTC (`2026-11-29T07:15:00.123456Z`).
    public static func iso(micros: Int64) -> String {
        iso(Date(timeIntervalSince1970: Double(micros) / 1_000_000))
    }

    /// ISO-8601 text with microseconds, UTC.
    public static func iso(_ date: Date) -> String {
        var s = PGDate.format(date)
        s = s.replacingOccurrences(of: " ", with: "T")
        return String(s.dropLast(3)) + "Z"
    }
}
