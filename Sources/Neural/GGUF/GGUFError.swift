/// An error reading a GGUF model file: what is wrong and where.
public struct GGUFError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Sendable, Equatable {
        case io, truncated, badMagic, unsupportedVersion, corrupt, unsupportedType, missingKey, missingTensor
    }

    private let code: Code
    /// A human-readable explanation naming the file, key or tensor involved.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "GGUF: \(message)" }

    /// A short, bounded label for metrics and tests.
    public var shortDescription: String { "\(code)" }

    /// The file could not be opened or mapped.
    public static func io(_ message: String) -> GGUFError { .init(.io, message) }
    /// The file ends before a structure it announces.
    public static func truncated(_ message: String) -> GGUFError { .init(.truncated, message) }
    /// The file does not start with the bytes `GGUF`.
    public static func badMagic(_ message: String) -> GGUFError { .init(.badMagic, message) }
    /// A GGUF version other than 2 or 3.
    public static func unsupportedVersion(_ message: String) -> GGUFError { .init(.unsupportedVersion, message) }
    /// A structure whose fields contradict each other (sizes, offsets, value types).
    public static func corrupt(_ message: String) -> GGUFError { .init(.corrupt, message) }
    /// A tensor type (quantisation) or architecture this code does not implement.
    public static func unsupportedType(_ message: String) -> GGUFError { .init(.unsupportedType, message) }
    /// A metadata key the model needs is absent or has the wrong type.
    public static func missingKey(_ message: String) -> GGUFError { .init(.missingKey, message) }
    /// A tensor the model needs is absent or has the wrong shape.
    public static func missingTensor(_ message: String) -> GGUFError { .init(.missingTensor, message) }

    /// Whether two errors are of the same kind (ignores the message).
    public func isSameKind(as other: GGUFError) -> Bool { code == other.code }
}
