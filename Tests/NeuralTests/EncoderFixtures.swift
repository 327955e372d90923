import Foundation
import Testing
@testable import Neural

/// Reference outputs of sentence-transformers 6.2 (torch CPU) for all-MiniLM-L6-v2, and where the model lives.
struct EncoderReference: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int32]
        let embedding: [Float]
    }
    let tool: String
    let model: String
    let max_seq_length: Int
    let cases: [Case]

    /// Loads `Fixtures/encoder/reference.json` (produced once with the real tool; only the numbers are committed).
    static func load() throws -> EncoderReference {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/encoder/reference", withExtension: "json"))
        return try JSONDecoder().decode(EncoderReference.self, from: Data(contentsOf: url))
    }

    /// `$TWIN_MODELS_DIR/all-MiniLM-L6-v2`, or `<package root>/models/all-MiniLM-L6-v2` when the variable is unset.
    static var modelDirectory: String {
        let models = ProcessInfo.processInfo.environment["TWIN_MODELS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("models").path
        return models + "/all-MiniLM-L6-v2"
    }
}
