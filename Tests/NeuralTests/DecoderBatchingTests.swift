import Testing
@testable import Neural

struct DecoderBatchingTests {
    static let model: LlamaModel? = try? LlamaModel(path: TestModels.smolLMPath)

    @Test func concurrentRequestsMatchSequentialGreedy() async throws {
        let model = try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
        let scheduler = LlamaBatchScheduler(model: model, maxSequences: 3, contextLength: 256, threads: 2)
        let generator = LlamaGenerator(model: model, contextLength: 256, threads: 2)
        let questions = ["What is the capital of France?", "List three fruits that are red.", "Say hello.", "Name a planet."]
        var params = SamplingParameters()
        var expected: [String] = []
        var prompts: [[Int]] = []
        for (i, q) in questions.enumerated() {
            params.maxNewTokens = 8 + 4 * i  // sequences leave the batch at different steps
            let prompt = try generator.chatPrompt([ChatMessage(role: "user", content: q)])
            prompts.append(prompt)
            expected.append(try generator.generate(prompt: prompt, parameters: params).text)
        }
        // Four requests on three slots: the fourth joins when the first leaves.
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (i, prompt) in prompts.enumerated() {
                var p = SamplingParameters()
                p.maxNewTokens = 8 + 4 * i
                let stream = scheduler.submit(prompt: prompt, parameters: p)
                group.addTask {
                    var text = ""
                    for try await piece in stream { text += piece }
                    return (i, text)
                }
            }
            var out = [String](repeating: "", count: prompts.count)
            for try await (i, text) in group { out[i] = text }
            return out
        }
        #expect(results == expected)
    }

    @Test func badRequestsFailThroughTheStream() async throws {
        let model = try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
        let scheduler = LlamaBatchScheduler(model: model, maxSequences: 2, contextLength: 32, threads: 1)
        await #expect(throws: GenerationError.self) {
            for try await _ in scheduler.submit(prompt: Array(repeating: 504, count: 40), parameters: SamplingParameters()) {}
        }
        var bad = SamplingParameters()
        bad.topP = 3
        await #expect(throws: GenerationError.self) {
            for try await _ in scheduler.submit(prompt: [504], parameters: bad) {}
        }
    }
}
