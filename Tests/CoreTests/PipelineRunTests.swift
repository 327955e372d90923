import Foundation
import Synchronization
import Testing
@testable import Core

/// A step that fails until the test flips its switch (for retry-from-failed-step).
struct Switchable: JobHandler {
    static let kind = "test.switchable"
    static let healed = Mutex<Set<String>>([])
    struct Payload: Decodable, Sendable { let key: String }
    func handle(_ payload: Payload, context: JobContext) async throws -> JSONValue {
        guard Self.healed.withLock({ $0.contains(payload.key) }) else { throw JobFailure.permanent("switch \(payload.key) is off") }
        return .string("healed")
    }
}

@Suite struct PipelineRunTests {
    func env() async throws -> TestEnvironment {
        try await TestEnvironment { $0.register(Switchable()) }
    }

    func definition(_ env: TestEnvironment, _ yaml: String) throws -> PipelineDefinition {
        try PipelineDefinition.parse(yaml, file: "test.yaml", registry: env.queue.registry)
    }

    func waitRun(_ service: PipelineService, _ id: String, timeout: Duration = .seconds(30)) async throws -> PipelineService.RunView {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let v = try await service.show(id)
            if v.state != "running" { return v }
            try await Task.sleep(for: .milliseconds(30))
        }
        throw TwinError.timeout("run \(id) still running")
    }

    @Test func diamondDAGRunsEachStepOnceAndRecordsLineage() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        let def = try definition(env, """
            name: diamond
            parameters: {who: {type: string, default: ada}}
            steps:
              - {name: a, kind: echo, params: {who: "${params.who}"}}
              - {name: b, kind: echo, inputs: {from_a: a}, params: {side: left}}
              - {name: c, kind: echo, inputs: {from_a: a}, params: {side: right}}
              - {name: d, kind: echo, inputs: {left: b, right: c}}
            """)
        let run = try await env.running(env.worker()) {
            let started = try await service.start(def)
            #expect(started.name.hasPrefix("diamond_run_"))
            return try await waitRun(service, started.id)
        }
        #expect(run.state == "succeeded")
        #expect(run.steps.map(\.state) == ["succeeded", "succeeded", "succeeded", "succeeded"])
        let (d, value) = try await service.artifact("diamond.d")
        #expect(d.inputs.count == 2)
        #expect(value["inputs"]?["left"]?["value"]?["side"] == .string("left"))
        #expect(value["inputs"]?["right"]?["value"]?["inputs"]?["from_a"]?["value"]?["who"] == .string("ada"))
        let (a, _) = try await service.artifact("diamond.a:latest")
        #expect(a.run_id == run.id && a.step == "a")
        let jobs = try await env.postgres.query("SELECT count(*) AS n FROM platform.jobs WHERE pipeline_run = $1", [run.id])
        #expect(try jobs.first?.int("n") == 4)
    }

    @Test func fanOutPartialFailureFailsOrContinuesByPolicy() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        func def(_ minSuccess: Double) throws -> PipelineDefinition {
            try definition(env, """
                name: fan\(Int(minSuccess * 100))
                steps:
                  - name: crawl
                    kind: fail
                    max_attempts: 1
                    fan_out: {over: "${params.times}", as: t, min_success: \(minSuccess)}
                    params: {times: "${t}"}
                  - {name: report, kind: echo, inputs: {crawled: crawl}}
                parameters: {times: {type: list, default: [0, 0, 0, 5]}}
                """)
        }
        let (strict, lenient) = try await env.running(env.worker()) {
            let s = try await service.start(try def(1))
            let l = try await service.start(try def(0.7))
            return (try await waitRun(service, s.id), try await waitRun(service, l.id))
        }
        #expect(strict.state == "failed")
        #expect(strict.steps.map(\.state) == ["failed", "skipped"])
        #expect(strict.steps[0].fan_out_failed == 1 && strict.steps[0].fan_out_succeeded == 3)
        #expect(strict.error?.contains("below min_success") == true)
        #expect(lenient.state == "succeeded")
        let (artifact, value) = try await service.artifact("fan70.crawl")
        if case .array(let items) = value { #expect(items.count == 3) } else { Issue.record("expected a list") }
        #expect(artifact.metadata["fan_out_failed"] == .number(1))
    }

    @Test func cancellingARunCancelsItsRunningStep() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        let def = try definition(env, """
            name: slow
            steps:
              - {name: wait, kind: sleep, params: {ms: 30000}}
              - {name: after, kind: echo, after: [wait]}
            """)
        let run = try await env.running(env.worker()) {
            let r = try await service.start(def)
            let job = try await env.postgres.query("SELECT job_ids[1]::text AS j FROM platform.step_runs WHERE run_id = $1 AND step = 'wait'", [r.id]).first!.string("j")
            while try await env.queue.status(id: job).state != "running" { try await Task.sleep(for: .milliseconds(20)) }
            let cancelled = try await service.cancel(r.name)
            #expect(cancelled.state == "cancelled")
            #expect(try await env.waitFinal(job, timeout: .seconds(5)).state == "cancelled")
            return try await service.show(r.id)
        }
        #expect(run.steps.map(\.state) == ["cancelled", "cancelled"])
    }

    @Test func retryRunsFromTheFailedStepKeepingEarlierOutputs() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        let key = UUIDv7.make()
        let def = try definition(env, """
            name: flaky
            steps:
              - {name: first, kind: echo, params: {n: 1}}
              - {name: second, kind: test.switchable, after: [first], max_attempts: 1, params: {key: "\(key)"}}
              - {name: third, kind: echo, after: [second]}
            """)
        try await env.running(env.worker()) {
            let r = try await service.start(def, noCache: true)
            let failed = try await waitRun(service, r.id)
            #expect(failed.state == "failed")
            #expect(failed.steps.map(\.state) == ["succeeded", "failed", "skipped"])
            Switchable.healed.withLock { _ = $0.insert(key) }
            _ = try await service.retry(r.id)
            let done = try await waitRun(service, r.id)
            #expect(done.state == "succeeded")
            let firstJobs = try await env.postgres.query("SELECT count(*) AS n FROM platform.jobs WHERE pipeline_run = $1 AND step = 'first'", [r.id])
            #expect(try firstJobs.first?.int("n") == 1)   // not run again
        }
    }

    @Test func stepCacheHitsOnSameInputsAndMissesOtherwise() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        let def = try definition(env, """
            name: cached\(env.prefix)
            parameters: {n: {type: int, default: 1}}
            steps:
              - {name: a, kind: echo, params: {n: "${params.n}"}}
              - {name: b, kind: echo, inputs: {x: a}}
            """)
        try await env.running(env.worker()) {
            let first = try await waitRun(service, try await service.start(def).id)
            let second = try await waitRun(service, try await service.start(def).id)
            let forced = try await waitRun(service, try await service.start(def, noCache: true).id)
            let changed = try await waitRun(service, try await service.start(def, overrides: ["n": .number(2)]).id)
            #expect(first.steps.map(\.cached) == [false, false])
            #expect(second.steps.map(\.cached) == [true, true])
            #expect(second.steps.map(\.artifact) == first.steps.map(\.artifact))
            #expect(forced.steps.map(\.cached) == [false, false])
            #expect(changed.steps.map(\.cached) == [false, false])
            // Versions grow with each computed (not cached) output.
            let versions = try await service.artifacts(name: "cached\(env.prefix).a").map(\.version)
            #expect(versions == [3, 2, 1])
        }
    }

    @Test func aWorkerDyingBetweenCommitAndEnqueueLosesNothingAndRunsNothingTwice() async throws {
        let env = try await env()
        let service = PipelineService(queue: env.queue)
        let def = try definition(env, """
            name: handoff
            steps:
              - {name: a, kind: echo, params: {v: 1}}
              - {name: b, kind: echo, after: [a]}
            """)
        let run = try await service.start(def)
        // Play the worker by hand: lease a, commit its outcome and the pipeline transition — then "die"
        // before dispatching the outbox (b's job is decided in Postgres but not in Redis).
        let job = try await env.redis.withConnection { try env.queue.lease(on: $0, queues: ["default"], worker: "doomed", max: 1) }.jobs[0]
        let outcome = JobOutcome(job: job, state: .succeeded, result: "{\"v\":1}")
        _ = try await env.redis.eval(QueueScripts.fence, args: [env.prefix, "10000", job.id, job.token])
        let outbox = try await env.postgres.withTransaction { pg in
            _ = try OutcomeStore.write([outcome], namespace: env.prefix, on: pg)
            return try env.queue.pipelines.onOutcomes([outcome], on: pg)
        }
        #expect(outbox.count == 1)
        #expect(try await env.redisCommand("ZCARD", "\(env.prefix):queue:default").int == 0)
        // The relay finds the undispatched decision; a second relay finds nothing more.
        #expect(try await service.relay(olderThan: .zero) == 1)
        #expect(try await service.relay(olderThan: .zero) == 0)
        #expect(try await env.redisCommand("ZCARD", "\(env.prefix):queue:default").int == 1)
        let done = try await env.running(env.worker()) { try await waitRun(service, run.id) }
        #expect(done.state == "succeeded")
        let jobs = try await env.postgres.query("SELECT step, count(*) AS n FROM platform.jobs WHERE pipeline_run = $1 GROUP BY step ORDER BY step", [run.id])
        #expect(try jobs.rows.map { try $0.int("n") } == [1, 1])
    }

    @Test func largeArtifactsGoToTheObjectStoreAndExport() async throws {
        let env = try await env()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("twin-objects-\(env.prefix)").path
        let queue = JobQueue(settings: env.configuration.queue, redis: env.redis, postgres: env.postgres, registry: env.queue.registry,
                             artifacts: { var a = ArtifactSettings(); a.maxInlineBytes = 64; a.objectsDirectory = dir; return a }())
        let service = PipelineService(queue: queue)
        let def = try definition(env, """
            name: big\(env.prefix)
            steps:
              - {name: a, kind: echo, params: {text: "\(String(repeating: "x", count: 200))"}}
            """)
        var settings = env.configuration.worker
        settings.queues = ["default"]
        let worker = WorkerService(queue: queue, settings: settings, logger: env.logger)
        let run = try await env.running(worker) { try await waitRun(service, try await service.start(def).id) }
        #expect(run.state == "succeeded")
        let (artifact, value) = try await service.artifact("big\(env.prefix).a")
        #expect(artifact.uri?.hasPrefix("object://") == true)
        #expect(value["text"]?.stringValue?.count == 200)
        let files = try await service.export("big\(env.prefix).a:1", to: dir + "/export")
        #expect(FileManager.default.fileExists(atPath: files[0]))
    }

    @Test func oversizeParametersWithoutAnObjectStoreAreRejectedBeforeAnythingIsEnqueued() async throws {
        let env = try await env()
        let queue = JobQueue(settings: env.configuration.queue, redis: env.redis, postgres: env.postgres, registry: env.queue.registry,
                             artifacts: { var a = ArtifactSettings(); a.maxInlineBytes = 100; a.objectsDirectory = ""; return a }())
        let service = PipelineService(queue: queue)
        let def = try definition(env, """
            name: huge\(env.prefix)
            parameters: {text: {type: string, default: ""}}
            steps:
              - {name: a, kind: echo, params: {t: "${params.text}"}}
            """)
        await #expect { try await service.start(def, overrides: ["text": .string(String(repeating: "z", count: 500))]) } throws: {
            "\($0)".contains("no object store")
        }
        let runs = try await env.postgres.query("SELECT count(*) AS n FROM platform.pipeline_runs WHERE pipeline = $1", ["huge\(env.prefix)"])
        #expect(try runs.first?.int("n") == 0)
        #expect(try await env.redisCommand("ZCARD", "\(env.prefix):queue:default").int == 0)
    }
}
