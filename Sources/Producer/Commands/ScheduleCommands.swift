import ArgumentParser
import Core
import Foundation

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "schedule", abstract: "Cron schedules (fired by twin-scheduler).",
                                                    subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", abstract: "Add or replace a schedule.")
        @Argument(help: "Schedule name.") var name: String
        @Option(help: "Cron expression: 5 fields (m h dom mon dow) or @hourly, @daily, @weekly, @monthly, @yearly.") var cron: String
        @Option(help: "Job kind to enqueue on each tick.") var kind: String?
        @Option(help: "Start this pipeline on each tick (same as --kind pipeline.run --payload '{\"pipeline\": NAME}').") var pipeline: String?
        @Option(help: "JSON payload (with --pipeline: the run's parameters).") var payload: String = "{}"
        @Option(help: "Queue.") var queue: String = "default"
        @Option(help: "IANA time zone the expression is read in.") var timezone: String = "UTC"
        @Option(help: "Missed ticks: skip (drop) or backfill (fire the most recent --backfill N).") var misfire: String = "skip"
        @Option(help: "How many missed ticks to fire with --misfire backfill.") var backfill: Int = 1
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await guarded {
                let policy: MisfirePolicy
                switch misfire {
                case "skip": policy = .skip
                case "backfill": policy = .backfill(backfill)
                default: throw TwinError.invalidInput("--misfire must be skip or backfill, got \"\(misfire)\"")
                }
                var jobKind = kind ?? ""
                var jobPayload = payload
                if let pipeline {
                    guard kind == nil else { throw TwinError.invalidInput("give --kind or --pipeline, not both") }
                    jobKind = PipelineRunHandler.kind
                    jobPayload = JSONValue.object(["pipeline": .string(pipeline), "parameters": try JSONValue.parse(payload)]).jsonText
                }
                guard !jobKind.isEmpty else { throw TwinError.invalidInput("--kind or --pipeline is required") }
                let runtime = try await options.runtime()
                if let pipeline {
                    _ = try PipelineDefinition.load(file: PipelineService.definitionPath(pipeline, directory: runtime.configuration.pipelinesDirectory),
                                                    registry: runtime.registry)
                }
                let store = ScheduleStore(postgres: runtime.postgres, registry: runtime.registry, namespace: runtime.configuration.queue.keyPrefix)
                let def = ScheduleDefinition(name: name, cron: cron, timeZone: timezone, kind: jobKind, queue: queue, payload: jobPayload, misfire: policy)
                try await store.upsert(def)
                let next = try CronExpression(parsing: cron).next(after: Date(), in: TimeZone(identifier: timezone)!)
                if options.json { printJSON(["name": name, "next": next.map(Clock.iso) ?? ""]) }
                else { print("\(name): next tick \(next.map(Clock.iso) ?? "never")") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List schedules with their next tick.")
        @OptionGroup var options: GlobalOptions

        struct Row: Encodable {
            let name, cron, timezone, kind, queue, misfire, source: String
            let payload: JSONValue
            let enabled: Bool
            let last_tick, next_tick: String?
        }

        func run() async throws {
            try await guarded {
                let runtime = try await options.runtime()
                let store = ScheduleStore(postgres: runtime.postgres, registry: runtime.registry, namespace: runtime.configuration.queue.keyPrefix)
                let rows = try await store.list().map { s -> Row in
                    let d = s.definition
                    let next = (try? CronExpression(parsing: d.cron))?.next(after: Date(), in: TimeZone(identifier: d.timeZone) ?? .gmt)
                    return Row(name: d.name, cron: d.cron, timezone: d.timeZone, kind: d.kind, queue: d.queue,
                               misfire: d.misfire.description, source: s.source, payload: (try? JSONValue.parse(d.payload)) ?? .null,
                               enabled: d.enabled, last_tick: s.lastTick.map(Clock.iso), next_tick: next.map(Clock.iso))
                }
                if options.json { printJSON(rows); return }
                print(table(["NAME", "CRON", "TZ", "KIND", "QUEUE", "MISFIRE", "LAST", "NEXT"],
                            rows.map { [$0.name, $0.cron, $0.timezone, $0.kind, $0.queue, $0.misfire, $0.last_tick ?? "-", $0.next_tick ?? "-"] }))
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a schedule.")
        @Argument(help: "Schedule name.") var name: String
        @OptionGroup var options: GlobalOptions
        func run() async throws {
            try await guarded {
                let runtime = try await options.runtime()
                let store = ScheduleStore(postgres: runtime.postgres, registry: runtime.registry, namespace: runtime.configuration.queue.keyPrefix)
                try await store.remove(name: name)
                if options.json { printJSON(["name": name, "removed": "true"]) } else { print("\(name): removed") }
            }
        }
    }
}
