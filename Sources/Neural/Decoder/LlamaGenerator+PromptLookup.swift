/// Statistics of a prompt-lookup speculative generation.
public struct SpeculationStats: Sendable {
    /// Draft tokens proposed.
    public var drafted = 0
    /// Draft tokens the model confirmed.
    public var accepted = 0
    /// Forward steps run after prefill.
    public var steps = 0

    /// Empty statistics.
    public init() {}
}

extension LlamaGenerator {
    /// Greedy generation with prompt-lookup speculative decoding: after each token, up to `draftLength`
    /// tokens that followed the latest earlier occurrence of the last `ngram` tokens (in the prompt or the
    /// output) are proposed and verified in one batched forward pass. Each row of a batch is computed
    /// exactly as a single-row step would be, so the output is identical to plain greedy decoding.
    public func generateWithPromptLookup(
        prompt: [Int], parameters: SamplingParameters, draftLength: Int = 6, ngram: Int = 2,
        onText: (String) -> Bool = { _ in true }
    ) throws(GenerationError) -> (result: GenerationResult, stats: SpeculationStats) {
        try parameters.validate()
        guard parameters.temperature == 0, parameters.repetitionPenalty == 1 else {
            throw .invalidParameter("prompt-lookup decoding is greedy only (temperature 0, repetition penalty 1)")
        }
        guard draftLength >= 1, draftLength < engine.maxRows, ngram >= 1 else {
            throw .invalidParameter("draft length must be in 1..<\(engine.maxRows) and n-gram ≥ 1")
        }
        guard !prompt.isEmpty else { throw .invalidParameter("the prompt is empty") }
        guard prompt.count < contextLength else {
            throw .promptTooLong("the prompt has \(prompt.count) tokens; the context holds \(contextLength) (prompt + at least one new token)")
        }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw .invalidParameter("prompt token \(bad) is outside the vocabulary")
        }
        let vocab = model.config.vocabSize
        let clock = ContinuousClock()
        let start = clock.now
        var next = Self.argmax(prefill(prompt))
        let prefillEnd = clock.now
        let firstTokenAt = prefillEnd
        var history = prompt
        var generated: [Int] = []
        var decoder = BPEStreamDecoder(tokenizer: model.tokenizer)
        var stops = StopStringMatcher(parameters.stopStrings)
        var text = ""
        var stats = SpeculationStats()
        var reason = FinishReason.maxTokens

        /// Emits one token; returns a finish reason when generation must end.
        func emit(_ token: Int) -> FinishReason? {
            if token == model.tokenizer.eosId { return .endOfSequence }
            generated.append(token)
            history.append(token)
            let (piece, stopped) = stops.feed(decoder.append(token))
            if !piece.isEmpty {
                text += piece
                if !onText(piece) { return .cancelled }
            }
            if stopped { return .stopString }
            if generated.count >= parameters.maxNewTokens { return .maxTokens }
            return nil
        }

        loop: while true {
            if let r = emit(next) {
                reason = r
                break
            }
            let room = min(contextLength - cache.count - 1, parameters.maxNewTokens - generated.count)
            guard room >= 0, cache.count < contextLength else {
                reason = .contextFull
                break
            }
            let drafts = Array(Self.lookup(history, ngram: ngram, limit: min(draftLength, room)))
            let base = cache.count
            var rows = [LlamaEngine.Row(cache: cache, position: base, token: next, wantsLogits: true)]
            for (i, d) in drafts.enumerated() {
                rows.append(.init(cache: cache, position: base + 1 + i, token: d, wantsLogits: true))
            }
            // Each row computes exactly what a one-row step would: the output equals plain greedy's.
            engine.step(rows, order: .single)
            stats.steps += 1
            stats.drafted += drafts.count
            var accepted = 0
            var predicted = Self.argmax(UnsafeMutableBufferPointer(start: engine.logits, count: vocab))
            while accepted < drafts.count && predicted == drafts[accepted] {
                accepted += 1
                stats.accepted += 1
                if let r = emit(drafts[accepted - 1]) {
                    reason = r
                    break loop
                }
                predicted = Self.argmax(UnsafeMutableBufferPointer(start: engine.logits + accepted * vocab, count: vocab))
            }
            // Forget the keys/values of rejected drafts.
            cache.truncate(to: base + 1 + accepted)
            next = predicted
        }
        if reason != .stopString && reason != .cancelled {
            let rest = stops.finish(decoder.finish())
            if !rest.isEmpty {
                text += rest
                _ = onText(rest)
            }
        }
        let end = clock.now
        let result = GenerationResult(
            text: text, tokens: generated, promptTokens: prompt.count, finishReason: reason,
            timeToFirstToken: firstTokenAt - start, prefillDuration: prefillEnd - start, decodeDuration: end - firstTokenAt)
        return (result, stats)
    }

    /// The tokens that followed the latest earlier occurrence of the last `ngram` tokens of `history`.
    static func lookup(_ history: [Int], ngram: Int, limit: Int) -> ArraySlice<Int> {
        guard limit > 0, history.count > ngram else { return [] }
        let tail = history[(history.count - ngram)...]
        var i = history.count - ngram - 1
        while i >= 0 {
            if history[i..<(i + ngram)].elementsEqual(tail) {
                let from = i + ngram
                return history[from..<min(history.count, from + limit)]
            }
            i -= 1
        }
        return []
    }

    static func argmax(_ l: UnsafeMutableBufferPointer<Float>) -> Int {
        Sampler.argmax(UnsafeBufferPointer(l))
    }
}
