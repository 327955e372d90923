import Foundation

/// A pipeline: typed parameters and a DAG of steps, each a job kind with parameters. Loaded from YAML
/// under `configs/pipelines/`, validated before anything is enqueued, and stored with every run.
public struct PipelineDefinition: Sendable, Codable, Equatable {
    public var name: String
    public var description: String
    public var parameters: [Parameter]
    public var steps: [Step]

    public init(name: String, description: String, parameters: [Parameter], steps: [Step]) {
        self.name = name; self.description = description; self.parameters = parameters; self.steps = steps
    }

    /// A typed parameter with an optional default (no default = required).
    public struct Parameter: Sendable, Codable, Equatable {
        public var name: String
        public var type: ParameterType
        public var defaultValue: JSONValue?
        public init(name: String, type: ParameterType, defaultValue: JSONValue?) {
            self.name = name; self.type = type; self.defaultValue = defaultValue
        }
    }

    public enum ParameterType: String, Sendable, Codable, CaseIterable {
        case string, int, float, bool, list, object
    }

    /// One step: a job kind, its parameters (with `${…}` templates), dependencies and optional fan-out.
    public struct Step: Sendable, Codable, Equatable {
        public var name: String
        public var kind: String
        public var params: JSONValue
        /// Steps that must succeed first (besides the steps named in `inputs`).
        public var after: [String]
        /// Input name → the step whose artifact it is.
        public var inputs: [String: String]
        public var fanOut: FanOut?
        public var queue: String?
        public var maxAttempts: Int?
        public var timeoutSeconds: Double?
        /// The artifact name (default `<pipeline>.<step>`).
        public var output: String?

        public init(name: String, kind: String, params: JSONValue = .object([:]), after: [String] = [], inputs: [String: String] = [:],
                    fanOut: FanOut? = nil, queue: String? = nil, maxAttempts: Int? = nil, timeoutSeconds: Double? = nil, output: String? = nil) {
            self.name = name; self.kind = kind; self.params = params; self.after = after; self.inputs = inputs; self.fanOut = fanOut
            self.queue = queue; self.maxAttempts = maxAttempts; self.timeoutSeconds = timeoutSeconds; self.output = output
        }

        /// Every step this one waits for.
        public var dependencies: [String] { Array(Set(after + inputs.values)).sorted() }
    }

    /// One child job per item of `over` (a template resolving to a list); `min_success` is the share of
    /// children that must succeed for the step to succeed (1 = all; 0.8 = continue above 80 %).
    public struct FanOut: Sendable, Codable, Equatable {
        public var over: String
        public var itemName: String
        public var minSuccess: Double
        public init(over: String, itemName: String, minSuccess: Double) {
            self.over = over; self.itemName = itemName; self.minSuccess = minSuccess
        }
    }

    /// Loads and validates a definition file.
    public static func load(file: String, registry: JobRegistry) throws -> PipelineDefinition {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw TwinError.notFound("pipeline definition \(file) not found")
        }
        return try parse(text, file: file, registry: registry)
    }

    /// Parses and validates YAML text; errors name the file, line and key.
    public static func parse(_ text: String, file: String, registry: JobRegistry) throws -> PipelineDefinition {
        let doc = try YAMLDocument(text: text, file: file)
        guard case .object(let root) = doc.root else { throw doc.error("", "the document must be a mapping") }
        let known: Set<String> = ["name", "description", "parameters", "steps"]
        for key in root.keys where !known.contains(key) { throw doc.error(key, "unknown key (expected \(known.sorted().joined(separator: ", ")))") }
        guard let name = root["name"]?.stringValue, JobQueue.isName(name) else { throw doc.error("name", "required: a pipeline name (letters, digits, - _ .)") }
        var params: [Parameter] = []
        if let p = root["parameters"] {
            guard case .object(let map) = p else { throw doc.error("parameters", "expected a mapping of parameter names") }
            for (pname, spec) in map.sorted(by: { $0.key < $1.key }) {
                let path = "parameters.\(pname)"
                var type = ParameterType.string
                var def: JSONValue?
                if case .object(let o) = spec {
                    guard let t = o["type"]?.stringValue, let pt = ParameterType(rawValue: t) else {
                        throw doc.error("\(path).type", "expected one of \(ParameterType.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    type = pt
                    def = o["default"]
                    if let d = def, !Self.matches(d, type) { throw doc.error("\(path).default", "expected a \(type.rawValue), got \(d.jsonText)") }
                } else {
                    throw doc.error(path, "expected {type: …, default: …}")
                }
                params.append(Parameter(name: pname, type: type, defaultValue: def))
            }
        }
        guard case .array(let stepNodes)? = root["steps"], !stepNodes.isEmpty else { throw doc.error("steps", "required: a non-empty list of steps") }
        var steps: [Step] = []
        for (i, node) in stepNodes.enumerated() {
            let path = "steps[\(i)]"
            guard case .object(let o) = node else { throw doc.error(path, "expected a mapping") }
            let allowed: Set<String> = ["name", "kind", "params", "after", "inputs", "fan_out", "queue", "max_attempts", "timeout_seconds", "output"]
            for key in o.keys where !allowed.contains(key) { throw doc.error("\(path).\(key)", "unknown key (expected \(allowed.sorted().joined(separator: ", ")))") }
            guard let sname = o["name"]?.stringValue, JobQueue.isName(sname), !sname.contains("|") else { throw doc.error("\(path).name", "required: a step name") }
            guard !steps.contains(where: { $0.name == sname }) else { throw doc.error("\(path).name", "duplicate step \"\(sname)\"") }
            guard let kind = o["kind"]?.stringValue else { throw doc.error("\(path).kind", "required: a job kind") }
            guard registry.contains(kind) else { throw doc.error("\(path).kind", "unknown job kind \"\(kind)\" (known: \(registry.kinds.joined(separator: ", ")))") }
            let stepParams = o["params"] ?? .object([:])
            guard case .object = stepParams else { throw doc.error("\(path).params", "expected a mapping") }
            var after: [String] = []
            if let a = o["after"] {
                switch a {
                case .string(let s): after = [s]
                case .array(let items): after = try items.map { guard let s = $0.stringValue else { throw doc.error("\(path).after", "expected step names") }; return s }
                default: throw doc.error("\(path).after", "expected a step name or a list of them")
                }
            }
            var inputs: [String: String] = [:]
            if let inp = o["inputs"] {
                guard case .object(let m) = inp else { throw doc.error("\(path).inputs", "expected a mapping of input name to step") }
                for (k, v) in m { guard let s = v.stringValue else { throw doc.error("\(path).inputs.\(k)", "expected a step name") }; inputs[k] = s }
            }
            var fan: FanOut?
            if let f = o["fan_out"] {
                guard case .object(let fo) = f, let over = fo["over"]?.stringValue else { throw doc.error("\(path).fan_out", "expected {over: \"${…}\", as: item, min_success: 1.0}") }
                let minSuccess: Double
                if let ms = fo["min_success"] {
                    guard case .number(let v) = ms, v >= 0, v <= 1 else { throw doc.error("\(path).fan_out.min_success", "expected a number between 0 and 1") }
                    minSuccess = v
                } else { minSuccess = 1 }
                fan = FanOut(over: over, itemName: fo["as"]?.stringValue ?? "item", minSuccess: minSuccess)
            }
            steps.append(Step(name: sname, kind: kind, params: stepParams, after: after, inputs: inputs, fanOut: fan,
                              queue: o["queue"]?.stringValue, maxAttempts: o["max_attempts"]?.intValue,
                              timeoutSeconds: { if case .number(let v)? = o["timeout_seconds"] { return v }; return nil }(),
                              output: o["output"]?.stringValue))
        }
        let def = PipelineDefinition(name: name, description: root["description"]?.stringValue ?? "", parameters: params, steps: steps)
        // References and cycles.
        for (i, s) in steps.enumerated() {
            for d in s.dependencies where !steps.contains(where: { $0.name == d }) {
                let key = s.after.contains(d) ? "after" : "inputs"
                throw doc.error("steps[\(i)].\(key)", "step \"\(s.name)\" needs \"\(d)\", which is not a step of this pipeline")
            }
        }
        if let cycle = def.findCycle() {
            throw TwinError.invalidInput("\(file): steps form a cycle: \(cycle.joined(separator: " → "))")
        }
        return def
    }

    static func matches(_ v: JSONValue, _ t: ParameterType) -> Bool {
        switch (t, v) {
        case (.string, .string), (.bool, .bool), (.list, .array), (.object, .object): true
        case (.float, .number): true
        case (.int, .number(let n)): n.rounded() == n
        default: false
        }
    }

    /// A cycle among the steps, if any (as step names, first repeated at the end).
    func findCycle() -> [String]? {
        var state: [String: Int] = [:]   // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ n: String) -> [String]? {
            if state[n] == 2 { return nil }
            if state[n] == 1 { return Array(stack[stack.firstIndex(of: n)!...]) + [n] }
            state[n] = 1; stack.append(n)
            for d in steps.first(where: { $0.name == n })?.dependencies ?? [] { if let c = visit(d) { return c } }
            stack.removeLast(); state[n] = 2
            return nil
        }
        for s in steps { if let c = visit(s.name) { return c } }
        return nil
    }

    /// The run's parameters: defaults overridden by `overrides`, type-checked; errors name the parameter.
    public func resolveParameters(_ overrides: [String: JSONValue]) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (k, _) in overrides where !parameters.contains(where: { $0.name == k }) {
            throw TwinError.invalidInput("unknown parameter \"\(k)\" for pipeline \(name) (known: \(parameters.map(\.name).joined(separator: ", ")))")
        }
        for p in parameters {
            guard let v = overrides[p.name] ?? p.defaultValue else {
                throw TwinError.invalidInput("parameter \"\(p.name)\" of pipeline \(name) is required")
            }
            guard Self.matches(v, p.type) else {
                throw TwinError.invalidInput("parameter \"\(p.name)\": expected a \(p.type.rawValue), got \(v.jsonText)")
            }
            out[p.name] = v
        }
        return out
    }

    /// Parses `--set key=value`: the value as JSON when it parses, else as a string (or a typed scalar).
    public func parseOverride(_ text: String) throws -> (String, JSONValue) {
        guard let eq = text.firstIndex(of: "=") else { throw TwinError.invalidInput("--set expects key=value, got \"\(text)\"") }
        let key = String(text[..<eq]), raw = String(text[text.index(after: eq)...])
        let type = parameters.first(where: { $0.name == key })?.type
        if type == .string { return (key, .string(raw)) }
        if let v = try? JSONValue.parse(raw) { return (key, v) }
        if type == .list { return (key, .array(raw.split(separator: ",").map { .string(String($0)) })) }
        return (key, .string(raw))
    }
}
