import Foundation
import Testing

/// `twin generate` errors as users meet them: invalid input exits 2 with a message that names the cause.
struct GenerateCLITests {
    static func generate(_ arguments: [String]) async throws -> CLIRun {
        try await CLIProcess.runDetached(try CLIProcess.binary("twin"), ["generate", "--prompt", "Hi", "--max-tokens", "2"] + arguments)
    }

    @Test func aMissingAdapterDirectoryIsInvalidInput() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("twin-no-adapter-\(UUID().uuidString)").path
        let run = try await Self.generate(["--adapter", missing])
        #expect(run.status == 2, "\(run.errors)")
        #expect(run.errors.contains("--adapter"), "\(run.errors)")
        #expect(run.errors.contains("adapter_config.json"), "\(run.errors)")
    }

    @Test func anAdapterConfigThatIsNotJSONIsInvalidInput() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-bad-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("adapter_config.json"))
        try Data().write(to: dir.appendingPathComponent("adapter_model.safetensors"))
        let run = try await Self.generate(["--adapter", dir.path])
        #expect(run.status == 2, "\(run.errors)")
        #expect(run.errors.contains("adapter_config.json"), "\(run.errors)")
    }

    @Test func invalidSamplingParametersAreInvalidInput() async throws {
        let run = try await Self.generate(["--top-p", "1.5"])
        #expect(run.status == 2, "\(run.errors)")
    }
}
