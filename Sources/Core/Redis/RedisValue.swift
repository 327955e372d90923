/// A decoded Redis reply, copied out of hiredis' memory (no pointers survive the call).
public enum RedisValue: Sendable, Equatable, CustomStringConvertible {
    case string([UInt8])
    case status(String)
    case integer(Int)
    case array([RedisValue])
    case null
    case error(String)

    /// The reply as text, for bulk strings, status replies and integers.
    public var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let s): s
        case .integer(let i): String(i)
        default: nil
        }
    }

    /// The reply as an integer, for integer replies and numeric strings.
    public var int: Int? {
        switch self {
        case .integer(let i): i
        case .string, .status: text.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply (empty for null).
    public var array: [RedisValue] {
        if case .array(let a) = self { return a }
        return []
    }

    public var isNull: Bool { if case .null = self { true } else { false } }

    public var description: String {
        switch self {
        case .string: "\"\(text ?? "")\""
        case .status(let s): s
        case .integer(let i): "(integer) \(i)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .null: "(nil)"
        case .error(let e): "(error) \(e)"
        }
    }
}
