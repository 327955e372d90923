/// The error type of Core: a struct over a private code, so cases can grow without breaking callers.
///
/// `description` is for people (it names the server, key or job involved; never a secret);
/// `shortDescription` is bounded and safe as a metric label.
public struct TwinError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: String, Sendable {
        case configuration, redis, postgres, invalidInput, notFound, timeout, cancelled, staleLease, model, io, http
    }

    private let code: Code
    /// What went wrong, in words a user can act on.
    public let message: String
    /// The SQLSTATE of a PostgreSQL error, when there is one.
    public let sqlState: String?

    private init(_ code: Code, _ message: String, sqlState: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { message }
    /// A bounded label for metrics and logs (no associated values).
    public var shortDescription: String { code.rawValue }

    /// A configuration value is missing or invalid; the message names the key.
    public static func configuration(_ message: String) -> TwinError { .init(.configuration, message) }
    /// Redis failed or answered an error; the message names the server.
    public static func redis(_ message: String) -> TwinError { .init(.redis, message) }
    /// PostgreSQL failed or answered an error.
    public static func postgres(_ message: String, sqlState: String? = nil) -> TwinError {
        .init(.postgres, message, sqlState: sqlState)
    }
    /// The caller's input is invalid (bad JSON, unknown kind, too large…).
    public static func invalidInput(_ message: String) -> TwinError { .init(.invalidInput, message) }
    /// A thing the caller named does not exist.
    public static func notFound(_ message: String) -> TwinError { .init(.notFound, message) }
    /// An operation ran past its deadline.
    public static func timeout(_ message: String) -> TwinError { .init(.timeout, message) }
    /// The operation was cancelled.
    public static func cancelled(_ message: String) -> TwinError { .init(.cancelled, message) }
    /// A worker acted on a job whose lease it no longer holds.
    public static func staleLease(_ message: String) -> TwinError { .init(.staleLease, message) }
    /// A model file is missing or invalid.
    public static func model(_ message: String) -> TwinError { .init(.model, message) }
    /// A file could not be read or written.
    public static func io(_ message: String) -> TwinError { .init(.io, message) }
    /// An HTTP transfer failed.
    public static func http(_ message: String) -> TwinError { .init(.http, message) }

    public var isNotFound: Bool { code == .notFound }
    public var isInvalidInput: Bool { code == .invalidInput }
    public var isTimeout: Bool { code == .timeout }
    public var isStaleLease: Bool { code == .staleLease }
    public var isConfiguration: Bool { code == .configuration }
}
