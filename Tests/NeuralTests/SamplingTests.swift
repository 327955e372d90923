import Testing
@testable import Neural

struct SamplingTests {
    private func sampler(_ configure: (inout SamplingParameters) -> Void) throws -> Sampler {
        var p = SamplingParameters()
        configure(&p)
        return try Sampler(parameters: p, vocabularySize: 8)
    }

    @Test func invalidParametersAreClearErrors() {
        let cases: [(String, (inout SamplingParameters) -> Void)] = [
            ("temperature", { $0.temperature = -1 }), ("temperature", { $0.temperature = .nan }),
            ("top-k", { $0.topK = -1 }), ("top-p", { $0.topP = 0 }), ("top-p", { $0.topP = 1.5 }),
            ("min-p", { $0.minP = 1 }), ("repetition penalty", { $0.repetitionPenalty = 0 }),
            ("max new tokens", { $0.maxNewTokens = 0 }), ("stop strings", { $0.stopStrings = [""] }),
        ]
        for (name, configure) in cases {
            var p = SamplingParameters()
            configure(&p)
            #expect {
                try p.validate()
            } throws: { error in
                (error as? GenerationError)?.message.contains(name) == true
            }
        }
    }

    /// The vectorised argmax picks what a plain scan picks: the first of equal maxima, across lanes and
    /// in the ragged tail; NaN never wins; nothing above −∞ gives -1.
    @Test func argmaxIsTheFirstMaximum() {
        func plain(_ v: [Float]) -> Int {
            var best = -1, top = -Float.infinity
            for (i, x) in v.enumerated() where x > top { best = i; top = x }
            return best
        }
        var rng = SeededGenerator(seed: 7)
        for n in [0, 1, 5, 16, 17, 33, 100, 49152] {
            var v = (0..<n).map { _ in Float(Int(rng.nextUnit() * 8)) }  // few distinct values: many ties
            #expect(v.withUnsafeBufferPointer { Sampler.argmax($0) } == plain(v), "\(n) values")
            if n > 3 {
                v[1] = .nan
                v[n - 1] = 9  // the maximum in the tail (or last lane)
                #expect(v.withUnsafeBufferPointer { Sampler.argmax($0) } == n - 1)
                v[n / 2] = 9  // an earlier equal maximum wins
                #expect(v.withUnsafeBufferPointer { Sampler.argmax($0) } == n / 2)
            }
        }
        let dead = [Float](repeating: -.infinity, count: 40) + [.nan]
        #expect(dead.withUnsafeBufferPointer { Sampler.argmax($0) } == -1)
    }

    @Test func greedyTopKTopPMinP() throws {
        let logits: [Float] = [1, 5, 3, 4.9, -2, 0, 0, 0]
        try logits.withUnsafeBufferPointer { l in
            #expect(try sampler { _ in }.sample(l) == 1)
            #expect(try sampler { _ in }.sample(l) { $0 != 1 } == 3)
            // top-k 1 at any temperature is greedy.
            let k1 = try sampler { $0.temperature = 5; $0.topK = 1; $0.seed = 1 }
            for _ in 0..<20 { #expect(k1.sample(l) == 1) }
            // top-p small keeps only the most likely token.
            let p = try sampler { $0.temperature = 1; $0.topP = 0.01; $0.seed = 2 }
            for _ in 0..<20 { #expect(p.sample(l) == 1) }
            // min-p 0.5 keeps tokens 1 and 3 (exp(-0.1) ≈ 0.9 of the top), drops the rest.
            let m = try sampler { $0.temperature = 1; $0.minP = 0.5; $0.seed = 3 }
            var seen = Set<Int>()
            for _ in 0..<200 { seen.insert(m.sample(l)) }
            #expect(seen == [1, 3])
        }
    }

    @Test func repetitionPenaltyDemotesSeenTokens() throws {
        var logits: [Float] = [1, 5, 3, 4.9, -2, 0, 0, 0]
        let s = try sampler { $0.repetitionPenalty = 2 }
        logits.withUnsafeMutableBufferPointer { s.penalize($0, history: [1, 4][...]) }
        #expect(logits[1] == 2.5 && logits[4] == -4)
        #expect(logits.withUnsafeBufferPointer { s.sample($0) } == 3)
    }

    @Test func seededGeneratorIsDeterministic() {
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9), c = SeededGenerator(seed: 10)
        let xs = (0..<5).map { _ in a.next() }
        #expect(xs == (0..<5).map { _ in b.next() })
        #expect(xs != (0..<5).map { _ in c.next() })
        for _ in 0..<1000 { let u = a.nextUnit(); #expect(u >= 0 && u < 1) }
    }

    @Test func stopStringsAreHeldBackAndCut() {
        var m = StopStringMatcher(["</end>", "STOP"])
        #expect(m.feed("hello </") == ("hello ", false))
        #expect(m.feed("e") == ("", false))
        #expect(m.feed("x more") == ("</ex more", false))
        #expect(m.feed(" ST") == (" ", false))
        #expect(m.feed("OP tail") == ("", true))
        var n = StopStringMatcher(["##"])
        #expect(n.feed("a#") == ("a", false))
        #expect(n.finish("b") == "#b")
    }

    @Test func chatTemplateMatchesTheModelsJinja() throws {
        let jinja = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        let t = try ChatTemplate(jinja: jinja)
        #expect(t.defaultSystem == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        #expect(t.render([ChatMessage(role: "user", content: "Hi")]) ==
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.render([ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "U"), ChatMessage(role: "assistant", content: "A")], addGenerationPrompt: false) ==
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n")
        #expect(throws: GenerationError.self) { try ChatTemplate(jinja: "{{ bos_token }}[INST] {{ message }} [/INST]") }
    }

    @Test func alpacaTemplateIsTheTrainingFormat() {
        #expect(AlpacaTemplate.prompt(instruction: "Write a tweet.") ==
            "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nWrite a tweet.\n\n### Response:\n")
        #expect(AlpacaTemplate.sample(instruction: "I", response: "R").hasSuffix("### Response:\nR"))
    }
}
