/// One preference example: an instruction with a preferred and a dispreferred response.
public struct DPOExample: Sendable, Equatable, Codable {
    /// The instruction (formatted with the Alpaca template and an empty response).
    public var prompt: String
    /// The preferred response (without EOS).
    public var chosen: String
    /// The dispreferred response (without EOS).
    public var rejected: String

    /// Creates an example.
    public init(prompt: String, chosen: String, rejected: String) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
    }
}

/// A tokenised preference pair: both sequences share the prompt; targets cover the responses only.
public struct PreferencePair: Sendable, Equatable {
    /// prompt + chosen + EOS.
    public var chosen: TokenizedSample
    /// prompt + rejected + EOS.
    public var rejected: TokenizedSample

    /// Creates a pair.
    public init(chosen: TokenizedSample, rejected: TokenizedSample) {
        self.chosen = chosen
        self.rejected = rejected
    }
}

/// Preference pairs tokenised with the Alpaca template (as the reference's DPO step formats them).
public struct DPODataset: Sendable {
    /// The kept pairs.
    public let pairs: [PreferencePair]
    /// Kept / truncated / dropped counts.
    public let report: DatasetReport
    /// The longest sequence allowed (per side).
    public let maxSequenceLength: Int

    /// Tokenises `examples`; `eos` is appended to both responses.
    public init(
        examples: [DPOExample], tokenize: (String) throws -> [Int32], eos: Int32,
        maxSequenceLength: Int, truncation: TruncationPolicy = .truncate
    ) throws {
        if maxSequenceLength < 2 {
            throw TrainingError.invalidConfiguration("maxSequenceLength: expected ≥ 2, got \(maxSequenceLength)")
        }
        if examples.isEmpty { throw TrainingError.invalidInput("dpo dataset: no examples") }
        var kept: [PreferencePair] = []
        var report = DatasetReport()
        for (i, ex) in examples.enumerated() {
            for (key, value) in [("prompt", ex.prompt), ("chosen", ex.chosen), ("rejected", ex.rejected)]
            where value.allSatisfy(\.isWhitespace) {
                throw TrainingError.invalidInput("dpo example \(i): \(key) is empty")
            }
            let prompt = try tokenize(AlpacaTemplate.prompt(instruction: ex.prompt))
            let chosen = try tokenize(ex.chosen) + [eos]
            let rejected = try tokenize(ex.rejected) + [eos]
            guard try truncation.admit(total: prompt.count + Swift.max(chosen.count, rejected.count),
                                       promptCount: prompt.count, maxLength: maxSequenceLength,
                                       sample: "dpo example \(i)", report: &report)
            else { continue }
            kept.append(PreferencePair(
                chosen: .completion(prompt: prompt, response: chosen, maxLength: maxSequenceLength),
                rejected: .completion(prompt: prompt, response: rejected, maxLength: maxSequenceLength)))
        }
        if kept.isEmpty { throw TrainingError.invalidInput("dpo dataset: every example was dropped") }
        report.kept = kept.count
        pairs = kept
        self.report = report
        self.maxSequenceLength = maxSequenceLength
    }

    /// Creates a dataset from already tokenised pairs.
    public init(pairs: [PreferencePair], maxSequenceLength: Int) throws {
        if pairs.isEmpty { throw TrainingError.invalidInput("dpo dataset: no pairs") }
        for (i, p) in pairs.enumerated() {
            for s in [p.chosen, p.rejected]
            where s.tokens.count > maxSequenceLength || s.tokens.count != s.targets.count || s.lossTokenCount == 0 {
                throw TrainingError.invalidInput("dpo pair \(i): bad length or no response tokens")
            }
        }
        self.pairs = pairs
        self.maxSequenceLength = maxSequenceLength
        report = DatasetReport(kept: pairs.count)
    }

    /// The batch of `indices`: segments chosen₀, rejected₀, chosen₁, …
    public func batch(_ indices: [Int]) -> TrainBatch {
        TrainBatch.concatenating(indices.flatMap { [pairs[$0].chosen.batch, pairs[$0].rejected.batch] })
    }
}
