import Foundation
import Testing
@testable import Core

/// `twin datasets` and `twin models` as users run them (exit codes: 2 invalid, 3 not found), and a real
/// `twin-worker` killed with SIGKILL mid-training whose job resumes, in a second worker, from its latest
/// checkpoint on the same trajectory.
@Suite(.serialized)
struct TrainingCLITests {
    typealias Run = CLIRun

    static func environment(prefix: String, objects: String) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["TWIN_QUEUE_PREFIX"] = prefix
        env["TWIN_OBJECTS_DIR"] = objects
        env["TWIN_LOG_LEVEL"] = "error"
        return env
    }

    /// Runs `twin` off the cooperative pool.
    static func twin(_ arguments: [String], prefix: String, objects: String) async throws -> Run {
        try await CLIProcess.runDetached(try CLIProcess.binary("twin", in: WorkerProcessTests.binDirectory), arguments,
                                         environment: Self.environment(prefix: prefix, objects: objects))
    }

    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-train-cli-\(UUIDv7.make())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func datasetsAndModelsCommandsReportAndExitAsDocumented() async throws {
        let env = try await TestEnvironment()
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let objects = dir.appendingPathComponent("objects").path
        func twin(_ args: String...) async throws -> Run { try await Self.twin(args, prefix: env.prefix, objects: objects) }

        let bad = dir.appendingPathComponent("bad.jsonl").path
        try "{\"instruction\": \"q\", \"output\": \"a\"}\n{\"instruction\": \"q\", \"output\": \"\"}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try await twin("datasets", "import", bad, "--name", "cli")
        #expect(refused.status == 2 && refused.errors.contains("bad.jsonl:2: column \"output\" is empty"), "\(refused.errors)")

        let good = dir.appendingPathComponent("good.jsonl").path
        try "{\"instruction\": \"q\", \"output\": \"a\"}\n".write(toFile: good, atomically: true, encoding: .utf8)
        let imported = try await twin("datasets", "import", good, "--name", "cli", "--json")
        #expect(imported.status == 0, "\(imported.errors)")
        let report = try JSONDecoder().decode(TrainingDatasets.ImportReport.self, from: Data(imported.output.utf8))
        #expect(report.artifact == "cli:1" && report.created && report.rows == ["train": 1])
        let again = try await twin("datasets", "import", good, "--name", "cli")
        #expect(again.status == 0 && again.output.contains("cli:1") && again.output.contains("unchanged"), "\(again.output)")
        let split = try await twin("datasets", "import", good, "--name", "cli", "--split", "dev")
        #expect(split.status == 2 && split.errors.contains("--split must be train or test"), "\(split.errors)")
        let listed = try await twin("datasets", "list")
        #expect(listed.status == 0 && listed.output.contains("cli:1"), "\(listed.output)")

        let missing = try await twin("models", "show", "nope")
        #expect(missing.status == 3 && missing.errors.contains("no model nope"), "\(missing.errors)")
        let registry = ModelRegistry(postgres: env.postgres, namespace: env.prefix)
        _ = try await registry.register(ModelRegistry.Registration(
            name: "cli-model", baseModel: "base.gguf", dataset: "cli:1", datasetID: report.id, config: .object([:]), jobID: nil,
            metrics: .object(["final_loss": .number(1.25)]), artifacts: .object([:])))
        let skip = try await twin("models", "promote", "cli-model:1", "--to", "production")
        #expect(skip.status == 2 && skip.errors.contains("can only move to staging"), "\(skip.errors)")
        let promoted = try await twin("models", "promote", "cli-model:1")
        #expect(promoted.status == 0 && promoted.output.contains("cli-model:1 is now staging"), "\(promoted.output)")
        let list = try await twin("models", "list", "--json")
        let entries = try JSONDecoder().decode([ModelRegistry.Entry].self, from: Data(list.output.utf8))
        #expect(entries.map(\.stage) == ["staging"] && entries[0].dataset == "cli:1")
        let shown = try await twin("models", "show", "cli-model")
        #expect(shown.status == 0 && shown.output.contains("candidate → staging"), "\(shown.output)")
        let rollback = try await twin("models", "rollback", "cli-model")
        #expect(rollback.status == 2 && rollback.errors.contains("no production model"), "\(rollback.errors)")
    }

    @Test(.enabled(if: TrainingJobTests.hasModel))
    func aWorkerKilledMidRunIsResumedFromTheLatestCheckpointByAnother() async throws {
        let env = try await TestEnvironment(lease: .seconds(2))
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let objects = dir.appendingPathComponent("objects").path
        let datasets = TrainingDatasets(postgres: env.postgres, artifacts: ArtifactStore(
            namespace: env.prefix, objects: ObjectStore(directory: objects), maxInlineBytes: 64 * 1024))
        let rows = (0..<8).map { ["instruction": "Count to \($0).", "output": (0...$0).map(String.init).joined(separator: " ") + "."] }
        _ = try await datasets.store(rows: rows, format: .sft, name: "count", split: "train", sources: [])
        let payload = TrainingJobTests.payload("count", ["num_train_epochs": 2, "max_steps": 16, "save_steps": 4])
        // The producer side only validates the payload; the worker processes run the job.
        var registry = env.queue.registry
        registry.register(TrainJob(postgres: env.postgres, objects: nil, artifacts: datasets.artifacts, modelsDirectory: "models",
                                   namespace: env.prefix))
        let queue = JobQueue(settings: env.configuration.queue, redis: env.redis, postgres: env.postgres, registry: registry)
        let id = try await queue.enqueue(JobSpec(kind: "train", payload: payload, maxAttempts: 3))
        let runs = TrainingRunStore(postgres: env.postgres, namespace: env.prefix)

        func startWorker() throws -> Process {
            let p = Process()
            p.executableURL = WorkerProcessTests.binDirectory.appendingPathComponent("twin-worker")
            p.arguments = ["--queues", "default", "--concurrency", "2", "--fetch-batch", "1"]
            var e = Self.environment(prefix: env.prefix, objects: objects)
            e["TWIN_LEASE_SECONDS"] = "2"
            p.environment = e
            try p.run()
            return p
        }
        let first = try startWorker()
        // Kill it after a checkpoint and at least one step beyond it, mid-run.
        let deadline = ContinuousClock.now + .seconds(300)
        var before: [TrainingRunStore.Step] = []
        while ContinuousClock.now < deadline {
            before = try await runs.steps(jobID: id)
            if let last = before.last?.step, last >= 5, last < 16, try await !runs.checkpoints(jobID: id).isEmpty { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        before = try await runs.steps(jobID: id)
        let checkpoint = try #require(try await runs.checkpoints(jobID: id).last?.step)
        try #require(before.count > checkpoint && before.count < 16, "killed at step \(before.count), checkpoint \(checkpoint)")

        let second = try startWorker()
        defer { second.terminate(); second.waitUntilExit() }
        let status = try await env.waitFinal(id, timeout: .seconds(300))
        #expect(status.state == "succeeded", "\(status.error ?? "")")
        #expect(status.result?["resumed_from_step"]?.intValue == checkpoint)
        let after = try await runs.steps(jobID: id)
        #expect(after.map(\.step) == Array(1...16))
        // Steps the killed worker did past its checkpoint were redone by the second on the same trajectory.
        for old in before where old.step > checkpoint {
            let new = after[old.step - 1]
            #expect(new.attempt == 2)
            #expect(abs(new.loss - old.loss) <= 1e-5 * max(1, abs(old.loss)), "step \(old.step): \(old.loss) then \(new.loss)")
        }
        #expect(after.filter { $0.step <= checkpoint }.allSatisfy { $0.attempt == 1 })
    }
}
