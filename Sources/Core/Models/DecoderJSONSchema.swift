import Foundation
import Neural

/// Reads a JSON Schema document into the subset constrained decoding supports (`Neural.JSONSchema`).
public enum DecoderJSONSchema {
    /// Parses schema JSON text; throws `TwinError.invalidInput` naming the unsupported or malformed part.
    public static func parse(_ text: String) throws -> JSONSchema {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            throw TwinError.invalidInput("JSON schema: not valid JSON (\(error.localizedDescription))")
        }
        return try convert(object, path: "$")
    }

    private static func convert(_ value: Any, path: String) throws -> JSONSchema {
        guard let dict = value as? [String: Any] else { throw TwinError.invalidInput("JSON schema at \(path): expected an object") }
        if let values = dict["enum"] as? [Any] {
            guard !values.isEmpty else { throw TwinError.invalidInput("JSON schema at \(path): enum is empty") }
            let texts = try values.map { v -> String in
                let data = try JSONSerialization.data(withJSONObject: [v], options: [.fragmentsAllowed])
                let array = String(decoding: data, as: UTF8.self)
                return String(array.dropFirst().dropLast())
            }
            return .enumeration(texts)
        }
        guard let type = dict["type"] as? String else {
            throw TwinError.invalidInput("JSON schema at \(path): missing \"type\" (or \"enum\")")
        }
        switch type {
        case "object":
            let props = dict["properties"] as? [String: Any] ?? [:]
            // JSON objects are unordered; keep the order of "required" first, then the rest by name.
            let required = dict["required"] as? [String] ?? []
            for r in required where props[r] == nil {
                throw TwinError.invalidInput("JSON schema at \(path): required key \"\(r)\" has no property")
            }
            let order = required + props.keys.filter { !required.contains($0) }.sorted()
            return .object(properties: try order.map { ($0, try convert(props[$0]!, path: "\(path).\($0)")) }, required: required)
        case "array":
            guard let items = dict["items"] else { throw TwinError.invalidInput("JSON schema at \(path): array without \"items\"") }
            let max = dict["maxItems"] as? Int ?? JSONSchema.defaultMaxItems
            return .array(items: try convert(items, path: "\(path)[]"), maxItems: max)
        case "string": return .string(maxLength: dict["maxLength"] as? Int ?? JSONSchema.defaultMaxLength)
        case "number": return .number
        case "integer": return .integer
        case "boolean": return .boolean
        default: throw TwinError.invalidInput("JSON schema at \(path): type \"\(type)\" is not supported")
        }
    }
}
