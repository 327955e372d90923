import Foundation
import Testing
@testable import Core

struct EncoderModelsTests {
    @Test func missingFolderNamesPathAndFetchCommand() {
        var configuration = TwinConfiguration()
        configuration.modelsDirectory = "/nonexistent/twin-models"
        do {
            _ = try EncoderModels.load(configuration: configuration)
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("/nonexistent/twin-models/all-MiniLM-L6-v2"))
            #expect(text.contains("ops/models"))
        }
    }

    @Test func incompleteFolderListsMissingFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("twin-models-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/all-MiniLM-L6-v2", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: root + "/all-MiniLM-L6-v2/config.json"))
        var configuration = TwinConfiguration()
        configuration.modelsDirectory = root
        do {
            _ = try EncoderModels.load(configuration: configuration)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("incomplete (missing model.safetensors, vocab.txt)"))
            #expect("\(error)".contains("ops/models"))
        }
    }

    @Test func corruptWeightsAreAModelErrorNotACrash() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("twin-models-\(UUID().uuidString)").path
        let folder = root + "/all-MiniLM-L6-v2"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        for file in ["config.json", "vocab.txt", "model.safetensors"] {
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: folder + "/" + file))
        }
        var configuration = TwinConfiguration()
        configuration.modelsDirectory = root
        #expect(throws: TwinError.self) { try EncoderModels.load(configuration: configuration) }
    }

    @Test func pathLikeModelNamesAreRejected() {
        #expect(throws: TwinError.self) { try EncoderModels.load(named: "../etc", configuration: TwinConfiguration()) }
    }
}
