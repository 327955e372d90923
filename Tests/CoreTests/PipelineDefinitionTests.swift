import Testing
@testable import Core

struct PipelineDefinitionTests {
    var registry: JobRegistry {
        var r = JobRegistry()
        BuiltinHandlers.register(into: &r)
        return r
    }

    func parse(_ text: String) throws -> PipelineDefinition {
        try PipelineDefinition.parse(text, file: "p.yaml", registry: registry)
    }

    @Test func parsesParametersStepsAndFanOut() throws {
        let def = try parse("""
            name: demo
            parameters:
              items: {type: list, default: [1, 2]}
              n: {type: int, default: 3}
            steps:
              - name: a
                kind: echo
                params: {n: "${params.n}"}
              - name: b
                kind: echo
                inputs: {x: a}
                fan_out: {over: "${params.items}", as: it, min_success: 0.5}
            """)
        #expect(def.steps.map(\.name) == ["a", "b"])
        #expect(def.steps[1].dependencies == ["a"])
        #expect(def.steps[1].fanOut == .init(over: "${params.items}", itemName: "it", minSuccess: 0.5))
        #expect(try def.resolveParameters(["n": .number(5)])["n"] == .number(5))
    }

    @Test func rejectsCyclesUnknownKindsMissingInputsAndTypeErrorsWithFileAndLine() {
        let cases: [(String, String)] = [
            ("name: p\nsteps:\n  - name: a\n    kind: echo\n    after: b\n  - name: b\n    kind: echo\n    after: a\n", "cycle"),
            ("name: p\nsteps:\n  - name: a\n    kind: frobnicate\n", "p.yaml:4: steps[0].kind: unknown job kind \"frobnicate\""),
            ("name: p\nsteps:\n  - name: a\n    kind: echo\n    inputs: {x: ghost}\n", "needs \"ghost\""),
            ("name: p\nparameters:\n  n: {type: int, default: many}\nsteps:\n  - name: a\n    kind: echo\n", "p.yaml:3: parameters.n.default: expected a int"),
            ("name: p\nsteps: []\n", "steps: required"),
            ("name: p\nsteps:\n  - name: a\n    kind: echo\n    colour: red\n", "unknown key"),
            ("name: p\nsteps: [\n", "not valid YAML"),
        ]
        for (text, expected) in cases {
            #expect { try parse(text) } throws: { "\($0)".contains(expected) }
        }
    }

    @Test func parameterOverridesAreTypeChecked() throws {
        let def = try parse("name: p\nparameters:\n  n: {type: int}\nsteps:\n  - name: a\n    kind: echo\n")
        #expect { try def.resolveParameters([:]) } throws: { "\($0)".contains("required") }
        #expect { try def.resolveParameters(["n": .string("x")]) } throws: { "\($0)".contains("expected a int") }
        #expect { try def.resolveParameters(["m": .number(1)]) } throws: { "\($0)".contains("unknown parameter") }
    }

    @Test func templatesResolveTypedAndInterpolated() throws {
        let scope: [String: JSONValue] = ["params": .object(["n": .number(3), "who": .string("Ana")])]
        #expect(try Templates.resolve(.string("${params.n}"), scope: scope, context: "t") == .number(3))
        #expect(try Templates.resolve(.string("hi ${params.who} x${params.n}"), scope: scope, context: "t") == .string("hi Ana x3"))
        #expect { try Templates.resolve(.string("${params.nope}"), scope: scope, context: "t") } throws: { "\($0)".contains("nope") }
    }
}
