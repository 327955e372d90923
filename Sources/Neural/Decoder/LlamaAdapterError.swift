/// An error loading or applying a PEFT LoRA adapter: what is wrong, naming the file or tensor.
public struct LlamaAdapterError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Code: String, Sendable, Equatable {
        case io, config, tensor, mismatch
    }

    private let code: Code
    /// A human-readable explanation naming the adapter file, tensor or config key involved.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "adapter: \(message)" }

    /// A short, bounded label for metrics and tests.
    public var shortDescription: String { code.rawValue }

    /// A file of the adapter directory is missing or unreadable.
    static func io(_ message: String) -> LlamaAdapterError { .init(.io, message) }
    /// `adapter_config.json` is not valid JSON, lacks a field, or asks for something unsupported.
    static func config(_ message: String) -> LlamaAdapterError { .init(.config, message) }
    /// A tensor of `adapter_model.safetensors` is missing, unexpected or of an unusable dtype.
    static func tensor(_ message: String) -> LlamaAdapterError { .init(.tensor, message) }
    /// The adapter does not fit the model (layer count, shapes).
    static func mismatch(_ message: String) -> LlamaAdapterError { .init(.mismatch, message) }
}
