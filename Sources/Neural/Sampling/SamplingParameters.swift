/// How the next token is chosen and when generation stops.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 picks the most likely token (greedy); higher values flatten the distribution.
    public var temperature: Float = 0
    /// Keep only the k most likely tokens (0: no limit).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1: no limit).
    public var topP: Float = 1
    /// Drop tokens less likely than minP × the most likely one (0: off).
    public var minP: Float = 0
    /// Divide positive logits (multiply negative ones) of recently seen tokens by this (1: off).
    public var repetitionPenalty: Float = 1
    /// How many recent tokens (prompt included) the repetition penalty looks at.
    public var repetitionWindow: Int = 64
    /// Seed for reproducible sampling; nil draws one from the system generator.
    public var seed: UInt64?
    /// Most tokens to generate.
    public var maxNewTokens: Int = 256
    /// Generation stops before any of these strings; the string itself is not returned.
    public var stopStrings: [String] = []

    /// Greedy decoding with the defaults above.
    public init() {}

    /// Throws a `GenerationError` naming the first parameter outside its range.
    public func validate() throws(GenerationError) {
        guard temperature.isFinite, temperature >= 0 else {
            throw .invalidParameter("temperature must be a finite number ≥ 0, got \(temperature)")
        }
        guard topK >= 0 else { throw .invalidParameter("top-k must be ≥ 0, got \(topK)") }
        guard topP.isFinite, topP > 0, topP <= 1 else { throw .invalidParameter("top-p must be in (0, 1], got \(topP)") }
        guard minP.isFinite, minP >= 0, minP < 1 else { throw .invalidParameter("min-p must be in [0, 1), got \(minP)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw .invalidParameter("repetition penalty must be > 0, got \(repetitionPenalty)")
        }
        guard repetitionWindow >= 0 else { throw .invalidParameter("repetition window must be ≥ 0, got \(repetitionWindow)") }
        guard maxNewTokens >= 1 else { throw .invalidParameter("max new tokens must be ≥ 1, got \(maxNewTokens)") }
        guard !stopStrings.contains(where: \.isEmpty) else { throw .invalidParameter("stop strings must not be empty") }
    }
}
