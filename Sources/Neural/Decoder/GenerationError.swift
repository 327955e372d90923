/// A request the decoder cannot serve: bad sampling parameters, a prompt too long for the context,
/// an invalid JSON schema or an unsupported chat template.
public struct GenerationError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Sendable, Equatable { case invalidParameter, promptTooLong, invalidSchema, unsupportedTemplate }

    private let code: Code
    /// What is wrong, naming the parameter and its allowed range.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
    /// A short, bounded label for metrics and tests.
    public var shortDescription: String { "\(code)" }

    /// A sampling or generation parameter outside its range.
    public static func invalidParameter(_ m: String) -> GenerationError { .init(.invalidParameter, m) }
    /// The prompt (plus at least one new token) does not fit the context.
    public static func promptTooLong(_ m: String) -> GenerationError { .init(.promptTooLong, m) }
    /// A JSON schema outside the supported subset.
    public static func invalidSchema(_ m: String) -> GenerationError { .init(.invalidSchema, m) }
    /// A chat template this code cannot render.
    public static func unsupportedTemplate(_ m: String) -> GenerationError { .init(.unsupportedTemplate, m) }

    /// Whether two errors are of the same kind.
    public func isSameKind(as other: GenerationError) -> Bool { code == other.code }
}
