/// One instruction-following example (Alpaca columns `instruction` and `output`).
public struct SFTExample: Sendable, Equatable, Codable {
    /// The instruction.
    public var instruction: String
    /// The expected response (without EOS).
    public var output: String

    /// Creates an example.
    public init(instruction: String, output: String) {
        self.instruction = instruction
        self.output = output
    }
}

/// What to do with a sample longer than the maximum sequence length.
public enum TruncationPolicy: String, Sendable, Codable, CaseIterable {
    /// Keep the first `maxSequenceLength` tokens (the response end and EOS are cut); samples whose
    /// prompt alone fills the window are dropped.
    case truncate
    /// Skip the sample (counted in the report).
    case drop
    /// Refuse the dataset, naming the sample.
    case fail
}

extension TruncationPolicy {
    /// Applies the policy to a sample of `total` tokens whose prompt has `promptCount`: true to keep it
    /// (counting a truncation), false to skip it (counted as dropped); throws under `.fail`.
    func admit(total: Int, promptCount: Int, maxLength: Int, sample: String, report: inout DatasetReport) throws -> Bool {
        guard total > maxLength else { return true }
        switch self {
        case .fail:
            throw TrainingError.invalidInput("\(sample): \(total) tokens exceed the maximum sequence length \(maxLength)")
        case .drop:
            report.dropped += 1
            return false
        case .truncate:
            if promptCount >= maxLength {
                report.dropped += 1
                return false
            }
            report.truncated += 1
            return true
        }
    }
}

/// A tokenised training sequence: ids and, per position, the next id to predict or −1.
public struct TokenizedSample: Sendable, Equatable {
    /// Token ids.
    public var tokens: [Int32]
    /// Targets; −1 where no loss is taken (prompt positions and the last position).
    public var targets: [Int32]

    /// Number of positions that contribute to the loss.
    public var lossTokenCount: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }

    /// The sample as a one-segment batch.
    public var batch: TrainBatch {
        TrainBatch(tokens: tokens, targets: targets, segments: [TrainSegment(start: 0, count: tokens.count)])
    }

    /// Builds `prompt + response`, with a loss on every response token (the prompt's last position
    /// predicts the first response token), truncated to `maxLength`.
    static func completion(prompt: [Int32], response: [Int32], maxLength: Int) -> TokenizedSample {
        var tokens = prompt + response
        if tokens.count > maxLength { tokens.removeLast(tokens.count - maxLength) }
        var targets = [Int32](repeating: -1, count: tokens.count)
        for i in 0..<(tokens.count - 1) where i + 1 >= prompt.count { targets[i] = tokens[i + 1] }
        return TokenizedSample(tokens: tokens, targets: targets)
    }
}

/// How many samples were kept, truncated and dropped while preparing a dataset.
public struct DatasetReport: Sendable, Equatable, Codable {
    /// Samples used.
    public var kept = 0
    /// Samples cut to the maximum length.
    public var truncated = 0
    /// Samples skipped (too long under `.drop`, or nothing left to learn after truncation).
    public var dropped = 0
}

/// SFT samples tokenised with the Alpaca template, loss on response tokens only.
public struct SFTDataset: Sendable {
    /// The kept samples.
    public let samples: [TokenizedSample]
    /// Kept / truncated / dropped counts.
    public let report: DatasetReport
    /// The longest sequence allowed.
    public let maxSequenceLength: Int

    /// Tokenises `examples`; `tokenize` must not add special tokens, `eos` is appended to each response.
    public init(
        examples: [SFTExample], tokenize: (String) throws -> [Int32], eos: Int32,
        maxSequenceLength: Int, truncation: TruncationPolicy = .truncate
    ) throws {
        if maxSequenceLength < 2 {
            throw TrainingError.invalidConfiguration("maxSequenceLength: expected ≥ 2, got \(maxSequenceLength)")
        }
        if examples.isEmpty { throw TrainingError.invalidInput("sft dataset: no examples") }
        var kept: [TokenizedSample] = []
        var report = DatasetReport()
        for (i, ex) in examples.enumerated() {
            if ex.instruction.allSatisfy(\.isWhitespace) {
                throw TrainingError.invalidInput("sft example \(i): instruction is empty")
            }
            if ex.output.allSatisfy(\.isWhitespace) {
                throw TrainingError.invalidInput("sft example \(i): response (output) is empty")
            }
            let prompt = try tokenize(AlpacaTemplate.prompt(instruction: ex.instruction))
            let response = try tokenize(ex.output) + [eos]
            guard try truncation.admit(total: prompt.count + response.count, promptCount: prompt.count,
                                       maxLength: maxSequenceLength, sample: "sft example \(i)", report: &report)
            else { continue }
            kept.append(.completion(prompt: prompt, response: response, maxLength: maxSequenceLength))
        }
        if kept.isEmpty {
            throw TrainingError.invalidInput("sft dataset: every example was dropped (maximum sequence length \(maxSequenceLength))")
        }
        report.kept = kept.count
        samples = kept
        self.report = report
        self.maxSequenceLength = maxSequenceLength
    }

    /// Creates a dataset from already tokenised samples (tests, custom formats).
    public init(samples: [TokenizedSample], maxSequenceLength: Int) throws {
        if samples.isEmpty { throw TrainingError.invalidInput("sft dataset: no samples") }
        for (i, s) in samples.enumerated() {
            if s.tokens.count > maxSequenceLength || s.tokens.count != s.targets.count || s.lossTokenCount == 0 {
                throw TrainingError.invalidInput("sft sample \(i): bad length or no loss tokens")
            }
        }
        self.samples = samples
        self.maxSequenceLength = maxSequenceLength
        report = DatasetReport(kept: samples.count)
    }

    /// Groups sample indices into rows of at most `maxSequenceLength` tokens: several samples per row
    /// when `packing` (first fit, in the given order), one per row otherwise.
    public func rows(order: [Int], packing: Bool) -> [[Int]] {
        guard packing else { return order.map { [$0] } }
        var rows: [[Int]] = []
        var current: [Int] = []
        var used = 0
        for i in order {
            let len = samples[i].tokens.count
            if used + len > maxSequenceLength && !current.isEmpty {
                rows.append(current)
                current = []
                used = 0
            }
            current.append(i)
            used += len
        }
        if !current.isEmpty { rows.append(current) }
        return rows
    }

    /// A batch of the given samples, one segment each (attention and RoPE restart per sample).
    public func batch(_ indices: [Int]) -> TrainBatch {
        TrainBatch.concatenating(indices.map { samples[$0].batch })
    }
}
