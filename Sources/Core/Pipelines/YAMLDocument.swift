import Yams

/// A YAML document as JSON values, remembering the line of every key so errors can point at it.
struct YAMLDocument {
    let root: JSONValue
    let file: String
    private let lines: [String: Int]

    init(text: String, file: String) throws {
        self.file = file
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw TwinError.invalidInput("\(file): not valid YAML: \(error)")
        }
        var lines: [String: Int] = [:]
        root = try node.map { try Self.convert($0, path: "", lines: &lines, file: file) } ?? .null
        self.lines = lines
    }

    private static func convert(_ node: Node, path: String, lines: inout [String: Int], file: String) throws -> JSONValue {
        if let line = node.mark?.line { lines[path] = line }
        switch node {
        case .scalar(let s):
            if s.style != .plain { return .string(s.string) }
            let text = s.string
            if text == "~" || text == "null" || text.isEmpty { return text.isEmpty && s.style != .plain ? .string("") : .null }
            if text == "true" || text == "yes" { return .bool(true) }
            if text == "false" || text == "no" { return .bool(false) }
            if let i = Int(text) { return .number(Double(i)) }
            if let d = Double(text), text.contains(".") || text.contains("e") { return .number(d) }
            return .string(text)
        case .mapping(let m):
            var object: [String: JSONValue] = [:]
            for (k, v) in m {
                guard let key = k.scalar?.string else { throw TwinError.invalidInput("\(file):\(k.mark?.line ?? 0): keys must be plain strings") }
                let p = path.isEmpty ? key : "\(path).\(key)"
                if let line = k.mark?.line { lines[p] = line }
                object[key] = try convert(v, path: p, lines: &lines, file: file)
            }
            return .object(object)
        case .sequence(let seq):
            return .array(try seq.enumerated().map { i, v in try convert(v, path: "\(path)[\(i)]", lines: &lines, file: file) })
        }
    }

    /// `file:line: key: message` for the key at `path` (or its nearest parent with a known line).
    func error(_ path: String, _ message: String) -> TwinError {
        var p = path
        var line = lines[p]
        while line == nil, let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) {
            p = String(p[..<cut]); line = lines[p]
        }
        return TwinError.invalidInput("\(file):\(line.map(String.init) ?? "?"): \(path): \(message)")
    }
}

/// YAML → JSON values for callers outside Core's pipelines (run configuration files).
public enum YAMLDocumentPublic {
    public static func parse(_ text: String, file: String) throws -> JSONValue {
        try YAMLDocument(text: text, file: file).root
    }
}
