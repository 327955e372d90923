import ArgumentParser
import Core
import Foundation

/// Options of `twin pipeline run`, whose `--config` is the run's parameter file (as in the reference),
/// not twin.yaml (use TWIN_CONFIG for that).
struct PipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline", abstract: "Run and inspect pipelines (definitions in configs/pipelines/).",
        subcommands: [Run.self, Runs.self, Show.self, Cancel.self, Retry.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", abstract: "Start a pipeline run.")
        @Argument(help: "Pipeline name (configs/pipelines/NAME.yaml) or a definition file.") var name: String
        @Option(help: "Run configuration: a YAML file with `parameters:` (or a flat mapping of parameter values).") var config: String?
        @Option(name: .customLong("set"), help: "Override a parameter: key=value (JSON values allowed). Repeatable.") var sets: [String] = []
        @Flag(name: .customLong("no-cache"), help: "Run every step even if an identical earlier step succeeded.") var noCache = false
        @Flag(help: "Follow the run with a live progress view until it ends.") var wait = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await guarded {
                let runtime = try TwinRuntime(label: "twin", redisConnections: 1, postgresConnections: 1)
                try await runtime.prepare()
                let path = PipelineService.definitionPath(name, directory: runtime.configuration.pipelinesDirectory)
                let def = try PipelineDefinition.load(file: path, registry: runtime.registry)
                var overrides: [String: JSONValue] = [:]
                if let config { overrides = try Self.loadRunConfig(config) }
                for s in sets { let (k, v) = try def.parseOverride(s); overrides[k] = v }
                let service = PipelineService(queue: runtime.queue)
                var view = try await service.start(def, overrides: overrides, noCache: noCache)
                if wait { view = try await follow(service, view, json: json) }
                if json { printJSON(view) } else if !wait { print("\(view.name) (\(view.id)) started") }
                if wait && view.state != "succeeded" { throw ExitCode(1) }
            }
        }

        static func loadRunConfig(_ file: String) throws -> [String: JSONValue] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw TwinError.notFound("run configuration \(file) not found") }
            let doc = try YAMLDocumentPublic.parse(text, file: file)
            guard case .object(var map) = doc else { throw TwinError.invalidInput("\(file): expected a mapping of parameters") }
            if case .object(let p)? = map["parameters"] { map = p }
            return map
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "runs", abstract: "Recent runs.")
        @Option(help: "At most this many.") var limit: Int = 20
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let runs = try await PipelineService(queue: options.runtime().queue).runs(limit: limit)
                if options.json { printJSON(runs); return }
                print(table(["RUN", "STATE", "STEPS", "CREATED", "ID"], runs.map { r in
                    [r.name, r.state, "\(r.steps.filter { $0.state == "succeeded" }.count)/\(r.steps.count)", r.created_at, r.id]
                }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "A run and its steps.")
        @Argument(help: "Run id or name.") var run: String
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let view = try await PipelineService(queue: options.runtime().queue).show(run)
                if options.json { printJSON(view) } else { printRun(view) }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running run (its queued and running steps too).")
        @Argument(help: "Run id or name.") var run: String
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let view = try await PipelineService(queue: options.runtime().queue).cancel(run)
                if options.json { printJSON(view) } else { printRun(view) }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retry", abstract: "Re-run a failed or cancelled run from its failed steps.")
        @Argument(help: "Run id or name.") var run: String
        @Flag(help: "Follow the run until it ends.") var wait = false
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let service = PipelineService(queue: try await options.runtime().queue)
                var view = try await service.retry(run)
                if wait { view = try await follow(service, view, json: options.json) }
                if options.json { printJSON(view) } else { printRun(view) }
            }
        }
    }
}

/// Polls the run and redraws one line per step (on a terminal) until the run ends.
func follow(_ service: PipelineService, _ start: PipelineService.RunView, json: Bool) async throws -> PipelineService.RunView {
    let tty = isatty(STDOUT_FILENO) == 1 && !json
    let began = ContinuousClock.now
    var view = start
    var lastText = ""
    var lastKey = ""
    while true {
        view = try await service.show(start.id)
        if !json {
            let done = view.steps.filter { $0.state == "succeeded" }.count
            var lines = ["\(view.name): \(view.state) — \(done)/\(view.steps.count) steps, \(String(format: "%.1f", (ContinuousClock.now - began).seconds)) s"]
            for s in view.steps {
                var line = "  \(s.state.padding(toLength: 9, withPad: " ", startingAt: 0)) \(s.step)"
                if s.fan_out_total > 0 {
                    let finished = s.fan_out_succeeded + s.fan_out_failed
                    line += "  [\(finished)/\(s.fan_out_total)\(s.fan_out_failed > 0 ? ", \(s.fan_out_failed) failed" : "")]"
                    if let started = s.started_at.flatMap(parseISO), finished > 0, finished < s.fan_out_total {
                        let rate = Double(finished) / max(0.001, Date().timeIntervalSince(started))
                        line += String(format: " ETA %.0f s", Double(s.fan_out_total - finished) / rate)
                    }
                }
                if s.cached { line += "  (cached)" }
                if let a = s.artifact { line += "  → \(a)" }
                lines.append(line)
            }
            let text = lines.joined(separator: "\n")
            // Off a terminal, print a new snapshot only when a step changed (not for the clock or ETA).
            let key = view.state + view.steps.map { "\($0.step)\($0.state)\($0.fan_out_succeeded)/\($0.fan_out_failed)" }.joined()
            if tty ? text != lastText : key != lastKey {
                lastKey = key
                if tty, !lastText.isEmpty { print("\u{1b}[\(lastText.split(separator: "\n").count)A\u{1b}[J", terminator: "") }
                print(text)
                fflush(nil)   // all streams: stdout is not reachable from Swift 6 concurrency-checked code
                lastText = text
            }
        }
        if view.state != "running" { return view }
        try await Task.sleep(for: .milliseconds(200))
    }
}

func parseISO(_ s: String) -> Date? {
    try? Date(s, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true))
}

func printRun(_ r: PipelineService.RunView) {
    print("run:       \(r.name) (\(r.id))")
    print("pipeline:  \(r.pipeline)   state: \(r.state)   code: \(r.code_version)   by: \(r.triggered_by) via \(r.trigger)")
    print("params:    \(r.params.jsonText)")
    if let e = r.error { print("error:     \(e)") }
    print(table(["STEP", "KIND", "STATE", "FAN-OUT", "CACHED", "ARTIFACT", "ERROR"], r.steps.map { s in
        [s.step, s.kind, s.state, s.fan_out_total > 0 ? "\(s.fan_out_succeeded)+\(s.fan_out_failed)/\(s.fan_out_total)" : "-",
         s.cached ? "yes" : "", s.artifact ?? "", String((s.error ?? "").prefix(60))]
    }))
}

struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "artifacts", abstract: "Versioned step outputs.",
                                                    subcommands: [List.self, Show.self, Export.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Artifact versions, newest first.")
        @Argument(help: "Only versions of this name.") var name: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let list = try await PipelineService(queue: options.runtime().queue).artifacts(name: name, limit: limit)
                if options.json { printJSON(list); return }
                print(table(["ARTIFACT", "TYPE", "SIZE", "COUNT", "STEP", "CREATED"], list.map { a in
                    ["\(a.name):\(a.version)", a.type, "\(a.size_bytes)", a.metadata["count"]?.jsonText ?? "", a.step ?? "", a.created_at]
                }))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "An artifact's metadata, lineage and content.")
        @Argument(help: "NAME[:VERSION|latest]") var reference: String
        @OptionGroup var options: GlobalOptions
        struct Out: Encodable { let artifact: ArtifactStore.Artifact; let value: JSONValue }
        func run() async throws {
            try await guarded {
                let (a, value) = try await PipelineService(queue: options.runtime().queue).artifact(reference)
                if options.json { printJSON(Out(artifact: a, value: value)); return }
                print("artifact:  \(a.name):\(a.version)  (\(a.id))")
                print("type:      \(a.type)   size: \(a.size_bytes) bytes   sha256: \(a.sha256)")
                print("lineage:   run \(a.run_id ?? "-") step \(a.step ?? "-") inputs \(a.inputs.joined(separator: ", "))")
                print("metadata:  \(a.metadata.jsonText)")
                print("content:   \(String(value.jsonText.prefix(2000)))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Write an artifact's content and metadata to a folder.")
        @Argument(help: "NAME[:VERSION|latest]") var reference: String
        @Option(help: "Target folder.") var dir: String
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let files = try await PipelineService(queue: options.runtime().queue).export(reference, to: dir)
                if options.json { printJSON(files) } else { files.forEach { print($0) } }
            }
        }
    }
}
