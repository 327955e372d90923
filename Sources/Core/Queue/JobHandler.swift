import Foundation
import Logging

/// Runs one kind of job. Handlers are registered by kind in a ``JobRegistry``.
public protocol JobHandler: Sendable {
    /// The payload, decoded from the job's JSON (a payload that does not decode is rejected at enqueue).
    associatedtype Payload: Decodable & Sendable
    /// The result, stored as JSON in Postgres.
    associatedtype Output: Encodable & Sendable
    /// The job kind this handler serves.
    static var kind: String { get }
    /// Does the work. Throwing retries the job (with backoff) until its attempts run out;
    /// throw ``JobFailure/permanent(_:)`` to fail at once.
    func handle(_ payload: Payload, context: JobContext) async throws -> Output
}

/// A failure that no retry can fix (bad payload, missing input): the job goes to the dead-letter queue at once.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let retryable: Bool
    public static func permanent(_ message: String) -> JobFailure { JobFailure(description: message, retryable: false) }
}

/// What a running handler can see and do besides its payload.
public struct JobContext: Sendable {
    public let job: LeasedJob
    public let logger: Logger
    let events: JobEvents?

    public init(job: LeasedJob, logger: Logger, events: JobEvents?) {
        self.job = job; self.logger = logger; self.events = events
    }

    /// Publishes progress (0…1 and a message) on the job's event stream.
    public func progress(_ fraction: Double, _ message: String = "") async {
        await events?.publish(jobID: job.id, type: "progress",
                              data: "{\"fraction\":\(fraction),\"message\":\(jsonQuote(message))}", logger: logger)
    }

    /// Publishes partial output (for example streamed tokens) on the job's event stream.
    public func emit(_ partial: String) async {
        await events?.publish(jobID: job.id, type: "partial", data: partial, logger: logger)
    }
}

/// Handlers by kind, type-erased. The producer uses it to validate payloads, the worker to run jobs.
public struct JobRegistry: Sendable {
    struct Entry: Sendable {
        let validate: @Sendable (String) throws -> Void
        let run: @Sendable (String, JobContext) async throws -> String
    }
    private var entries: [String: Entry] = [:]

    public init() {}

    /// Registers a handler for its kind (a second registration for a kind replaces the first).
    public mutating func register<H: JobHandler>(_ handler: H) {
        entries[H.kind] = Entry(
            validate: { text in _ = try Self.decode(H.Payload.self, text, kind: H.kind) },
            run: { text, context in
                let payload = try Self.decode(H.Payload.self, text, kind: H.kind)
                let output = try await handler.handle(payload, context: context)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                return String(decoding: try encoder.encode(output), as: UTF8.self)
            })
    }

    /// Registered kinds, sorted.
    public var kinds: [String] { entries.keys.sorted() }

    public func contains(_ kind: String) -> Bool { entries[kind] != nil }

    /// Checks that `kind` is registered and `payload` decodes as its payload.
    public func validate(kind: String, payload: String) throws {
        guard let entry = entries[kind] else {
            throw TwinError.invalidInput("unknown job kind \"\(kind)\" (known: \(kinds.joined(separator: ", ")))")
        }
        try entry.validate(payload)
    }

    /// Runs the handler for the job's kind and returns its result as JSON text.
    public func run(_ job: LeasedJob, context: JobContext) async throws -> String {
        guard let entry = entries[job.kind] else { throw JobFailure.permanent("no handler for job kind \"\(job.kind)\" in this worker") }
        return try await entry.run(job.payload, context)
    }

    private static func decode<P: Decodable>(_ type: P.Type, _ text: String, kind: String) throws -> P {
        do {
            return try JSONDecoder().decode(P.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw TwinError.invalidInput("payload for \(kind): \(Self.explain(error))")
        }
    }

    static func explain(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing key \"\(key.stringValue)\"\(path(c))"
        case .typeMismatch(let t, let c): return "expected \(t)\(path(c))"
        case .valueNotFound(let t, let c): return "expected \(t)\(path(c)), got null"
        case .dataCorrupted(let c):
            let reason = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return "malformed JSON\(path(c)): \(reason ?? c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
