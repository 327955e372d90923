import Foundation
import Testing
import Neural
@testable import Core

struct DecoderModelResolverTests {
    @Test func missingModelNamesPathAndOpsModels() {
        #expect {
            _ = try DecoderModelResolver.path(for: nil, modelsDirectory: "/nonexistent/models")
        } throws: { error in
            let text = "\(error)"
            return text.contains("/nonexistent/models/SmolLM2-135M-Instruct.Q4_1.gguf") && text.contains("ops/models")
        }
    }

    @Test func resolvesNamesInsideTheModelsDirectory() throws {
        let dir = NSTemporaryDirectory() + "twin-models-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/tiny.gguf"
        FileManager.default.createFile(atPath: file, contents: Data("GGUF".utf8))
        #expect(try DecoderModelResolver.path(for: "tiny", modelsDirectory: dir) == file)
        #expect(try DecoderModelResolver.path(for: "tiny.gguf", modelsDirectory: dir) == file)
        #expect(try DecoderModelResolver.path(for: file, modelsDirectory: "/elsewhere") == file)
        // A truncated file is a clear model error, not a crash.
        #expect {
            _ = try DecoderModelResolver.load(path: file)
        } throws: { error in
            "\(error)".contains("cannot load decoder model")
        }
    }

    @Test func parsesTheSchemaSubset() throws {
        let schema = try DecoderJSONSchema.parse("""
            {"type":"object","required":["b","a"],"properties":{"a":{"type":"integer"},"b":{"type":"string","maxLength":5},
             "c":{"type":"array","items":{"enum":["x",1,true]},"maxItems":2},"d":{"type":"boolean"},"e":{"type":"number"}}}
            """)
        #expect(schema == .object(properties: [
            ("b", .string(maxLength: 5)), ("a", .integer),
            ("c", .array(items: .enumeration(["\"x\"", "1", "true"]), maxItems: 2)), ("d", .boolean), ("e", .number),
        ], required: ["b", "a"]))
        for bad in ["{", "[]", "{\"type\":\"null\"}", "{\"type\":\"object\",\"required\":[\"z\"]}", "{\"type\":\"array\"}", "{\"enum\":[]}"] {
            #expect(throws: TwinError.self, "\(bad)") { try DecoderJSONSchema.parse(bad) }
        }
    }
}
