import Foundation
import Synchronization

/// A job to enqueue once the transaction that decided it has committed (the transactional outbox).
public struct OutboxEntry: Sendable, Codable, Equatable {
    public var jobID: String
    public var kind: String
    public var payload: String
    public var queue: String
    public var maxAttempts: Int?
    public var timeoutMs: Int?
    public var pipeline: String

    var spec: JobSpec {
        var s = JobSpec(kind: kind, payload: payload, queue: queue, maxAttempts: maxAttempts,
                        timeout: timeoutMs.map { .milliseconds($0) }, idempotencyKey: "outbox:\(jobID)")
        s.presetID = jobID
        s.pipeline = pipeline
        return s
    }
}

/// The pipeline state machine, in Postgres. Every transition runs inside the caller's transaction — in
/// particular inside the transaction that commits a step job's outcome — and returns the jobs to enqueue
/// as outbox entries, so a crash between the commit and the enqueue loses nothing (the outbox relay
/// enqueues what was not dispatched) and no polling coordinator exists.
public struct PipelineEngine: Sendable {
    public let namespace: String
    public let artifacts: ArtifactStore

    /// A run's definition never changes, so decoded ones are kept (a few hundred at most).
    let definitions = DefinitionCache()

    public init(namespace: String, artifacts: ArtifactStore) {
        self.namespace = namespace
        self.artifacts = artifacts
    }

    // MARK: Outcomes

    /// Records step jobs' outcomes; finishes steps whose jobs are all final; returns newly ready jobs.
    func onOutcomes(_ outcomes: [JobOutcome], on pg: PGConnection) throws -> [OutboxEntry] {
        // Group by step so a batch of fan-out children costs one row update per step, not one per child.
        struct Key: Hashable { let run: String, step: String }
        var groups: [Key: [JobOutcome]] = [:]
        var order: [Key] = []
        for o in outcomes {
            guard let (run, step, _) = o.job.pipelineStep else { continue }
            let key = Key(run: run, step: step)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(o)
        }
        var touchedRuns = Set<String>()
        for key in order {
            let group = groups[key]!
            let (run, step) = (key.run, key.step)
            guard let row = try pg.query("""
                SELECT s.state, r.state AS run_state
                FROM platform.step_runs s JOIN platform.pipeline_runs r ON r.id = s.run_id
                WHERE s.run_id = $1 AND s.step = $2 FOR UPDATE OF s
                """, [run, step]).first else { continue }
            guard try row.string("state") == "queued", try row.string("run_state") == "running" else { continue }
            if group[0].job.pipelineStep!.child >= 0 {
                let ok = group.filter { $0.state == .succeeded }.count
                let counts = try pg.query("""
                    UPDATE platform.step_runs SET fan_succeeded = fan_succeeded + $3, fan_failed = fan_failed + $4
                    WHERE run_id = $1 AND step = $2 RETURNING fan_total, fan_succeeded, fan_failed
                    """, [run, step, ok, group.count - ok]).first!
                let total = try counts.int("fan_total"), done = try counts.int("fan_succeeded"), failed = try counts.int("fan_failed")
                guard done + failed >= total else { continue }
                try finishFanOut(run: run, step: step, total: total, succeeded: done, failed: failed, on: pg)
            } else if let o = group.first {
                if o.state == .succeeded {
                    try finishStep(run: run, step: step, value: (try? JSONValue.parse(o.result ?? "null")) ?? .null, extra: [:], on: pg)
                } else {
                    try failStep(run: run, step: step, error: "job \(o.job.id) \(o.state.rawValue): \(o.error ?? "")", on: pg)
                }
            }
            touchedRuns.insert(run)
        }
        var entries: [OutboxEntry] = []
        for run in touchedRuns.sorted() { entries += try dispatchReady(run: run, on: pg) }
        return entries
    }

    private func finishFanOut(run: String, step: String, total: Int, succeeded: Int, failed: Int, on pg: PGConnection) throws {
        let def = try definition(of: run, on: pg)
        let minSuccess = def.steps.first(where: { $0.name == step })?.fanOut?.minSuccess ?? 1
        let ratio = total == 0 ? 1 : Double(succeeded) / Double(total)
        if ratio + 1e-9 < minSuccess {
            try failStep(run: run, step: step, error: "\(failed) of \(total) fan-out jobs failed; \(String(format: "%.0f", ratio * 100)) % succeeded, below min_success \(minSuccess)", on: pg)
            return
        }
        let results = try pg.query("""
            SELECT result::text AS r FROM platform.jobs WHERE pipeline_run = $1 AND step = $2 AND state = 'succeeded' ORDER BY step_child
            """, [run, step]).rows.map { try JSONValue.parse(try $0.optionalString("r") ?? "null") }
        try finishStep(run: run, step: step, value: .array(results),
                       extra: ["fan_out_total": .number(Double(total)), "fan_out_succeeded": .number(Double(succeeded)),
                               "fan_out_failed": .number(Double(failed))], on: pg)
    }

    private func finishStep(run: String, step: String, value: JSONValue, extra: [String: JSONValue], on pg: PGConnection) throws {
        let def = try definition(of: run, on: pg)
        guard let spec = def.steps.first(where: { $0.name == step }) else { return }
        let info = try pg.query("""
            SELECT s.params::text AS params, extract(epoch FROM now() - s.started_at)::float8 AS secs,
                   (SELECT coalesce(array_agg(artifact_id), '{}') FROM platform.step_runs d
                    WHERE d.run_id = $1 AND d.step = ANY($3::text[]) AND d.artifact_id IS NOT NULL) AS inputs
            FROM platform.step_runs s WHERE s.run_id = $1 AND s.step = $2
            """, [run, step, "{" + spec.dependencies.joined(separator: ",") + "}"]).first
        var metadata: [String: JSONValue] = extra
        metadata["kind"] = .string(spec.kind)
        metadata["params"] = (try? JSONValue.parse(try info?.optionalString("params") ?? "null")) ?? .null
        metadata["duration_seconds"] = .number(try info?.optionalDouble("secs") ?? 0)
        metadata["count"] = .number(Double(Self.count(value)))
        if let counts = Self.countsBy(value) { metadata["counts"] = counts }
        let inputs = (try info?.optionalString("inputs")).flatMap { $0 }.map { s in
            s.count > 2 ? s.dropFirst().dropLast().split(separator: ",").map(String.init) : []
        } ?? []
        let name = spec.output ?? "\(def.name).\(step)"
        let (artifactID, _) = try artifacts.create(name: name, type: spec.kind, value: value, metadata: .object(metadata),
                                                  runID: run, step: step, inputs: inputs, on: pg)
        try pg.query("""
            UPDATE platform.step_runs SET state = 'succeeded', artifact_id = $3, finished_at = now() WHERE run_id = $1 AND step = $2
            """, [run, step, artifactID])
    }

    /// Items in a list result, else 1.
    static func count(_ v: JSONValue) -> Int {
        if case .array(let a) = v { return a.count }
        return v == .null ? 0 : 1
    }

    /// Counts per `author` and `category` when the items carry them (the reference's step metadata).
    static func countsBy(_ v: JSONValue) -> JSONValue? {
        guard case .array(let items) = v else { return nil }
        var out: [String: JSONValue] = [:]
        for key in ["author", "category", "platform"] {
            var counts: [String: Double] = [:]
            for item in items { if let s = item[key]?.stringValue { counts[s, default: 0] += 1 } }
            if !counts.isEmpty { out[key] = .object(counts.mapValues { .number($0) }) }
        }
        return out.isEmpty ? nil : .object(out)
    }

    private func failStep(run: String, step: String, error: String, on pg: PGConnection) throws {
        try pg.query("UPDATE platform.step_runs SET state = 'failed', error = $3, finished_at = now() WHERE run_id = $1 AND step = $2",
                     [run, step, error])
        try pg.query("UPDATE platform.step_runs SET state = 'skipped' WHERE run_id = $1 AND state = 'pending'", [run])
        try pg.query("""
            UPDATE platform.pipeline_runs SET state = 'failed', error = $2, finished_at = now() WHERE id = $1 AND state = 'running'
            """, [run, "step \(step) failed: \(error)"])
    }

    func definition(of run: String, on pg: PGConnection) throws -> PipelineDefinition {
        if let cached = definitions.get(run) { return cached }
        guard let text = try pg.query("SELECT definition::text AS d FROM platform.pipeline_runs WHERE id = $1", [run]).first?.string("d") else {
            throw TwinError.notFound("no pipeline run \(run)")
        }
        let def = try JSONDecoder().decode(PipelineDefinition.self, from: Data(text.utf8))
        definitions.put(run, def)
        return def
    }

    // MARK: Dispatch

    /// Enqueues (as outbox entries) every pending step whose dependencies all succeeded; reuses cached
    /// outputs; closes the run when every step succeeded.
    func dispatchReady(run: String, on pg: PGConnection) throws -> [OutboxEntry] {
        guard let runRow = try pg.query("""
            SELECT state, params::text AS params, no_cache, name FROM platform.pipeline_runs WHERE id = $1 FOR UPDATE
            """, [run]).first, try runRow.string("state") == "running" else { return [] }
        let def = try definition(of: run, on: pg)
        let params = try JSONValue.parse(try runRow.string("params"))
        let noCache = try runRow.bool("no_cache")
        var entries: [OutboxEntry] = []
        var progressed = true
        while progressed {
            progressed = false
            var states: [String: (state: String, artifact: String?)] = [:]
            for r in try pg.query("SELECT step, state, artifact_id FROM platform.step_runs WHERE run_id = $1", [run]).rows {
                states[try r.string("step")] = (try r.string("state"), try r.optionalString("artifact_id"))
            }
            for step in def.steps where states[step.name]?.state == "pending" {
                guard step.dependencies.allSatisfy({ states[$0]?.state == "succeeded" }) else { continue }
                progressed = true
                var scope: [String: JSONValue] = ["params": params, "run": .object(["id": .string(run), "name": .string(try runRow.string("name"))])]
                var inputValues: [String: JSONValue] = [:]
                var inputIDs: [String] = []
                for (inputName, source) in step.inputs.sorted(by: { $0.key < $1.key }) {
                    guard let id = states[source]?.artifact else { continue }
                    let artifact = try artifacts.get(id: id, on: pg)
                    inputIDs.append(id)
                    inputValues[inputName] = .object(["artifact": .string("\(artifact.name):\(artifact.version)"),
                                                      "value": try artifacts.value(of: artifact, on: pg)])
                }
                scope["inputs"] = .object(inputValues.mapValues { $0["value"] ?? .null })
                var fanItems: [JSONValue]?
                if let fan = step.fanOut {
                    guard case .array(let items) = try Templates.resolve(.string(fan.over), scope: scope, context: "step \(step.name).fan_out") else {
                        throw TwinError.invalidInput("step \(step.name): fan_out.over must resolve to a list")
                    }
                    fanItems = items
                }
                // Each job's parameters (one per fan-out item); the step records all of them.
                var childParams: [JSONValue] = []
                if let items = fanItems {
                    for item in items {
                        var childScope = scope
                        childScope[step.fanOut!.itemName] = item
                        childParams.append(try Templates.resolve(step.params, scope: childScope, context: "step \(step.name)"))
                    }
                } else {
                    childParams = [try Templates.resolve(step.params, scope: scope, context: "step \(step.name)")]
                }
                let resolved: JSONValue = fanItems == nil ? childParams[0] : .array(childParams)
                let cacheKey = SHA256.hex([step.kind, resolved.jsonText, inputIDs.joined(separator: ","),
                                           fanItems.map { JSONValue.array($0).jsonText } ?? "", TwinVersion.current].joined(separator: "\u{1f}"))
                if !noCache, let hit = try pg.query("""
                    SELECT s.artifact_id FROM platform.step_runs s JOIN platform.pipeline_runs r ON r.id = s.run_id
                    WHERE s.cache_key = $1 AND s.state = 'succeeded' AND r.namespace = $2 AND s.artifact_id IS NOT NULL
                    ORDER BY s.finished_at DESC LIMIT 1
                    """, [cacheKey, namespace]).first {
                    try pg.query("""
                        UPDATE platform.step_runs SET state = 'succeeded', cached = true, cache_key = $3, artifact_id = $4,
                            params = $5::jsonb, started_at = now(), finished_at = now() WHERE run_id = $1 AND step = $2
                        """, [run, step.name, cacheKey, try hit.string("artifact_id"), resolved.jsonText])
                    continue
                }
                var payloads: [(String, Int)] = []
                for (i, params) in childParams.enumerated() {
                    var p = params
                    if case .object(var o) = p, !inputValues.isEmpty { o["inputs"] = .object(inputValues); p = .object(o) }
                    payloads.append((p.jsonText, fanItems == nil ? -1 : i))
                }
                if payloads.isEmpty {
                    // Fan-out over nothing: done at once, with an empty list.
                    try pg.query("UPDATE platform.step_runs SET state = 'queued', started_at = now(), cache_key = $3 WHERE run_id = $1 AND step = $2",
                                 [run, step.name, cacheKey])
                    try finishStep(run: run, step: step.name, value: .array([]), extra: ["fan_out_total": .number(0)], on: pg)
                    continue
                }
                var ids: [String] = []
                for (payload, child) in payloads {
                    let entry = OutboxEntry(jobID: UUIDv7.make(), kind: step.kind, payload: payload, queue: step.queue ?? "default",
                                            maxAttempts: step.maxAttempts, timeoutMs: step.timeoutSeconds.map { Int($0 * 1000) },
                                            pipeline: "\(run)|\(step.name)|\(child)")
                    ids.append(entry.jobID)
                    entries.append(entry)
                }
                try insertOutbox(entries.suffix(ids.count), on: pg)
                try pg.query("""
                    UPDATE platform.step_runs SET state = 'queued', params = $3::jsonb, cache_key = $4, job_ids = $5::uuid[],
                        fan_total = $6, fan_succeeded = 0, fan_failed = 0, started_at = now() WHERE run_id = $1 AND step = $2
                    """, [run, step.name, resolved.jsonText, cacheKey, "{" + ids.joined(separator: ",") + "}",
                          fanItems == nil ? 0 : ids.count])
            }
        }
        let open = try pg.query("SELECT count(*) FILTER (WHERE state <> 'succeeded') AS n FROM platform.step_runs WHERE run_id = $1", [run]).first?.int("n") ?? 1
        if open == 0 {
            try pg.query("UPDATE platform.pipeline_runs SET state = 'succeeded', finished_at = now() WHERE id = $1 AND state = 'running'", [run])
        }
        return entries
    }

    private func insertOutbox<S: Sequence>(_ entries: S, on pg: PGConnection) throws where S.Element == OutboxEntry {
        let encoder = JSONEncoder()
        let json = "[" + (try entries.map { String(decoding: try encoder.encode($0), as: UTF8.self) }).joined(separator: ",") + "]"
        try pg.query("""
            INSERT INTO platform.outbox (job_id, namespace, spec)
            SELECT (e->>'jobID')::uuid, $2, e FROM jsonb_array_elements($1::jsonb) AS e
            """, [json, namespace])
    }
}

/// `${…}` templates in step parameters: a string that is exactly `${path}` becomes the value at `path`
/// (typed); `${path}` inside longer text is replaced by the value's text.
enum Templates {
    static func resolve(_ value: JSONValue, scope: [String: JSONValue], context: String) throws -> JSONValue {
        switch value {
        case .string(let s):
            guard s.contains("${") else { return value }
            if s.hasPrefix("${"), s.hasSuffix("}"), s.dropFirst(2).firstIndex(of: "}") == s.index(before: s.endIndex) {
                return try lookup(String(s.dropFirst(2).dropLast()), scope: scope, context: context)
            }
            var out = ""
            var rest = Substring(s)
            while let start = rest.range(of: "${") {
                out += rest[..<start.lowerBound]
                guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                    throw TwinError.invalidInput("\(context): unterminated ${ in \"\(s)\"")
                }
                let v = try lookup(String(rest[start.upperBound..<end]), scope: scope, context: context)
                out += v.stringValue ?? v.jsonText
                rest = rest[rest.index(after: end)...]
            }
            return .string(out + rest)
        case .array(let a): return .array(try a.map { try resolve($0, scope: scope, context: context) })
        case .object(let o): return .object(try o.mapValues { try resolve($0, scope: scope, context: context) })
        default: return value
        }
    }

    static func lookup(_ path: String, scope: [String: JSONValue], context: String) throws -> JSONValue {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first, var v = scope[first] else {
            throw TwinError.invalidInput("\(context): unknown reference ${\(path)} (known: \(scope.keys.sorted().joined(separator: ", ")))")
        }
        for p in parts.dropFirst() {
            guard let next = v[p] else { throw TwinError.invalidInput("\(context): ${\(path)}: no \"\(p)\"") }
            v = next
        }
        return v
    }
}

/// A small bounded cache of decoded run definitions.
final class DefinitionCache: Sendable {
    private let map = Mutex<[String: PipelineDefinition]>([:])
    func get(_ run: String) -> PipelineDefinition? { map.withLock { $0[run] } }
    func put(_ run: String, _ def: PipelineDefinition) {
        map.withLock { m in
            if m.count >= 256 { m.removeAll() }
            m[run] = def
        }
    }
}
