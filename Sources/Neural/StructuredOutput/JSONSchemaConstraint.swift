/// A `TokenConstraint` that only lets through tokens keeping the output a prefix of compact JSON valid
/// against a `JSONSchema`; generation stops when the root value is complete, so the text always parses.
public struct JSONSchemaConstraint: TokenConstraint {
    private enum Frame {
        case value(JSONSchema)  // a value not started yet
        case literal([UInt8], Int)  // must emit these bytes; index of the next one
        case object([(name: String, schema: JSONSchema)], Int)  // next property index (after `{` was emitted)
        case array(JSONSchema, max: Int, count: Int, open: Bool)  // `open`: just after `[` or `,`
        case string(length: Int, max: Int)  // inside the quotes
        case number(NumberState, integer: Bool, digits: Int)
        case choice([[UInt8]], Int)  // remaining alternatives, bytes matched so far
    }

    private enum NumberState { case start, minus, zero, int, dot, frac }

    private var stack: [Frame]
    private let tokenBytes: [[UInt8]]

    /// A constraint for `schema` over `tokenizer`'s vocabulary; the root must be an object or an array.
    public init(schema: JSONSchema, tokenizer: BPETokenizer) throws(GenerationError) {
        switch schema {
        case .object, .array: break
        default: throw .invalidSchema("the root of a JSON schema for generation must be an object or an array")
        }
        try Self.check(schema)
        stack = [.value(schema)]
        tokenBytes = (0..<tokenizer.vocabularySize).map { tokenizer.isControl($0) ? [] : tokenizer.bytes(of: $0) }
    }

    private static func check(_ s: JSONSchema) throws(GenerationError) {
        switch s {
        case let .object(props, required):
            let names = Set(props.map(\.name))
            guard names.count == props.count else { throw .invalidSchema("duplicate property names in an object schema") }
            if let missing = required.first(where: { !names.contains($0) }) {
                throw .invalidSchema("required key \"\(missing)\" is not among the properties")
            }
            for p in props {
                guard !p.name.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
                    throw .invalidSchema("property name \(p.name.debugDescription) needs escaping, which is not supported")
                }
                try check(p.schema)
            }
        case let .array(items, maxItems):
            guard maxItems >= 0 else { throw .invalidSchema("maxItems must be ≥ 0") }
            try check(items)
        case let .string(maxLength):
            guard maxLength >= 0 else { throw .invalidSchema("maxLength must be ≥ 0") }
        case let .enumeration(values):
            guard !values.isEmpty else { throw .invalidSchema("an enum needs at least one value") }
        case .number, .integer, .boolean: break
        }
    }

    public var isComplete: Bool { stack.isEmpty }

    public func allows(_ token: Int) -> Bool {
        let bytes = tokenBytes[token]
        guard !bytes.isEmpty, !stack.isEmpty else { return false }
        var copy = stack
        for b in bytes where !Self.feed(b, &copy) { return false }
        return true
    }

    public mutating func accept(_ token: Int) {
        for b in tokenBytes[token] { _ = Self.feed(b, &stack) }
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// Advances the machine by one byte; false when the byte is not allowed here.
    private static func feed(_ b: UInt8, _ stack: inout [Frame]) -> Bool {
        guard let top = stack.popLast() else { return false }  // nothing may follow the root value
        switch top {
        case .value(let schema):
            switch schema {
            case .object(let props, _):
                guard b == UInt8(ascii: "{") else { return false }
                stack.append(.object(props, 0))
                return true
            case .array(let items, let max):
                guard b == UInt8(ascii: "[") else { return false }
                stack.append(.array(items, max: max, count: 0, open: true))
                return true
            case .string(let max):
                guard b == UInt8(ascii: "\"") else { return false }
                stack.append(.string(length: 0, max: max))
                return true
            case .number, .integer:
                stack.append(.number(.start, integer: schema == .integer, digits: 0))
                return feed(b, &stack)
            case .boolean:
                stack.append(.choice([Array("true".utf8), Array("false".utf8)], 0))
                return feed(b, &stack)
            case .enumeration(let values):
                stack.append(.choice(values.map { Array($0.utf8) }, 0))
                return feed(b, &stack)
            }
        case .literal(let bytes, let i):
            guard bytes[i] == b else { return false }
            if i + 1 < bytes.count { stack.append(.literal(bytes, i + 1)) }
            return true
        case .object(let props, let index):
            if index == props.count {
                return b == UInt8(ascii: "}")
            }
            // Before property `index`: a comma (except first), then "name": and the value.
            let prefix = (index == 0 ? "" : ",") + "\"\(props[index].name)\":"
            stack.append(.object(props, index + 1))
            stack.append(.value(props[index].schema))
            stack.append(.literal(Array(prefix.utf8), 0))
            return feed(b, &stack)
        case .array(let items, let max, let count, let open):
            if open {
                if count == 0 && b == UInt8(ascii: "]") { return true }
                guard count < max else { return false }
                stack.append(.array(items, max: max, count: count + 1, open: false))
                stack.append(.value(items))
                return feed(b, &stack)
            }
            if b == UInt8(ascii: "]") { return true }
            guard b == UInt8(ascii: ","), count < max else { return false }
            stack.append(.array(items, max: max, count: count, open: true))
            return true
        case .string(let length, let max):
            if b == UInt8(ascii: "\"") { return true }
            // No escapes and no control characters; UTF-8 continuation bytes do not count as characters.
            guard b >= 0x20, b != UInt8(ascii: "\\"), length < max else { return false }
            stack.append(.string(length: b & 0xC0 == 0x80 ? length : length + 1, max: max))
            return true
        case .number(let state, let integer, let digits):
            let maxDigits = 12
            switch state {
            case .start:
                if b == UInt8(ascii: "-") { stack.append(.number(.minus, integer: integer, digits: 0)); return true }
                fallthrough
            case .minus:
                if b == UInt8(ascii: "0") { stack.append(.number(.zero, integer: integer, digits: 1)); return true }
                if isDigit(b) { stack.append(.number(.int, integer: integer, digits: 1)); return true }
                return false
            case .zero, .int:
                if state == .int && isDigit(b) {
                    guard digits < maxDigits else { return false }
                    stack.append(.number(.int, integer: integer, digits: digits + 1))
                    return true
                }
                if b == UInt8(ascii: "."), !integer {
                    stack.append(.number(.dot, integer: integer, digits: 0))
                    return true
                }
                return feed(b, &stack)  // the number ended; the byte belongs to the parent
            case .dot:
                guard isDigit(b) else { return false }
                stack.append(.number(.frac, integer: integer, digits: 1))
                return true
            case .frac:
                if isDigit(b) {
                    guard digits < 6 else { return false }
                    stack.append(.number(.frac, integer: integer, digits: digits + 1))
                    return true
                }
                return feed(b, &stack)
            }
        case .choice(let options, let matched):
            // A complete alternative that is not a prefix of a longer one ends here; pass the byte up.
            let next = options.filter { $0.count > matched && $0[matched] == b }
            if next.isEmpty {
                guard options.contains(where: { $0.count == matched }) else { return false }
                return feed(b, &stack)
            }
            let complete = next.count == 1 && next[0].count == matched + 1
            if !complete { stack.append(.choice(next, matched + 1)) }
            return true
        }
    }
}
