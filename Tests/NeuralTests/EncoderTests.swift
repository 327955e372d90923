import Foundation
import Testing
@testable import Neural

/// The native all-MiniLM-L6-v2 against sentence-transformers 6.2 reference embeddings.
struct EncoderTests {
    /// Loading takes a moment; share one model across the suite's tests.
    static let model = Result { try SentenceEncoder(directory: EncoderReference.modelDirectory) }

    @Test func embeddingsMatchSentenceTransformers() throws {
        let encoder = try Self.model.get()
        let reference = try EncoderReference.load()
        let embeddings = try encoder.embed(reference.cases.map(\.text))
        #expect(encoder.dimension == 384 && encoder.normalizes)
        for (item, embedding) in zip(reference.cases, embeddings) {
            let cosine = SentenceEncoder.cosine(item.embedding, embedding)
            #expect(cosine >= 0.9999, "\(item.text.prefix(40).debugDescription): cosine \(cosine)")
            let norm = embedding.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
        }
    }

    @Test func issueSimilarityMatrices() throws {
        let encoder = try Self.model.get()
        let groups: [([String], [[Float]])] = [
            (["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."],
             [[1, 0.6660, 0.1046], [0.6660, 1, 0.1411], [0.1046, 0.1411, 1]]),
            (["The cat sits outside waiting for a mouse.", "I am going swimming.", "The cat is swimming."],
             [[1, 0.0156, 0.4012], [0.0156, 1, 0.3954], [0.4012, 0.3954, 1]]),
        ]
        for (texts, expected) in groups {
            let e = try encoder.embed(texts)
            for i in 0..<3 {
                for j in 0..<3 {
                    #expect(abs(SentenceEncoder.cosine(e[i], e[j]) - expected[i][j]) < 6e-5, "\(texts[i]) · \(texts[j])")
                }
            }
        }
    }

    /// Packing sequences end to end must give the same vectors as encoding each alone.
    @Test func packedBatchEqualsOneByOne() throws {
        let encoder = try Self.model.get()
        let texts = ["short", "A somewhat longer sentence, with punctuation and more words in it.", "", "medium length text here"]
        let together = try encoder.embed(texts, batchSize: 8)
        for (text, vector) in zip(texts, together) {
            let alone = try encoder.embed([text])[0]
            for (a, b) in zip(vector, alone) { #expect(abs(a - b) < 1e-5) }
        }
    }

    /// Sharding a batch across threads changes nothing in the results.
    @Test func parallelShardsEqualSerial() throws {
        let encoder = try Self.model.get()
        let texts = (0..<11).map { "sentence number \($0) " + String(repeating: "word ", count: $0 * 3) }
        let serial = try encoder.embed(texts, batchSize: 8)
        let parallel = try encoder.embed(texts, batchSize: 8, parallelism: 3)
        for (a, b) in zip(serial, parallel) {
            for (x, y) in zip(a, b) { #expect(abs(x - y) < 1e-5) }
        }
        #expect(SentenceEncoder.shards(lengths: [10, 10, 10, 10], count: 2) == [0..<2, 2..<4])
        #expect(SentenceEncoder.shards(lengths: [30, 5, 5], count: 2) == [0..<1, 1..<3])
        #expect(SentenceEncoder.shards(lengths: [7], count: 4) == [0..<1])
    }

    /// One text on several threads (products split by columns, attention by heads) equals one thread.
    @Test func columnSplitSingleTextEqualsSerial() throws {
        let encoder = try Self.model.get()
        for text in ["A single sentence, encoded with its products split over threads.", "x", String(repeating: "long text ", count: 40)] {
            let serial = try encoder.embed([text])[0]
            for threads in [2, 3, 5] {
                let parallel = try encoder.embed([text], parallelism: threads)[0]
                #expect(zip(serial, parallel).allSatisfy { abs($0 - $1) < 1e-5 }, "\(threads) threads")
            }
        }
        let tokens = encoder.tokenizer.encode("direct forward call")
        let workspace = EncoderWorkspace()
        try encoder.encoder.forward(tokens: tokens, lengths: [tokens.count], threads: 2, workspace: workspace)
        let reference = try encoder.encoder.forward(tokens: tokens, lengths: [tokens.count])
        let split = Array(UnsafeBufferPointer(start: workspace.hidden, count: reference.count))
        #expect(zip(reference, split).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    /// Reused work buffers carry nothing over: a long batch, then a short one, equals the short one on fresh buffers.
    @Test func workspacesAreReusedWithinBounds() throws {
        let encoder = try Self.model.get()
        let long = (0..<8).map { String(repeating: "word\($0) ", count: 100) }
        let short = ["tiny", "two words"]
        _ = try encoder.embed(long)
        let reused = try encoder.embed(short)
        let fresh = try short.map { text in
            let tokens = encoder.tokenizer.encode(text)
            let hidden = try encoder.encoder.forward(tokens: tokens, lengths: [tokens.count])
            let h = encoder.dimension, n = tokens.count
            var mean = (0..<h).map { j in (0..<n).reduce(Float(0)) { $0 + hidden[$1 * h + j] } / Float(n) }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            mean = mean.map { $0 / norm }
            return mean
        }
        for (a, b) in zip(reused, fresh) { #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 }) }

        let pool = EncoderWorkspacePool(retainedTokens: 100)
        let small = pool.withWorkspace { w in
            w.reserve(tokens: 50, longest: 50, threads: 1, configuration: encoder.encoder.configuration)
            return ObjectIdentifier(w)
        }
        #expect(pool.withWorkspace { ObjectIdentifier($0) } == small, "a small workspace is kept for the next call")
        pool.withWorkspace { w in w.reserve(tokens: 500, longest: 500, threads: 1, configuration: encoder.encoder.configuration) }
        #expect(pool.withWorkspace { $0.tokenCapacity } == 0, "an oversized workspace is freed, not kept")
    }

    @Test func forwardRejectsBadTokensAndLengths() throws {
        let encoder = try Self.model.get().encoder
        #expect(throws: EncoderError.self) { try encoder.forward(tokens: [101, 999_999, 102], lengths: [3]) }
        #expect(throws: EncoderError.self) { try encoder.forward(tokens: [101, 102], lengths: [3]) }
        #expect(throws: EncoderError.self) { try encoder.forward(tokens: [Int32](repeating: 1, count: 600), lengths: [600]) }
    }
}
