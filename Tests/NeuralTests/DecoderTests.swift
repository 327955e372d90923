import Foundation
import Testing
@testable import Neural

/// The Llama forward pass against llama.cpp's outputs on the same GGUF file.
struct DecoderTests {
    struct LogitCase: Decodable {
        var prompt_ids: [Int]
        var top_ids: [Int]
        var top_values: [Float]
        var fixed_ids: [Int]
        var fixed_values: [Float]
    }

    struct GreedyCase: Decodable {
        var prompt_ids: [Int]
        var output_ids: [Int]
        var top_two_gaps: [Float]
        var text: String
    }

    static let model: LlamaModel? = try? LlamaModel(path: TestModels.smolLMPath)

    private func model() throws -> LlamaModel {
        try #require(Self.model, "model file missing at \(TestModels.smolLMPath)")
    }

    @Test func firstStepLogitsMatchLlamaCpp() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 256, threads: 2)
        for c in try TestModels.fixture("logits.json", as: [LogitCase].self) {
            let logits = generator.prefill(c.prompt_ids)
            var worst: Float = 0
            var total: Float = 0
            let pairs = Array(zip(c.top_ids + c.fixed_ids, c.top_values + c.fixed_values))
            for (id, value) in pairs {
                worst = max(worst, abs(logits[id] - value))
                total += abs(logits[id] - value)
            }
            if ProcessInfo.processInfo.environment["TWIN_DEBUG_LOGITS"] != nil {
                print("mean", total / Float(pairs.count), "worst", worst, "ours", c.top_ids.prefix(6).map { logits[$0] }, "theirs", c.top_values.prefix(6))
            }
            // The engine reproduces llama.cpp's arithmetic operation for operation (8-bit activations, lane
            // order of the integer and f16 products, its exp): logits equal its logits up to the fixture's
            // 4-decimal rounding, far inside the 0.15 bound.
            #expect(worst <= 0.001, "prompt \(c.prompt_ids.prefix(6))…: worst logit difference \(worst) (mean \(total / Float(pairs.count)))")
            // The top token agrees unless llama.cpp's own top two are a near-tie.
            let ours = logits.indices.max { logits[$0] < logits[$1] }!
            #expect(ours == c.top_ids[0] || c.top_values[0] - c.top_values[1] < 0.2)
        }
    }

    @Test func prefillAndStepwiseDecodeAgree() throws {
        // A row's arithmetic does not depend on what else is in the batch: a 45-row step in the one-row
        // (decode) order and 45 one-row steps give bit-identical logits; the batch (prefill) order,
        // llama.cpp's tinyBLAS one, differs only in the attention sums' rounding.
        let model = try model()
        let prompt = model.tokenizer.encode(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 4))
        let engine = LlamaEngine(model: model, maxRows: 64, maxContext: 128, threads: 2)
        let a = LlamaKVCache(config: model.config, capacity: 128)
        let rows: (LlamaKVCache) -> [LlamaEngine.Row] = { cache in
            prompt.enumerated().map { .init(cache: cache, position: $0.offset, token: $0.element, wantsLogits: $0.offset == prompt.count - 1) }
        }
        engine.step(rows(a), order: .single)
        let batched = Array(engine.logits(ofRequest: 0))
        let c = LlamaKVCache(config: model.config, capacity: 128)
        engine.step(rows(c))
        let prefillOrder = Array(engine.logits(ofRequest: 0))
        let b = LlamaKVCache(config: model.config, capacity: 128)
        for (i, t) in prompt.enumerated() { engine.step([.init(cache: b, position: i, token: t, wantsLogits: true)]) }
        let stepwise = Array(engine.logits(ofRequest: 0))
        let worst = zip(batched, stepwise).map { abs($0 - $1) }.max()!
        #expect(worst == 0, "worst difference \(worst)")
        let orderWorst = zip(prefillOrder, stepwise).map { abs($0 - $1) }.max()!
        #expect(orderWorst < 0.75, "batch vs single order: worst difference \(orderWorst)")
    }

    @Test func greedyContinuationsMatchLlamaCppUpToNearTies() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 512, threads: 2)
        let cases = try TestModels.fixture("greedy.json", as: [GreedyCase].self)
        var params = SamplingParameters()
        params.maxNewTokens = 64
        var compared = 0
        for c in cases {
            let result = try generator.generate(prompt: c.prompt_ids, parameters: params)
            let ours = result.tokens + (result.finishReason == .endOfSequence ? [2] : [])
            // Identical up to the end, or up to the first step where llama.cpp's own top two are < 0.2 apart.
            var i = 0
            while i < min(ours.count, c.output_ids.count) && ours[i] == c.output_ids[i] { i += 1 }
            let reachedEnd = i == c.output_ids.count
            let nearTie = i < c.top_two_gaps.count && c.top_two_gaps[i] < 0.2
            #expect(reachedEnd || nearTie,
                "diverged at step \(i) (gap \(i < c.top_two_gaps.count ? c.top_two_gaps[i] : -1)): ours \(model.tokenizer.decode(ours).debugDescription) vs \(c.text.debugDescription)")
            compared += i
        }
        #expect(compared >= 48, "only \(compared) tokens compared")
    }

    @Test func promptLongerThanContextIsAnError() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 32, threads: 1)
        #expect {
            _ = try generator.generate(prompt: Array(repeating: 504, count: 40), parameters: SamplingParameters())
        } throws: { error in
            (error as? GenerationError)?.message.contains("the context holds 32") == true
        }
    }

    @Test func generationRespectsMaxTokensAndStopStrings() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 256, threads: 2)
        let prompt = try generator.chatPrompt([ChatMessage(role: "user", content: "List three fruits that are red.")])
        var params = SamplingParameters()
        params.maxNewTokens = 5
        let short = try generator.generate(prompt: prompt, parameters: params)
        #expect(short.tokens.count == 5 && short.finishReason == .maxTokens)
        params.maxNewTokens = 40
        params.stopStrings = ["2."]
        var streamed = ""
        let stopped = try generator.generate(prompt: prompt, parameters: params) { streamed += $0; return true }
        #expect(stopped.finishReason == .stopString)
        #expect(stopped.text == streamed)
        #expect(!stopped.text.contains("2.") && stopped.text.contains("1."))
    }

    @Test func seededSamplingIsReproducible() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 256, threads: 2)
        let prompt = try generator.chatPrompt([ChatMessage(role: "user", content: "Tell me a story.")])
        var params = SamplingParameters()
        params.temperature = 0.9
        params.topP = 0.95
        params.topK = 40
        params.minP = 0.05
        params.repetitionPenalty = 1.1
        params.maxNewTokens = 16
        params.seed = 42
        let a = try generator.generate(prompt: prompt, parameters: params)
        let b = try generator.generate(prompt: prompt, parameters: params)
        #expect(a.tokens == b.tokens)
        params.seed = 7
        let c = try generator.generate(prompt: prompt, parameters: params)
        #expect(c.tokens != a.tokens)
    }

    @Test func streamYieldsTheSameText() async throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 256, threads: 2)
        let prompt = try generator.chatPrompt([ChatMessage(role: "user", content: "What is the capital of France?")])
        var params = SamplingParameters()
        params.maxNewTokens = 12
        var pieces: [String] = []
        for try await piece in generator.stream(prompt: prompt, parameters: params) { pieces.append(piece) }
        let direct = try generator.generate(prompt: prompt, parameters: params)
        #expect(pieces.count > 1)
        #expect(pieces.joined() == direct.text)
    }

    @Test func promptLookupEqualsPlainGreedy() throws {
        let model = try model()
        let generator = LlamaGenerator(model: model, contextLength: 512, threads: 2)
        let passage = "The lighthouse keeper climbed the spiral stairs every evening at dusk, lit the great lamp, and watched the ships pass safely along the rocky coast."
        let prompt = try generator.chatPrompt([ChatMessage(role: "user", content: "Repeat this sentence exactly: \(passage)")])
        var params = SamplingParameters()
        params.maxNewTokens = 48
        let plain = try generator.generate(prompt: prompt, parameters: params)
        let (fast, stats) = try generator.generateWithPromptLookup(prompt: prompt, parameters: params)
        #expect(fast.tokens == plain.tokens)
        #expect(fast.text == plain.text)
        #expect(stats.accepted > 0, "no draft accepted: \(stats)")
        #expect(stats.steps < fast.tokens.count)
        #expect(throws: GenerationError.self) {
            var sampled = params
            sampled.temperature = 0.5
            _ = try generator.generateWithPromptLookup(prompt: prompt, parameters: sampled)
        }
    }
}
