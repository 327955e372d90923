import Dispatch

/// Why a generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// The model produced its end-of-sequence token.
    case endOfSequence = "stop"
    /// `maxNewTokens` were produced.
    case maxTokens = "length"
    /// A stop string appeared.
    case stopString = "stop_string"
    /// The context limit was reached.
    case contextFull = "context"
    /// The callback asked to stop.
    case cancelled
}

/// The outcome of one generation, with the timings the API and benchmarks report.
public struct GenerationResult: Sendable {
    /// Generated text (stop string excluded, control tokens dropped).
    public var text: String
    /// Generated token ids (the end-of-sequence token excluded).
    public var tokens: [Int]
    /// Tokens in the prompt.
    public var promptTokens: Int
    /// Why generation ended.
    public var finishReason: FinishReason
    /// From the start of the call to the first generated token.
    public var timeToFirstToken: Duration
    /// Prefill time only.
    public var prefillDuration: Duration
    /// Time spent after the first token.
    public var decodeDuration: Duration

    /// Generated tokens per second after the first one (decode speed).
    public var tokensPerSecond: Double {
        let seconds = Double(decodeDuration.components.seconds) + Double(decodeDuration.components.attoseconds) * 1e-18
        return tokens.count > 1 && seconds > 0 ? Double(tokens.count - 1) / seconds : 0
    }
}

/// Generates text for one sequence at a time: prefill, then token by token with a KV cache, sampling,
/// stop strings and streaming. Not for concurrent use (one generator per worker thread).
public final class LlamaGenerator: @unchecked Sendable {
    // @unchecked Sendable: a generator runs one generation at a time; `stream` serialises on `queue`.

    /// The model.
    public let model: LlamaModel
    /// The engine (scratch buffers, threads).
    public let engine: LlamaEngine
    /// Most positions (prompt + generated) one generation may use.
    public let contextLength: Int
    let cache: LlamaKVCache
    private let queue = DispatchQueue(label: "twin.decoder.generate")

    /// A generator with a KV cache of `contextLength` positions (at most the trained context) and
    /// `threads` compute threads.
    public init(model: LlamaModel, contextLength: Int = 2048, threads: Int = 2) {
        self.model = model
        let length = max(16, min(contextLength, model.config.trainedContextLength))
        self.contextLength = length
        engine = LlamaEngine(model: model, maxRows: 64, maxContext: length, threads: threads)
        cache = LlamaKVCache(config: model.config, capacity: length)
    }

    /// Token ids for a chat, formatted with the model's chat template.
    public func chatPrompt(_ messages: [ChatMessage]) throws(GenerationError) -> [Int] {
        let template = try model.chatTemplate.map { (t: String) throws(GenerationError) in try ChatTemplate(jinja: t) }
            ?? ChatTemplate(defaultSystem: nil)
        return model.tokenizer.encode(template.render(messages), parseSpecial: true)
    }

    /// Runs the prompt through the model; returns the logits of its last token.
    func prefill(_ prompt: [Int]) -> UnsafeMutableBufferPointer<Float> {
        cache.truncate(to: 0)
        var start = 0
        while start < prompt.count {
            let end = min(prompt.count, start + engine.maxRows)
            let rows = (start..<end).map {
                LlamaEngine.Row(cache: cache, position: $0, token: prompt[$0], wantsLogits: $0 == prompt.count - 1)
            }
            // The whole prompt is one llama.cpp batch, also a last chunk of one row.
            engine.step(rows, order: prompt.count > 1 ? .batch : .single)
            start = end
        }
        return UnsafeMutableBufferPointer(start: engine.logits, count: model.config.vocabSize)
    }

    /// Generates a continuation of `prompt`. `onText` receives text as it is produced (never a partial
    /// character or a partial stop string) and returns false to stop early.
    public func generate(
        prompt: [Int], parameters: SamplingParameters, constraint: (any TokenConstraint)? = nil,
        onText: (String) -> Bool = { _ in true }
    ) throws(GenerationError) -> GenerationResult {
        let sampler = try Sampler(parameters: parameters, vocabularySize: model.config.vocabSize)
        guard !prompt.isEmpty else { throw .invalidParameter("the prompt is empty") }
        guard prompt.count < contextLength else {
            throw .promptTooLong("the prompt has \(prompt.count) tokens; the context holds \(contextLength) (prompt + at least one new token)")
        }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= model.config.vocabSize }) {
            throw .invalidParameter("prompt token \(bad) is outside the vocabulary")
        }
        var constraint = constraint
        let clock = ContinuousClock()
        let start = clock.now
        var logits = prefill(prompt)
        let prefillEnd = clock.now
        var firstTokenAt = prefillEnd
        var history = prompt
        var generated: [Int] = []
        var decoder = BPEStreamDecoder(tokenizer: model.tokenizer)
        var stops = StopStringMatcher(parameters.stopStrings)
        var text = ""
        var reason = FinishReason.maxTokens
        loop: while generated.count < parameters.maxNewTokens {
            sampler.penalize(logits, history: history[...])
            let next: Int
            if let c = constraint {
                next = sampler.sample(UnsafeBufferPointer(logits)) { c.allows($0) }
            } else {
                next = sampler.sample(UnsafeBufferPointer(logits))
            }
            if generated.isEmpty { firstTokenAt = clock.now }
            if next < 0 || next == model.tokenizer.eosId {
                reason = .endOfSequence
                break
            }
            generated.append(next)
            history.append(next)
            constraint?.accept(next)
            let (emit, stopped) = stops.feed(decoder.append(next))
            if !emit.isEmpty {
                text += emit
                if !onText(emit) {
                    reason = .cancelled
                    break loop
                }
            }
            if stopped {
                reason = .stopString
                break
            }
            if constraint?.isComplete == true {
                reason = .endOfSequence
                break
            }
            guard cache.count < contextLength else {
                reason = .contextFull
                break
            }
            engine.step([.init(cache: cache, position: cache.count, token: next, wantsLogits: true)])
            logits = UnsafeMutableBufferPointer(start: engine.logits, count: model.config.vocabSize)
        }
        if reason != .stopString && reason != .cancelled {
            let rest = stops.finish(decoder.finish())
            if !rest.isEmpty {
                text += rest
                _ = onText(rest)
            }
        }
        let end = clock.now
        return GenerationResult(
            text: text, tokens: generated, promptTokens: prompt.count, finishReason: reason,
            timeToFirstToken: firstTokenAt - start, prefillDuration: prefillEnd - start, decodeDuration: end - firstTokenAt)
    }

    /// The same generation as an asynchronous stream of text pieces, computed on the generator's own
    /// serial queue (never on the cooperative pool). Cancelling the consuming task stops generation.
    public func stream(prompt: [Int], parameters: SamplingParameters) -> AsyncThrowingStream<String, Error> {
        let (stream, continuation) = AsyncThrowingStream<String, Error>.makeStream(bufferingPolicy: .unbounded)
        let cancelled = CancellationFlag()
        continuation.onTermination = { _ in cancelled.set() }
        queue.async {
            do {
                _ = try self.generate(prompt: prompt, parameters: parameters) { piece in
                    continuation.yield(piece)
                    return !cancelled.isSet
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }
}

/// A flag set from another thread (stream termination) and read by the generation loop.
final class CancellationFlag: @unchecked Sendable {
    // @unchecked Sendable: the flag is only ever set to true; a late read just stops one token later.
    private var value = false
    private let lock = DispatchSemaphore(value: 1)

    func set() {
        lock.wait()
        value = true
        lock.signal()
    }

    var isSet: Bool {
        lock.wait()
        defer { lock.signal() }
        return value
    }
}
