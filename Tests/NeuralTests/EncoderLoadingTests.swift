import Foundation
import Testing
@testable import Neural

/// Bad model folders give errors that name the file; they never crash.
struct EncoderLoadingTests {
    /// A scratch copy of the model folder's small files; `model.safetensors` is written by each test.
    private func scratchModel(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("twin-enc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/1_Pooling", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = EncoderReference.modelDirectory
        for file in ["config.json", "vocab.txt", "modules.json", "sentence_bert_config.json", "tokenizer_config.json", "1_Pooling/config.json"] {
            try FileManager.default.copyItem(atPath: source + "/" + file, toPath: directory + "/" + file)
        }
        try body(directory)
    }

    private func expectLoadError(_ directory: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try SentenceEncoder(directory: directory)
            Issue.record("expected an error containing '\(text)'", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func missingFolderOrWeightsNamesTheFile() throws {
        expectLoadError("/nonexistent/all-MiniLM-L6-v2", containing: "missing config.json")
        try scratchModel { expectLoadError($0, containing: "missing model.safetensors") }
    }

    @Test func truncatedWeightsAreAnError() throws {
        try scratchModel { directory in
            let handle = try #require(FileHandle(forReadingAtPath: EncoderReference.modelDirectory + "/model.safetensors"))
            let head = try handle.read(upToCount: 1 << 20) ?? Data()
            try handle.close()
            try head.write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
            expectLoadError(directory, containing: "truncated")
        }
    }

    @Test func wrongShapeOrDTypeIsAnError() throws {
        try scratchModel { directory in
            try SafeTensorsWriter.write([(name: "embeddings.word_embeddings.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])],
                                        to: directory + "/model.safetensors")
            expectLoadError(directory, containing: "expected [30522, 384]")
            try SafeTensorsWriter.write([(name: "other", shape: [1], values: [1])], to: directory + "/model.safetensors")
            expectLoadError(directory, containing: "no tensor named 'embeddings.word_embeddings.weight'")
            // An integer tensor where floats are expected: the header is valid, the dtype is not usable.
            let header = Array(#"{"embeddings.word_embeddings.weight":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#.utf8)
            var bytes: [UInt8] = []
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
            try Data(bytes + header + [UInt8](repeating: 0, count: 16)).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
            expectLoadError(directory, containing: "dtype I64")
        }
    }

    @Test func corruptConfigIsAnError() throws {
        try scratchModel { directory in
            try SafeTensorsWriter.write([(name: "x", shape: [1], values: [1])], to: directory + "/model.safetensors")
            try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
            expectLoadError(directory, containing: "config.json")
        }
    }
}
