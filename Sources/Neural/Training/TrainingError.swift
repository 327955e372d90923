/// Why a training run, its data or its files were refused.
///
/// Neural imports nothing of ours, so training has its own error type; Core maps it onto `TwinError`.
public struct TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: Sendable, Equatable {
        case invalidInput, invalidConfiguration, diverged, format, io
    }

    private let code: Code
    /// A human-readable explanation that names the offending key, sample or step.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The data (a sample, a batch, a token id) is unusable.
    public static func invalidInput(_ message: String) -> TrainingError { .init(.invalidInput, message) }
    /// A hyper-parameter or model shape is out of range.
    public static func invalidConfiguration(_ message: String) -> TrainingError { .init(.invalidConfiguration, message) }
    /// The loss or the gradient became NaN or infinite at `step`.
    public static func diverged(step: Int, reason: String) -> TrainingError {
        .init(.diverged, "training diverged at step \(step): \(reason)")
    }
    /// A checkpoint or adapter file is malformed.
    public static func format(_ message: String) -> TrainingError { .init(.format, message) }
    /// Reading or writing a file failed.
    public static func io(_ message: String) -> TrainingError { .init(.io, message) }

    /// True when the run stopped because the loss diverged.
    public var isDivergence: Bool { code == .diverged }

    /// A bounded label for metrics.
    public var shortDescription: String {
        switch code {
        case .invalidInput: "invalid_input"
        case .invalidConfiguration: "invalid_configuration"
        case .diverged: "diverged"
        case .format: "format"
        case .io: "io"
        }
    }

    /// The label and the message.
    public var description: String { "\(shortDescription): \(message)" }
}
