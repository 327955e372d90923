import Foundation
import Testing
@testable import Neural

/// Alpaca formatting, response-only loss, packing and truncation.
struct TrainingSFTTests {
    /// A byte-level toy tokenizer: one id per character (mod 30), ids 30/31 reserved (31 = EOS).
    static func tokenize(_ s: String) -> [Int32] { s.unicodeScalars.map { Int32($0.value % 30) } }
    static let eos: Int32 = 31

    static func model(maxTokens: Int = 96, segment: Int = 48) throws -> LlamaTrainModel {
        let params = try LlamaTrainParameters.random(config: TrainingFixtures.tinyConfig(), seed: 21, std: 0.3)
        let m = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 2, alpha: 4)),
                                    capacity: TrainCapacity(maxTokens: maxTokens, maxSegmentLength: segment))
        TrainingFixtures.randomiseAdapters(m, seed: 4)
        return m
    }

    @Test func alpacaTemplateIsTheReferenceText() {
        let text = AlpacaTemplate.sample(instruction: "Say hi", response: "Hi")
        #expect(text == """
            Below is an instruction that describes a task. Write a response that appropriately completes the request.

            ### Instruction:
            Say hi

            ### Response:
            Hi
            """)
        #expect(AlpacaTemplate.prompt(instruction: "x").hasSuffix("### Response:\n"))
    }

    @Test func lossIsTakenOnResponseTokensOnlyIncludingEOS() {
        let s = TokenizedSample.completion(prompt: [1, 2, 3], response: [4, 5, 31], maxLength: 10)
        #expect(s.tokens == [1, 2, 3, 4, 5, 31])
        // Position 2 (last prompt token) predicts the first response token; the last position predicts nothing.
        #expect(s.targets == [-1, -1, 4, 5, 31, -1])
        #expect(s.lossTokenCount == 3)
    }

    @Test func packedBatchLossEqualsTheSumOfSeparateLosses() throws {
        let m = try Self.model()
        let samples = [
            TokenizedSample.completion(prompt: [3, 4, 5, 6], response: [7, 8, 31], maxLength: 48),
            TokenizedSample.completion(prompt: [9, 1], response: [2, 2, 2, 2, 31], maxLength: 48),
            TokenizedSample.completion(prompt: [5], response: [6, 31], maxLength: 48),
        ]
        var separate = 0.0
        var separateTokenLogProbs: [Float] = []
        for s in samples {
            separate += try m.forward(s.batch)
            separateTokenLogProbs += (0..<s.tokens.count).map { m.logProb(at: $0) }
        }
        let packed = TrainBatch.concatenating(samples.map(\.batch))
        let together = try m.forward(packed)
        #expect(abs(together - separate) <= 1e-4 * abs(separate))
        for t in 0..<packed.count {
            #expect(abs(m.logProb(at: t) - separateTokenLogProbs[t]) <= 1e-4, "token \(t)")
        }
        // Without segment boundaries the later samples would see the earlier ones: the loss changes.
        let crossing = TrainBatch(tokens: packed.tokens, targets: packed.targets,
                                  segments: [TrainSegment(start: 0, count: packed.count)])
        let leaked = try m.forward(crossing)
        #expect(abs(leaked - separate) > 1e-3)
    }

    @Test func attentionNeverCrossesSegments() throws {
        let m = try Self.model()
        let batch = TrainingFixtures.batch(segmentLengths: [5, 7, 3], vocab: 32, seed: 9)
        try m.forward(batch)
        let a = m.savedActivations(0)
        let c = m.config
        // Probabilities are rebuilt from q, k and each row's saved log-sum-exp: the normaliser must cover
        // exactly the keys of the row's own segment at or before it.
        for h in 0..<c.heads {
            let g = h / (c.heads / c.kvHeads)
            for seg in batch.segments {
                for i in seg.start..<(seg.start + seg.count) {
                    var inside: Float = 0
                    var outside: Float = 0
                    for j in 0..<batch.count {
                        var dot: Float = 0
                        for d in 0..<c.headDim {
                            dot += a.q.pointer[i * c.qDim + h * c.headDim + d] * a.k.pointer[j * c.kvDim + g * c.headDim + d]
                        }
                        let p = Foundation.exp(dot / Float(c.headDim).squareRoot() - a.lse.pointer[h * m.capacity.maxTokens + i])
                        if j >= seg.start && j <= i { inside += p } else { outside += p }
                    }
                    #expect(abs(inside - 1) < 1e-4, "head \(h) row \(i): in-segment probabilities sum to \(inside)")
                    #expect(outside > 1e-3, "head \(h) row \(i): keys outside the row's past would carry weight if seen")
                }
            }
        }
        // RoPE positions restart at every segment.
        let starts = batch.segments.map { Int(m.positions[$0.start]) }
        #expect(starts == [0, 0, 0])
        #expect(Int(m.positions[batch.segments[1].start + 6]) == 6)
    }

    @Test func packingFillsRowsUpToTheMaximumLength() throws {
        let samples = [5, 4, 6, 3, 8].map { n in
            TokenizedSample.completion(prompt: [1], response: [Int32](repeating: 2, count: n - 1), maxLength: 10)
        }
        let ds = try SFTDataset(samples: samples, maxSequenceLength: 10)
        let rows = ds.rows(order: [0, 1, 2, 3, 4], packing: true)
        #expect(rows == [[0, 1], [2, 3], [4]])
        for r in rows { #expect(r.reduce(0) { $0 + samples[$1].tokens.count } <= 10) }
        #expect(ds.rows(order: [0, 1, 2, 3, 4], packing: false).count == 5)
    }

    @Test func truncationPolicies() throws {
        let long = SFTExample(instruction: "a", output: String(repeating: "z", count: 200))
        let short = SFTExample(instruction: "b", output: "ok")
        let t = try SFTDataset(examples: [long, short], tokenize: Self.tokenize, eos: Self.eos, maxSequenceLength: 160)
        #expect(t.report == DatasetReport(kept: 2, truncated: 1, dropped: 0))
        #expect(t.samples[0].tokens.count == 160)
        let d = try SFTDataset(examples: [long, short], tokenize: Self.tokenize, eos: Self.eos, maxSequenceLength: 160,
                               truncation: .drop)
        #expect(d.report == DatasetReport(kept: 1, truncated: 0, dropped: 1))
        #expect(d.samples[0].tokens.last == Self.eos)
        #expect(throws: TrainingError.self) {
            try SFTDataset(examples: [long], tokenize: Self.tokenize, eos: Self.eos, maxSequenceLength: 160, truncation: .fail)
        }
        #expect {
            _ = try SFTDataset(examples: [short, long], tokenize: Self.tokenize, eos: Self.eos, maxSequenceLength: 160,
                               truncation: .fail)
        } throws: { e in
            let m = (e as? TrainingError)?.message ?? ""
            return m.contains("sft example 1") && m.contains("maximum sequence length 160")
        }
    }

    @Test func badExamplesAreRefusedWithTheirIndex() {
        for (examples, needle) in [
            ([SFTExample(instruction: "x", output: "y"), SFTExample(instruction: "x", output: "  ")], "example 1: response"),
            ([SFTExample(instruction: "", output: "y")], "example 0: instruction"),
            ([], "no examples"),
        ] {
            #expect {
                _ = try SFTDataset(examples: examples, tokenize: Self.tokenize, eos: Self.eos, maxSequenceLength: 200)
            } throws: { ($0 as? TrainingError)?.message.contains(needle) == true }
        }
    }

    @Test func recordsWithMissingColumnsAreRefused() throws {
        #expect { try SFTExample(record: ["instruction": "x"], index: 4) } throws: {
            ($0 as? TrainingError)?.message == "sft example 4: missing column 'output'"
        }
        #expect { try DPOExample(record: ["prompt": "p", "chosen": "c"], index: 2) } throws: {
            ($0 as? TrainingError)?.message == "dpo example 2: missing column 'rejected'"
        }
        let withInput = try SFTExample(record: ["instruction": "Translate", "input": "hola", "output": "hello"], index: 0)
        #expect(withInput.instruction == "Translate\n\nhola")
        #expect(try DPOExample(record: ["prompt": "p", "chosen": "c", "rejected": "r"], index: 0).rejected == "r")
    }

    @Test func batchesOutsideTheModelAreRefused() throws {
        let m = try Self.model(maxTokens: 16, segment: 8)
        let tooLong = TrainingFixtures.batch(segmentLengths: [9], vocab: 32, seed: 1)
        #expect { try m.forward(tooLong) } throws: {
            ($0 as? TrainingError)?.message.contains("maximum sequence length 8") == true
        }
        let badToken = TrainBatch(tokens: [1, 40], targets: [40, -1], segments: [TrainSegment(start: 0, count: 2)])
        #expect { try m.forward(badToken) } throws: { ($0 as? TrainingError)?.message.contains("outside the vocabulary") == true }
        let gap = TrainBatch(tokens: [1, 2, 3], targets: [2, 3, -1], segments: [TrainSegment(start: 0, count: 2)])
        #expect(throws: TrainingError.self) { try m.forward(gap) }
    }
}
