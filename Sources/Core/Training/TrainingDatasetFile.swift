import Foundation

/// The two dataset layouts, in the Hugging Face column names the reference pushes to the Hub.
public enum TrainingDatasetFormat: String, Sendable, Codable {
    /// `instruction` / `output` (Alpaca's optional `input` is kept).
    case sft
    /// `prompt` / `chosen` / `rejected`.
    case dpo

    /// The columns every row must have, non-empty.
    public var requiredColumns: [String] {
        switch self {
        case .sft: ["instruction", "output"]
        case .dpo: ["prompt", "chosen", "rejected"]
        }
    }

    /// Columns kept besides the required ones.
    var optionalColumns: [String] { self == .sft ? ["input"] : [] }
}

/// Reads JSONL dataset files: one JSON object per line, blank lines skipped. Every problem names the
/// file and the 1-based line, and nothing is imported when any line is bad.
public enum TrainingDatasetFile {
    /// The rows of one file and the layout they use.
    public struct Parsed: Sendable, Equatable {
        /// The layout, from the first row's columns.
        public var format: TrainingDatasetFormat
        /// The rows, reduced to the layout's columns.
        public var rows: [[String: String]]
    }

    /// Parses JSONL text; `file` only labels errors. `expected` forces a layout (for a second file).
    public static func parse(_ text: String, file: String, expected: TrainingDatasetFormat? = nil) throws -> Parsed {
        var format = expected
        var rows: [[String: String]] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let place = "\(file):\(lineNumber)"
            let value: JSONValue
            do { value = try JSONValue.parse(trimmed) } catch {
                throw TwinError.invalidInput("\(place): invalid JSON: \(Self.reason(error))")
            }
            guard let object = value.objectValue else {
                throw TwinError.invalidInput("\(place): expected a JSON object per line, got \(Self.kind(value))")
            }
            let layout: TrainingDatasetFormat
            if let format { layout = format } else {
                layout = object["prompt"] != nil || object["chosen"] != nil || object["rejected"] != nil ? .dpo : .sft
                format = layout
            }
            var row: [String: String] = [:]
            for column in layout.requiredColumns {
                guard let cell = object[column] else {
                    throw TwinError.invalidInput("\(place): missing column \"\(column)\" (\(layout.rawValue) rows need \(layout.requiredColumns.joined(separator: ", ")))")
                }
                guard let s = cell.stringValue else {
                    throw TwinError.invalidInput("\(place): column \"\(column)\" must be a string, got \(Self.kind(cell))")
                }
                guard !s.allSatisfy(\.isWhitespace) else {
                    throw TwinError.invalidInput("\(place): column \"\(column)\" is empty")
                }
                row[column] = s
            }
            for column in layout.optionalColumns {
                guard let cell = object[column], cell != .null else { continue }
                guard let s = cell.stringValue else {
                    throw TwinError.invalidInput("\(place): column \"\(column)\" must be a string, got \(Self.kind(cell))")
                }
                if !s.isEmpty { row[column] = s }
            }
            rows.append(row)
        }
        guard let format, !rows.isEmpty else { throw TwinError.invalidInput("\(file): no rows (expected one JSON object per line)") }
        return Parsed(format: format, rows: rows)
    }

    /// Reads and parses a file from disk.
    public static func read(path: String, expected: TrainingDatasetFormat? = nil) throws -> Parsed {
        guard let data = FileManager.default.contents(atPath: path) else { throw TwinError.notFound("dataset file \(path) not found") }
        guard let text = String(data: data, encoding: .utf8) else { throw TwinError.invalidInput("\(path): not UTF-8 text") }
        return try parse(text, file: path, expected: expected)
    }

    private static func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let e = error as? TwinError { return e.message }
        return "\(error)"
    }
}
