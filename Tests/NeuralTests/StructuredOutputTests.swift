import Foundation
import Testing
@testable import Neural

struct StructuredOutputTests {
    static let model: LlamaModel? = try? LlamaModel(path: TestModels.smolLMPath)

    static let person = JSONSchema.object(properties: [
        ("name", .string(maxLength: 40)), ("age", .integer), ("height", .number), ("student", .boolean),
        ("colour", .enumeration(["\"red\"", "\"green\"", "\"blue\""])), ("tags", .array(items: .string(maxLength: 20), maxItems: 3)),
    ], required: ["name", "age"])

    static let list = JSONSchema.array(items: .object(properties: [("question", .string(maxLength: 80)), ("answer", .string(maxLength: 80))], required: ["question", "answer"]), maxItems: 2)

    /// A scalar JSON value written back as JSON text.
    private func jsonText(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: [value]) else { return "" }
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    /// Checks a parsed JSON value against the schema.
    private func validates(_ value: Any, _ schema: JSONSchema) -> Bool {
        switch schema {
        case let .object(props, required):
            guard let d = value as? [String: Any] else { return false }
            return required.allSatisfy { d[$0] != nil } && props.allSatisfy { p in d[p.name].map { validates($0, p.schema) } ?? true }
        case let .array(items, maxItems):
            guard let a = value as? [Any] else { return false }
            return a.count <= maxItems && a.allSatisfy { validates($0, items) }
        case let .string(maxLength):
            guard let s = value as? String else { return false }
            return s.count <= maxLength
        case .number: return !(value is String) && Double(jsonText(value)) != nil
        case .integer: return !(value is String) && Int(jsonText(value)) != nil
        case .boolean: return ["true", "false"].contains(jsonText(value))
        case let .enumeration(values): return values.contains(jsonText(value))
        }
    }

    @Test func constrainedOutputsAlwaysParseAndValidate() throws {
        let model = try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
        let generator = LlamaGenerator(model: model, contextLength: 512, threads: 2)
        let prompts = [
            ("Describe a fictional person as JSON.", Self.person),
            ("Give two questions and answers about the sea as JSON.", Self.list),
        ]
        var outputs = 0
        for (prompt, schema) in prompts {
            for seed: UInt64? in [nil, 1, 2] {
                var params = SamplingParameters()
                params.maxNewTokens = 400
                if let seed {
                    params.temperature = 1.0
                    params.seed = seed
                }
                let tokens = try generator.chatPrompt([ChatMessage(role: "user", content: prompt)])
                let constraint = try JSONSchemaConstraint(schema: schema, tokenizer: model.tokenizer)
                let result = try generator.generate(prompt: tokens, parameters: params, constraint: constraint)
                let parsed = try? JSONSerialization.jsonObject(with: Data(result.text.utf8))
                #expect(parsed != nil, "does not parse: \(result.text)")
                if let parsed { #expect(validates(parsed, schema), "does not validate: \(result.text)") }
                outputs += 1
            }
        }
        #expect(outputs == 6)
    }

    @Test func constraintAcceptsExactlyValidPrefixes() throws {
        let model = try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
        let tok = model.tokenizer
        let schema = JSONSchema.object(properties: [("n", .integer), ("ok", .boolean)], required: ["n"])
        var c = try JSONSchemaConstraint(schema: schema, tokenizer: tok)
        for id in tok.encode("{\"n\":12,\"ok\":true}") {
            #expect(c.allows(id), "token \(tok.decode([id]).debugDescription)")
            c.accept(id)
        }
        #expect(c.isComplete)
        let fresh = try JSONSchemaConstraint(schema: schema, tokenizer: tok)
        #expect(!fresh.allows(tok.encode("[")[0]))
        #expect(!fresh.allows(tok.eosId))
    }

    @Test func rejectsInvalidSchemas() throws {
        let model = try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
        #expect(throws: GenerationError.self) { try JSONSchemaConstraint(schema: .string(maxLength: 5), tokenizer: model.tokenizer) }
        #expect(throws: GenerationError.self) {
            try JSONSchemaConstraint(schema: .object(properties: [("a", .number)], required: ["b"]), tokenizer: model.tokenizer)
        }
        #expect(throws: GenerationError.self) { try JSONSchemaConstraint(schema: .array(items: .enumeration([]), maxItems: 2), tokenizer: model.tokenizer) }
    }
}
