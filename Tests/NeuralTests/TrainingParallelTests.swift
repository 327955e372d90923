import Foundation
import Testing
@testable import Neural

/// The causal-blocked, multi-threaded attention and split products against plain references: the
/// speed work must not change the maths.
struct TrainingParallelTests {
    private static func randoms(_ count: Int, _ rng: inout TrainingRandom) -> [Float] {
        (0..<count).map { _ in rng.nextNormal() }
    }

    /// Causal attention per segment and head in Double, straight from the definition, with its gradients.
    private static func reference(
        q: [Float], k: [Float], v: [Float], dOut: [Float], segments: [TrainSegment], shape s: AttentionShape
    ) -> (out: [Double], dq: [Double], dk: [Double], dv: [Double]) {
        let n = segments.last.map { $0.start + $0.count } ?? 0
        let qs = s.qStride, ks = s.kvStride, hd = s.headDim
        var out = [Double](repeating: 0, count: n * qs), dq = out
        var dk = [Double](repeating: 0, count: n * ks), dv = dk
        let scale = 1 / Double(hd).squareRoot()
        for seg in segments {
            for h in 0..<s.heads {
                let g = h / s.group
                func qv(_ i: Int, _ c: Int) -> Double { Double(q[(seg.start + i) * qs + h * hd + c]) }
                func kv(_ j: Int, _ c: Int) -> Double { Double(k[(seg.start + j) * ks + g * hd + c]) }
                func vv(_ j: Int, _ c: Int) -> Double { Double(v[(seg.start + j) * ks + g * hd + c]) }
                func dov(_ i: Int, _ c: Int) -> Double { Double(dOut[(seg.start + i) * qs + h * hd + c]) }
                for i in 0..<seg.count {
                    var scores = (0...i).map { j in scale * (0..<hd).reduce(0) { $0 + qv(i, $1) * kv(j, $1) } }
                    let mx = scores.max()!
                    scores = scores.map { Foundation.exp($0 - mx) }
                    let sum = scores.reduce(0, +)
                    let p = scores.map { $0 / sum }
                    let dp = (0...i).map { j in (0..<hd).reduce(0) { $0 + dov(i, $1) * vv(j, $1) } }
                    let dot = zip(p, dp).reduce(0) { $0 + $1.0 * $1.1 }
                    for j in 0...i {
                        let ds = p[j] * (dp[j] - dot)
                        for c in 0..<hd {
                            out[(seg.start + i) * qs + h * hd + c] += p[j] * vv(j, c)
                            dv[(seg.start + j) * ks + g * hd + c] += p[j] * dov(i, c)
                            dq[(seg.start + i) * qs + h * hd + c] += scale * ds * kv(j, c)
                            dk[(seg.start + j) * ks + g * hd + c] += scale * ds * qv(i, c)
                        }
                    }
                }
            }
        }
        return (out, dq, dk, dv)
    }

    private static func worstError(_ got: UnsafePointer<Float>, _ want: [Double]) -> Double {
        var worst = 0.0
        for i in want.indices { worst = max(worst, abs(Double(got[i]) - want[i]) / (1 + abs(want[i]))) }
        return worst
    }

    @Test(arguments: [(64, 1), (64, 2), (7, 1), (7, 3)])
    func blockedAttentionMatchesTheDefinition(block: Int, threads: Int) {
        // Segments longer than a block, one shorter, one ending inside a block.
        let segments = [TrainSegment(start: 0, count: 70), TrainSegment(start: 70, count: 5),
                        TrainSegment(start: 75, count: 130)]
        let n = 205, window = 130
        var shape = AttentionShape(heads: 4, kvHeads: 2, headDim: 8, tokenCapacity: n, window: window)
        shape.block = block
        var rng = TrainingRandom(seed: 21)
        let q = Self.randoms(n * shape.qStride, &rng), k = Self.randoms(n * shape.kvStride, &rng)
        let v = Self.randoms(n * shape.kvStride, &rng), dOut = Self.randoms(n * shape.qStride, &rng)
        let want = Self.reference(q: q, k: k, v: v, dOut: dOut, segments: segments, shape: shape)
        let lse = ScratchBuffer(shape.heads * n), out = ScratchBuffer(n * shape.qStride)
        let dq = ScratchBuffer(n * shape.qStride), dk = ScratchBuffer(n * shape.kvStride), dv = ScratchBuffer(n * shape.kvStride)
        let scratch = (0..<threads).map {
            AttentionScratch(window: window, tokens: n, kvStride: shape.kvStride, accumulators: $0 > 0)
        }
        // Stale values in the buffers must not leak into the results.
        for s in scratch {
            s.probs.pointer.update(repeating: .nan, count: s.probs.count)
            s.dScores.pointer.update(repeating: .nan, count: s.dScores.count)
        }
        attentionForward(q: q, k: k, v: v, lse: lse.pointer, out: out.pointer, scratch: scratch, segments: segments,
                         shape: shape)
        for s in scratch { s.probs.pointer.update(repeating: .nan, count: s.probs.count) }
        attentionBackward(dOut: dOut, q: q, k: k, v: v, lse: lse.pointer, dq: dq.pointer, dk: dk.pointer, dv: dv.pointer,
                          scratch: scratch, segments: segments, shape: shape)
        #expect(Self.worstError(out.pointer, want.out) < 1e-5)
        #expect(Self.worstError(dq.pointer, want.dq) < 1e-5)
        #expect(Self.worstError(dk.pointer, want.dk) < 1e-5)
        #expect(Self.worstError(dv.pointer, want.dv) < 1e-5)
    }

    @Test(arguments: [false, true], [false, true])
    func splitProductsEqualOneProduct(transA: Bool, transB: Bool) {
        // Both a row split (m ≥ n) and a column split (n > m), with beta accumulating.
        for (m, n, k) in [(300, 96, 160), (40, 700, 150)] {
            var rng = TrainingRandom(seed: UInt64(m * 7 + n))
            let a = Self.randoms(m * k, &rng), b = Self.randoms(k * n, &rng), c0 = Self.randoms(m * n, &rng)
            var want = c0, got = c0
            let lda = transA ? m : k, ldb = transB ? k : n
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                       beta: 1, c: &want, ldc: n)
            TrainParallel.sgemm(threads: 2, transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda,
                                b: b, ldb: ldb, beta: 1, c: &got, ldc: n)
            let worst = zip(want, got).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "m \(m) n \(n) k \(k): worst difference \(worst)")
        }
    }

    @Test func oneAndTwoThreadsGiveTheSameLogProbsAndGradients() throws {
        let config = LlamaTrainConfig(vocabSize: 2048, dim: 64, layers: 2, heads: 4, kvHeads: 2, headDim: 16, ffnDim: 256,
                                      ropeTheta: 10_000, normEps: 1e-5, ropeStyle: .halves)
        let params = try LlamaTrainParameters.random(config: config, seed: 3, std: 0.2)
        let batch = TrainingFixtures.batch(segmentLengths: [100, 90], vocab: 2048, seed: 4)
        var results: [(logp: [Float], grads: [[Float]])] = []
        for threads in [1, 2] {
            let model = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                            capacity: TrainCapacity(maxTokens: 190, maxSegmentLength: 100), seed: 5)
            TrainingFixtures.randomiseAdapters(model, seed: 6)
            model.threadBudget = threads
            model.zeroGradients()
            try model.forward(batch)
            let logp = (0..<batch.count).map { model.logProb(at: $0) }
            model.backward(batch, logProbGradient: batch.targets.map { $0 >= 0 ? -1 / 188 : 0 })
            results.append((logp, model.trainableTensors.map(\.gradientArray)))
        }
        let model = try LlamaTrainModel(parameters: params, mode: .lora(LoRAConfig(rank: 4, alpha: 8)),
                                        capacity: TrainCapacity(maxTokens: 190, maxSegmentLength: 100))
        model.threadBudget = 0
        #expect(model.threadBudget == 1, "a budget below one thread means one")
        let logpDiff = zip(results[0].logp, results[1].logp).map { abs($0 - $1) }.max()!
        #expect(logpDiff < 1e-4)
        for (g1, g2) in zip(results[0].grads, results[1].grads) {
            let scale = g1.map { abs($0) }.max()!
            #expect(scale > 0)
            let diff = zip(g1, g2).map { abs($0 - $1) }.max()!
            #expect(diff <= 1e-3 * scale)
        }
    }
}
