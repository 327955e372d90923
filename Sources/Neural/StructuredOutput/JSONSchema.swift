/// The JSON Schema subset constrained decoding supports: objects (properties in order, required keys),
/// arrays, strings, numbers, integers, booleans and enums.
public indirect enum JSONSchema: Sendable, Equatable {
    /// An object; every listed property is generated, in order (so `required` always holds).
    case object(properties: [(name: String, schema: JSONSchema)], required: [String])
    /// An array of `items`, with at most `maxItems` elements.
    case array(items: JSONSchema, maxItems: Int)
    /// A string of at most `maxLength` characters (no escapes are generated).
    case string(maxLength: Int)
    /// A JSON number (optionally negative, up to 12 integer and 6 fraction digits).
    case number
    /// A JSON integer (up to 12 digits).
    case integer
    /// `true` or `false`.
    case boolean
    /// One of the given JSON texts (e.g. `"\"red\""`, `"3"`, `"true"`).
    case enumeration([String])

    public static func == (a: JSONSchema, b: JSONSchema) -> Bool {
        switch (a, b) {
        case let (.object(p1, r1), .object(p2, r2)):
            return r1 == r2 && p1.count == p2.count && zip(p1, p2).allSatisfy { $0.name == $1.name && $0.schema == $1.schema }
        case let (.array(i1, m1), .array(i2, m2)): return i1 == i2 && m1 == m2
        case let (.string(l1), .string(l2)): return l1 == l2
        case (.number, .number), (.integer, .integer), (.boolean, .boolean): return true
        case let (.enumeration(e1), .enumeration(e2)): return e1 == e2
        default: return false
        }
    }

    /// Default cap on generated string length, so a string always closes within the token budget.
    public static let defaultMaxLength = 200
    /// Default cap on array length.
    public static let defaultMaxItems = 8
}
