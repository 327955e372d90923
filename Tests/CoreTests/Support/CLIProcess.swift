import Dispatch
import Foundation
import Testing

/// What one run of a built executable (`twin`, `twin-worker`) printed and how it exited.
struct CLIRun {
    var status: Int32
    var output: String
    var errors: String
}

/// Runs the project's built executables the way a user's shell does; one helper for every CLI test.
enum CLIProcess {
    /// The executable `name` in `folder` (default: beside the test bundle); the test fails clearly when it
    /// was not built.
    static func binary(_ name: String, in folder: URL? = nil) throws -> URL {
        let dir = folder ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let url = dir.appendingPathComponent(name)
        try #require(FileManager.default.isExecutableFile(atPath: url.path), "build the \(name) product first")
        return url
    }

    /// Runs `binary` to its end. Blocking — tests call `runDetached`, since a blocked cooperative-pool
    /// thread (two on this machine) starves every other test running meanwhile. Stderr is drained on another thread so that neither pipe can
    /// fill up and stall the child while the other is being read.
    static func run(_ binary: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> CLIRun {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let drained = DispatchGroup()
        let err = Drained()
        DispatchQueue.global().async(group: drained) { err.data = errors.fileHandleForReading.readDataToEndOfFile() }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return CLIRun(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                      errors: String(decoding: err.data, as: UTF8.self))
    }

    /// One stream's bytes. @unchecked Sendable: written once by the drain thread, read only after the
    /// dispatch group's wait() has ordered that write before the read.
    private final class Drained: @unchecked Sendable {
        var data = Data()
    }

    /// `run` off the cooperative pool.
    static func runDetached(_ binary: URL, _ arguments: [String], environment: [String: String]? = nil) async throws -> CLIRun {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(binary, arguments, environment: environment) })
            }
        }
    }
}
