/// One micro-batch: packed token rows flattened into a single sequence of segments.
///
/// Token t attends only to tokens of its own segment at or before it, and its RoPE position is its
/// offset in the segment, so packed samples never see each other.
public struct TrainBatch: Sendable, Equatable {
    /// Input token ids [n].
    public var tokens: [Int32]
    /// The id each position should predict, or −1 where no log-probability is needed [n].
    public var targets: [Int32]
    /// Consecutive segments covering 0..<n.
    public var segments: [TrainSegment]

    /// Creates a batch; `validate` checks it against a model.
    public init(tokens: [Int32], targets: [Int32], segments: [TrainSegment]) {
        self.tokens = tokens
        self.targets = targets
        self.segments = segments
    }

    /// Number of tokens.
    public var count: Int { tokens.count }

    /// Concatenates batches (their segments stay separate).
    public static func concatenating(_ parts: [TrainBatch]) -> TrainBatch {
        var out = TrainBatch(tokens: [], targets: [], segments: [])
        for p in parts {
            let offset = out.tokens.count
            out.tokens += p.tokens
            out.targets += p.targets
            out.segments += p.segments.map { TrainSegment(start: $0.start + offset, count: $0.count) }
        }
        return out
    }

    /// Checks shapes, ids and segment layout against a model's vocabulary and capacity.
    public func validate(vocabSize: Int, capacity: TrainCapacity) throws {
        if tokens.isEmpty { throw TrainingError.invalidInput("batch: no tokens") }
        if targets.count != tokens.count {
            throw TrainingError.invalidInput("batch: \(targets.count) targets for \(tokens.count) tokens")
        }
        if tokens.count > capacity.maxTokens {
            throw TrainingError.invalidInput("batch: \(tokens.count) tokens exceed the capacity of \(capacity.maxTokens)")
        }
        var next = 0
        for (i, s) in segments.enumerated() {
            if s.start != next || s.count < 1 {
                throw TrainingError.invalidInput("batch: segment \(i) must start at \(next) and be non-empty")
            }
            if s.count > capacity.maxSegmentLength {
                throw TrainingError.invalidInput(
                    "batch: segment \(i) has \(s.count) tokens, above the maximum sequence length \(capacity.maxSegmentLength)")
            }
            next += s.count
        }
        if next != tokens.count { throw TrainingError.invalidInput("batch: segments cover \(next) of \(tokens.count) tokens") }
        for (i, t) in tokens.enumerated() where t < 0 || Int(t) >= vocabSize {
            throw TrainingError.invalidInput("batch: token \(t) at position \(i) is outside the vocabulary (\(vocabSize))")
        }
        for (i, t) in targets.enumerated() where t < -1 || Int(t) >= vocabSize {
            throw TrainingError.invalidInput("batch: target \(t) at position \(i) is outside the vocabulary (\(vocabSize))")
        }
    }
}
