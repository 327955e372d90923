import ArgumentParser
import Core
import Foundation

/// `twin`: the command users touch — submit and inspect jobs, run local model tools, benchmarks.
@main
struct Twin: AsyncParsableCommand {
    static func main() async {
        TwinRuntime.bootstrapLogging()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "twin",
        abstract: "Twin: an asynchronous job-queue platform for building an LLM twin.",
        subcommands: [
            SubmitCommand.self, StatusCommand.self, WaitCommand.self, CancelCommand.self, JobsCommand.self,
            QueuesCommand.self, DLQCommand.self, ScheduleCommand.self, PipelineCommand.self, ArtifactsCommand.self,
            MigrateCommand.self, BenchCommand.self,
            ExtractCommand.self,
            CrawlCommand.self, WarehouseCommand.self,
            VersionCommand.self,
            EmbedCommand.self,
            SimilarityCommand.self,
            GenerateCommand.self,
            DatasetsCommand.self, ModelsCommand.self,
        ]
    )
}

/// `twin bench …`: benchmarks whose figures go to docs/BENCHMARKS.md.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (results: docs/BENCHMARKS.md).",
        subcommands: [BenchQueueCommand.self, BenchPipelineCommand.self, BenchExtractCommand.self, BenchEmbedCommand.self,
                      BenchGenerateCommand.self, BenchTrainCommand.self])
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")
    func run() { print(TwinVersion.current) }
}

