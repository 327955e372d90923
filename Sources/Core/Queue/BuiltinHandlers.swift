/// Built-in job kinds for tests, demos and benchmarks.
public enum BuiltinHandlers {
    /// Registers `noop`, `sleep`, `fail` and `echo`.
    public static func register(into registry: inout JobRegistry) {
        registry.register(Noop())
        registry.register(Sleep())
        registry.register(Fail())
        registry.register(Echo())
    }

    /// Does nothing; any JSON payload.
    public struct Noop: JobHandler {
        public static let kind = "noop"
        public func handle(_ payload: JSONValue, context: JobContext) async throws -> JSONValue { .null }
    }

    /// Sleeps `ms` milliseconds (cancellable): `{"ms": N}`.
    public struct Sleep: JobHandler {
        public struct Payload: Decodable, Sendable { let ms: Int }
        public static let kind = "sleep"
        public func handle(_ payload: Payload, context: JobContext) async throws -> JSONValue {
            guard payload.ms >= 0 else { throw JobFailure.permanent("sleep: ms must not be negative") }
            try await Task.sleep(for: .milliseconds(payload.ms))
            return .object(["slept_ms": .number(Double(payload.ms))])
        }
    }

    /// Fails its first `times` attempts, then succeeds: `{"times": N}`.
    public struct Fail: JobHandler {
        public struct Payload: Decodable, Sendable { let times: Int }
        public static let kind = "fail"
        struct Planned: Error, CustomStringConvertible { let attempt: Int; var description: String { "planned failure on attempt \(attempt)" } }
        public func handle(_ payload: Payload, context: JobContext) async throws -> JSONValue {
            if context.job.attempt <= payload.times { throw Planned(attempt: context.job.attempt) }
            return .object(["attempts": .number(Double(context.job.attempt))])
        }
    }

    /// Returns its payload.
    public struct Echo: JobHandler {
        public static let kind = "echo"
        public func handle(_ payload: JSONValue, context: JobContext) async throws -> JSONValue { payload }
    }
}
