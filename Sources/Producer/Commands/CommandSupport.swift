import ArgumentParser
import Core
import Foundation

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Flag(help: "Print machine-readable JSON on stdout.")
    var json = false

    @Option(help: "Configuration file (default: TWIN_CONFIG or ./twin.yaml).")
    var config: String?

    /// Loads configuration and clients; migrations are applied so a fresh database just works.
    func runtime(migrate: Bool = true) async throws -> TwinRuntime {
        let runtime = try TwinRuntime(configFile: config, label: "twin", redisConnections: 1, postgresConnections: 1)
        if migrate { try await runtime.prepare() }
        return runtime
    }
}

/// Prints a value as compact JSON with sorted keys.
func printJSON<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self))
}

/// Runs a command body, turning Twin errors into a message on stderr and a non-zero exit:
/// 2 for invalid input, 3 for not found, 4 for a timeout, 1 for anything else.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as TwinError {
        FileHandle.standardError.write(Data("twin: error: \(error.description)\n".utf8))
        if error.isInvalidInput || error.isConfiguration { throw ExitCode(2) }
        if error.isNotFound { throw ExitCode(3) }
        if error.isTimeout { throw ExitCode(4) }
        throw ExitCode(1)
    }
}

/// Seconds given on the command line as a Duration.
func seconds(_ value: Double?, name: String) throws -> Duration? {
    guard let value else { return nil }
    guard value.isFinite, value >= 0 else { throw TwinError.invalidInput("\(name) must be a non-negative number of seconds") }
    return .milliseconds(Int((value * 1000).rounded()))
}

/// A fixed-width text table.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}
