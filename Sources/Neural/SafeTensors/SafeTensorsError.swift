/// Why a safetensors file could not be read or written; `description` names the file and the tensor.
public struct SafeTensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in words a user can act on.
    public let message: String

    init(_ message: String) { self.message = message }

    public var description: String { message }
}
