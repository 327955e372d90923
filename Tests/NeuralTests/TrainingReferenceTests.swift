import Foundation
import Testing
@testable import Neural

/// The training forward pass on real SmolLM2 weights against transformers' log-probabilities
/// (fixture made once by Benchmarks/train/reference_logprobs.py).
struct TrainingReferenceTests {
    struct Fixture: Decodable {
        let ids: [Int32]
        let logprobs: [Double]
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: TrainingGGUFExportTests.smolLM2Path)))
    func smolLM2LogProbsMatchTransformers() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/training/smollm2_logprobs", withExtension: "json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let file = try GGUFFile(path: TrainingGGUFExportTests.smolLM2Path)
        let n = fixture.ids.count
        let model = try LlamaTrainModel(gguf: file, mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                        capacity: TrainCapacity(maxTokens: n, maxSegmentLength: n))
        let ids = fixture.ids
        let batch = TrainBatch(tokens: ids, targets: ids.indices.map { $0 + 1 < n ? ids[$0 + 1] : -1 },
                               segments: [TrainSegment(start: 0, count: n)])
        try model.forward(batch)
        for t in 0..<(n - 1) {
            #expect(abs(Double(model.logProb(at: t)) - fixture.logprobs[t]) < 2e-3, "position \(t)")
        }
    }
}
