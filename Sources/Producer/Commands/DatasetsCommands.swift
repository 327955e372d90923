import ArgumentParser
import Core
import Foundation

/// `twin datasets import|list`: training datasets as versioned artifacts, from JSONL in the Hugging Face
/// column layout (`instruction`/`output` for SFT, `prompt`/`chosen`/`rejected` for DPO).
struct DatasetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets", abstract: "Register and list training datasets (versioned artifacts).",
        subcommands: [Import.self, List.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Register JSONL files as a split of a dataset artifact (identical content is not stored twice).")
        @Argument(help: "JSONL files, one JSON object per line.") var files: [String]
        @Option(help: "Dataset name.") var name: String
        @Option(help: "Split: train or test.") var split = "train"
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let runtime = try await options.runtime()
                let datasets = try TrainingDatasets(configuration: runtime.configuration, postgres: runtime.postgres)
                let report = try await datasets.importFiles(files, name: name, split: split)
                if options.json { printJSON(report); return }
                let rows = report.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("\(report.artifact) (\(report.format.rawValue); \(rows))" + (report.created ? "" : " — unchanged, already stored"))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Dataset versions, newest first.")
        @Option(help: "Only this dataset.") var name: String?
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let runtime = try await options.runtime()
                let list = try await TrainingDatasets(configuration: runtime.configuration, postgres: runtime.postgres)
                    .list(name: name, limit: limit)
                if options.json { printJSON(list); return }
                print(table(["DATASET", "FORMAT", "ROWS", "CREATED"], list.map { a in
                    let rows = (a.metadata["rows"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
                        .map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", ")
                    return ["\(a.name):\(a.version)", a.metadata["format"]?.stringValue ?? "?", rows, a.created_at]
                }))
            }
        }
    }
}
