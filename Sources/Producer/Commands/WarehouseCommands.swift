import ArgumentParser
import Core
import Foundation

/// `twin warehouse export|import|stats`: the warehouse as the reference's JSON backup files.
struct WarehouseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warehouse", abstract: "Export, import and count the data warehouse (reference JSON format).",
        subcommands: [Export.self, Import.self, Stats.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write UserDocument.json, ArticleDocument.json, PostDocument.json and RepositoryDocument.json into a folder.")
        @Option(help: "Output folder (created if missing).") var dir: String
        @Option(name: .customLong("author"), help: "Only this author's data (\"First Last\"). Repeatable.") var authors: [String] = []
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let store = WarehouseStore(postgres: try await options.runtime().postgres)
                var ids: [UUID]?
                if !authors.isEmpty {
                    ids = []
                    for name in authors {
                        guard let found = try await store.authors().first(where: { $0.fullName == name }) else {
                            throw TwinError.notFound("no author named \"\(name)\" in the warehouse")
                        }
                        ids?.append(found.id)
                    }
                }
                let report = try await store.export(to: dir, authorIDs: ids)
                if options.json { printJSON(report); return }
                for (file, _) in WarehouseExport.files { print("\(file): \(report.files[file] ?? 0)") }
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import", abstract: "Upsert a folder of reference JSON files (re-importing changes nothing).")
        @Option(help: "Folder holding the *Document.json files.") var dir: String
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let report = try await WarehouseStore(postgres: try await options.runtime().postgres).importExport(from: dir)
                if options.json { printJSON(report); return }
                for (file, _) in WarehouseExport.files {
                    guard let n = report.files[file] else { continue }
                    let statuses = (report.statuses[file] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    print("\(file): \(n)" + (statuses.isEmpty ? "" : " (\(statuses.joined(separator: ", ")))"))
                }
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats", abstract: "Authors and documents per kind.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let store = WarehouseStore(postgres: try await options.runtime().postgres)
                let counts = try await store.counts()
                let authors = try await store.authors().count
                let summary: [String: Int] = [
                    "authors": authors, "articles": counts[.article] ?? 0, "posts": counts[.post] ?? 0,
                    "repositories": counts[.repository] ?? 0,
                ]
                if options.json { printJSON(summary); return }
                for key in ["authors", "articles", "posts", "repositories"] { print("\(key): \(summary[key]!)") }
            }
        }
    }
}
