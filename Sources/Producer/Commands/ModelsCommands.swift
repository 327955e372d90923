import ArgumentParser
import Core
import Foundation

/// `twin models list|show|promote|rollback`: the model registry (candidate → staging → production).
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "The model registry: trained models, their lineage, metrics and stage.",
        subcommands: [List.self, Show.self, Promote.self, Rollback.self])

    static func registry(_ options: GlobalOptions) async throws -> ModelRegistry {
        let runtime = try await options.runtime()
        return ModelRegistry(postgres: runtime.postgres, namespace: runtime.configuration.queue.keyPrefix)
    }

    static func line(_ e: ModelRegistry.Entry) -> [String] {
        let loss = e.metrics["final_loss"].flatMap { if case .number(let n) = $0 { String(format: "%.4f", n) } else { nil } } ?? "-"
        return ["\(e.name):\(e.version)", e.stage, e.base_model, e.dataset, loss, e.created_at]
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Registered models, newest first.")
        @Option(help: "Only this model name.") var name: String?
        @Option(help: "Only this stage: candidate, staging, production, archived.") var stage: String?
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let list = try await ModelsCommand.registry(options).list(name: name, stage: stage, limit: limit)
                if options.json { printJSON(list); return }
                print(table(["MODEL", "STAGE", "BASE", "DATASET", "LOSS", "CREATED"], list.map(ModelsCommand.line)))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "A model's lineage, metrics, artifacts and stage history.")
        @Argument(help: "NAME, NAME:VERSION, NAME:STAGE or an id.") var model: String
        @OptionGroup var options: GlobalOptions

        struct View: Encodable {
            var model: ModelRegistry.Entry
            var history: [ModelRegistry.StageEvent]
        }

        func run() async throws {
            try await guarded {
                let registry = try await ModelsCommand.registry(options)
                let entry = try await registry.show(model)
                let history = try await registry.history(entry.id)
                if options.json { printJSON(View(model: entry, history: history)); return }
                print("\(entry.name):\(entry.version)  \(entry.stage)  (id \(entry.id))")
                print("base model:   \(entry.base_model)")
                print("dataset:      \(entry.dataset)")
                print("config hash:  \(entry.config_hash)")
                print("code version: \(entry.code_version)")
                if let job = entry.job_id { print("job:          \(job)") }
                print("metrics:      \(entry.metrics.jsonText)")
                print("artifacts:    \(entry.artifacts.jsonText)")
                for h in history { print("  \(h.at)  \(h.from) → \(h.to)  (\(h.reason))") }
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "promote", abstract: "Move a model one stage up (candidate → staging → production).")
        @Argument(help: "NAME:VERSION (or an id).") var model: String
        @Option(help: "The stage expected next (staging or production); refused if it would skip one.") var to: String?
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let entry = try await ModelsCommand.registry(options).promote(model, to: to)
                if options.json { printJSON(entry); return }
                print("\(entry.name):\(entry.version) is now \(entry.stage)")
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rollback", abstract: "Return production to the model the current production model replaced.")
        @Argument(help: "Model name.") var name: String
        @OptionGroup var options: GlobalOptions

        struct View: Encodable {
            var production: ModelRegistry.Entry
            var retired: ModelRegistry.Entry
        }

        func run() async throws {
            try await guarded {
                let (restored, retired) = try await ModelsCommand.registry(options).rollback(name)
                if options.json { printJSON(View(production: restored, retired: retired)); return }
                print("\(restored.name):\(restored.version) is production again; \(retired.name):\(retired.version) is archived")
            }
        }
    }
}
