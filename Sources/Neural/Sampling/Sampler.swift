import RealModule

/// Chooses the next token from logits: repetition penalty, then greedy or top-k → top-p → min-p →
/// temperature → draw. Scratch buffers are allocated once per sampler.
public final class Sampler {
    /// The parameters in force (validated at init).
    public let parameters: SamplingParameters
    private var rng: SeededGenerator
    private var candidates: [(id: Int32, logit: Float)]
    private var probabilities: [Float]

    /// A sampler over a vocabulary of `vocabularySize`; throws if the parameters are invalid.
    public init(parameters: SamplingParameters, vocabularySize: Int) throws(GenerationError) {
        try parameters.validate()
        self.parameters = parameters
        var system = SystemRandomNumberGenerator()
        rng = SeededGenerator(seed: parameters.seed ?? system.next())
        candidates = []
        candidates.reserveCapacity(vocabularySize)
        probabilities = []
        probabilities.reserveCapacity(vocabularySize)
    }

    /// Applies the repetition penalty to `logits` in place for tokens in the last window of `history`.
    public func penalize(_ logits: UnsafeMutableBufferPointer<Float>, history: ArraySlice<Int>) {
        let p = parameters.repetitionPenalty
        guard p != 1, parameters.repetitionWindow > 0 else { return }
        var seen = Set<Int>()
        for id in history.suffix(parameters.repetitionWindow) where seen.insert(id).inserted && id < logits.count {
            logits[id] = logits[id] > 0 ? logits[id] / p : logits[id] * p
        }
    }

    /// Constrained sampling looks at this many of the most likely tokens first (a full scan follows only
    /// when none of them is allowed).
    public static let constrainedWindow = 512

    /// The next token for `logits` (already penalised), restricted to ids for which `allowed` is true
    /// when given (constrained decoding); -1 when no token is allowed.
    public func sample(_ logits: UnsafeBufferPointer<Float>, allowed: ((Int) -> Bool)? = nil) -> Int {
        let pars = parameters
        candidates.removeAll(keepingCapacity: true)
        if let allowed {
            // Test tokens from the most likely down: checking a token against a grammar costs far more
            // than comparing logits.
            for i in 0..<logits.count where logits[i] > -Float.infinity { candidates.append((Int32(i), logits[i])) }
            candidates.sort { $0.logit > $1.logit }
            var kept = 0
            for j in 0..<candidates.count {
                if allowed(Int(candidates[j].id)) {
                    if pars.temperature == 0 { return Int(candidates[j].id) }
                    candidates[kept] = candidates[j]
                    kept += 1
                }
                if j + 1 >= Self.constrainedWindow && kept > 0 { break }
            }
            candidates.removeSubrange(kept...)
            guard !candidates.isEmpty else { return -1 }
        } else if pars.temperature == 0 {
            return Self.argmax(logits)
        } else {
            for i in 0..<logits.count where logits[i] > -Float.infinity { candidates.append((Int32(i), logits[i])) }
            guard !candidates.isEmpty else { return -1 }
            candidates.sort { $0.logit > $1.logit }
        }
        if pars.topK > 0 && candidates.count > pars.topK { candidates.removeSubrange(pars.topK...) }
        // Probabilities at temperature 1 decide the top-p and min-p cut, as llama.cpp's chain does before
        // its temperature step.
        probabilities.removeAll(keepingCapacity: true)
        let maxLogit = candidates[0].logit
        var sum: Float = 0
        for c in candidates {
            let e = Float.exp(c.logit - maxLogit)
            probabilities.append(e)
            sum += e
        }
        var keep = candidates.count
        if pars.topP < 1 {
            var cumulative: Float = 0
            for i in 0..<candidates.count {
                cumulative += probabilities[i] / sum
                if cumulative >= pars.topP {
                    keep = i + 1
                    break
                }
            }
        }
        if pars.minP > 0 {
            let threshold = pars.minP  // relative to the top probability, which is exp(0) = 1
            var i = 1
            while i < keep && probabilities[i] >= threshold { i += 1 }
            keep = min(keep, i)
        }
        // Temperature, then draw.
        var total: Float = 0
        for i in 0..<keep {
            let e = Float.exp((candidates[i].logit - maxLogit) / pars.temperature)
            probabilities[i] = e
            total += e
        }
        var r = rng.nextUnit() * total
        for i in 0..<keep {
            r -= probabilities[i]
            if r < 0 { return Int(candidates[i].id) }
        }
        return Int(candidates[keep - 1].id)
    }
}
