import ArgumentParser
import Core

/// `twin`: the command users touch — submit and inspect jobs, run local model tools, benchmarks.
@main
struct Twin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twin",
        abstract: "Twin: an asynchronous job-queue platform for building an LLM twin.",
        subcommands: [
            VersionCommand.self,
            GenerateCommand.self,
            BenchCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")
    func run() { print(TwinVersion.current) }
}

/// `twin bench …` (on main this group also holds the queue, pipeline and extract benchmarks).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (results: docs/BENCHMARKS.md).",
        subcommands: [BenchGenerateCommand.self])
}
