import Foundation
import Synchronization

/// Job kind `pipeline.run`: starts a pipeline run — what a cron schedule naming a pipeline enqueues.
/// Payload: `{"pipeline": NAME, "parameters": {…}, "no_cache": false}`; result: the run's id and name.
public struct PipelineRunHandler: JobHandler {
    public static let kind = "pipeline.run"
    public struct Payload: Decodable, Sendable {
        let pipeline: String
        let parameters: [String: JSONValue]?
        let no_cache: Bool?
    }

    let configuration: TwinConfiguration
    /// The queue this handler starts runs on, built on first use (the registry that holds this handler is
    /// built before any queue exists).
    private let runtime = RuntimeBox()

    final class RuntimeBox: Sendable {
        let value = Mutex<TwinRuntime?>(nil)
    }

    public init(configuration: TwinConfiguration) {
        self.configuration = configuration
    }

    public func handle(_ payload: Payload, context: JobContext) async throws -> JSONValue {
        let runtime = self.runtime.value.withLock { r -> TwinRuntime in
            if let r { return r }
            let made = TwinRuntime(configuration: configuration, label: "twin.pipeline-run", redisConnections: 1, postgresConnections: 1)
            r = made
            return made
        }
        let path = PipelineService.definitionPath(payload.pipeline, directory: configuration.pipelinesDirectory)
        let def: PipelineDefinition
        do { def = try PipelineDefinition.load(file: path, registry: runtime.registry) } catch let e as TwinError {
            throw JobFailure.permanent(e.description)
        }
        let view = try await PipelineService(queue: runtime.queue)
            .start(def, overrides: payload.parameters ?? [:], noCache: payload.no_cache ?? false, triggeredBy: "scheduler",
                   trigger: "job \(context.job.id)")
        return .object(["run_id": .string(view.id), "run_name": .string(view.name)])
    }
}
