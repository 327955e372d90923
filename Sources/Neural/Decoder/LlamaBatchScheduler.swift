import Dispatch
import Synchronization

/// Continuous batching: many generations share one engine, and every decode step runs one batched
/// forward pass over all active sequences, so concurrent requests share the weight reads. Requests join
/// (after their own prefill) and leave (on EOS, max tokens or stop string) between steps.
///
/// All model work runs on one dedicated serial queue, never on the cooperative pool.
public final class LlamaBatchScheduler: Sendable {
    /// The model.
    public let model: LlamaModel
    /// Most sequences decoded together.
    public let maxSequences: Int
    /// Context positions per sequence.
    public let contextLength: Int

    private struct Pending: @unchecked Sendable {
        // @unchecked Sendable: moved once from the submitting task to the scheduler queue.
        var prompt: [Int]
        var parameters: SamplingParameters
        var continuation: AsyncThrowingStream<String, Error>.Continuation
        var cancelled: CancellationFlag
    }

    private final class Active {
        let cache: LlamaKVCache
        let sampler: Sampler
        let parameters: SamplingParameters
        let continuation: AsyncThrowingStream<String, Error>.Continuation
        let cancelled: CancellationFlag
        var history: [Int]
        var generated = 0
        var next = 0
        var decoder: BPEStreamDecoder
        var stops: StopStringMatcher

        init(cache: LlamaKVCache, sampler: Sampler, pending: Pending, tokenizer: BPETokenizer) {
            self.cache = cache
            self.sampler = sampler
            parameters = pending.parameters
            continuation = pending.continuation
            cancelled = pending.cancelled
            history = pending.prompt
            decoder = BPEStreamDecoder(tokenizer: tokenizer)
            stops = StopStringMatcher(pending.parameters.stopStrings)
        }
    }

    private struct State: ~Copyable {
        var waiting: [Pending] = []
        var running = false
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "twin.decoder.batch")
    // nonisolated(unsafe): touched only on `queue`.
    nonisolated(unsafe) private var engine: LlamaEngine
    nonisolated(unsafe) private var active: [Active] = []
    nonisolated(unsafe) private var freeCaches: [LlamaKVCache]

    /// A scheduler decoding up to `maxSequences` sequences together, each with `contextLength` positions.
    public init(model: LlamaModel, maxSequences: Int = 8, contextLength: Int = 1024, threads: Int = 2) {
        self.model = model
        self.maxSequences = max(1, maxSequences)
        let length = max(16, min(contextLength, model.config.trainedContextLength))
        self.contextLength = length
        engine = LlamaEngine(model: model, maxRows: max(64, maxSequences), maxContext: length, threads: threads)
        freeCaches = (0..<max(1, maxSequences)).map { _ in LlamaKVCache(config: model.config, capacity: length) }
    }

    /// Queues a generation and returns its text as a stream; errors (bad parameters, prompt too long)
    /// arrive through the stream. Cancelling the consumer removes the sequence at the next step.
    public func submit(prompt: [Int], parameters: SamplingParameters) -> AsyncThrowingStream<String, Error> {
        let (stream, continuation) = AsyncThrowingStream<String, Error>.makeStream()
        do {
            try parameters.validate()
            guard !prompt.isEmpty, prompt.allSatisfy({ $0 >= 0 && $0 < model.config.vocabSize }) else {
                throw GenerationError.invalidParameter("the prompt is empty or holds ids outside the vocabulary")
            }
            guard prompt.count < contextLength else {
                throw GenerationError.promptTooLong("the prompt has \(prompt.count) tokens; the context holds \(contextLength)")
            }
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let cancelled = CancellationFlag()
        continuation.onTermination = { _ in cancelled.set() }
        let start = state.withLock { s -> Bool in
            s.waiting.append(Pending(prompt: prompt, parameters: parameters, continuation: continuation, cancelled: cancelled))
            if s.running { return false }
            s.running = true
            return true
        }
        if start { queue.async { self.runLoop() } }
        return stream
    }

    /// Steps until no sequence is active or waiting.
    private func runLoop() {
        while true {
            let admitted: [Pending] = state.withLock { s in
                let room = maxSequences - active.count
                let take = Array(s.waiting.prefix(room))
                s.waiting.removeFirst(take.count)
                if take.isEmpty && active.isEmpty { s.running = false }
                return take
            }
            if admitted.isEmpty && active.isEmpty { return }
            for p in admitted { admit(p) }
            if active.isEmpty { continue }
            // One decode step over every active sequence.
            // `.single`: each sequence's step is bit-identical to decoding it alone.
            engine.step(active.map { .init(cache: $0.cache, position: $0.cache.count, token: $0.next, wantsLogits: true) }, order: .single)
            let vocab = model.config.vocabSize
            for (i, seq) in active.enumerated() {
                let logits = UnsafeMutableBufferPointer(start: engine.logits + i * vocab, count: vocab)
                seq.sampler.penalize(logits, history: seq.history[...])
                seq.next = seq.sampler.sample(UnsafeBufferPointer(logits))
            }
            active.removeAll { !emit($0) }
        }
    }

    private func admit(_ p: Pending) {
        guard let sampler = try? Sampler(parameters: p.parameters, vocabularySize: model.config.vocabSize) else {
            p.continuation.finish(throwing: GenerationError.invalidParameter("invalid sampling parameters"))
            return
        }
        let cache = freeCaches.removeLast()
        cache.truncate(to: 0)
        let seq = Active(cache: cache, sampler: sampler, pending: p, tokenizer: model.tokenizer)
        var start = 0
        while start < p.prompt.count {
            let end = min(p.prompt.count, start + engine.maxRows)
            engine.step((start..<end).map { .init(cache: cache, position: $0, token: p.prompt[$0], wantsLogits: $0 == p.prompt.count - 1) },
                        order: p.prompt.count > 1 ? .batch : .single)
            start = end
        }
        let logits = UnsafeMutableBufferPointer(start: engine.logits, count: model.config.vocabSize)
        sampler.penalize(logits, history: seq.history[...])
        seq.next = sampler.sample(UnsafeBufferPointer(logits))
        if emit(seq) { active.append(seq) }
    }

    /// Streams the sequence's pending token; false when the sequence has finished (cache returned).
    private func emit(_ seq: Active) -> Bool {
        var done = seq.cancelled.isSet || seq.next < 0 || seq.next == model.tokenizer.eosId
        if !done {
            seq.generated += 1
            seq.history.append(seq.next)
            let (piece, stopped) = seq.stops.feed(seq.decoder.append(seq.next))
            if !piece.isEmpty { seq.continuation.yield(piece) }
            done = stopped || seq.generated >= seq.parameters.maxNewTokens || seq.cache.count + 1 >= contextLength
            if done && !stopped {
                let rest = seq.stops.finish(seq.decoder.finish())
                if !rest.isEmpty { seq.continuation.yield(rest) }
            }
        } else if !seq.cancelled.isSet {
            let rest = seq.stops.finish(seq.decoder.finish())
            if !rest.isEmpty { seq.continuation.yield(rest) }
        }
        if done {
            seq.continuation.finish()
            freeCaches.append(seq.cache)
        }
        return !done
    }
}
