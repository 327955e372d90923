import Foundation

/// A sentence-transformers model (BERT + pooling + optional L2 normalisation) loaded once from its folder.
///
/// Loads `config.json`, `model.safetensors`, `vocab.txt` and the sentence-transformers files
/// (`modules.json`, `sentence_bert_config.json`, `1_Pooling/config.json`). Weights stay in memory; every
/// call reuses them. Each concurrent forward pass takes its own work buffers from a pool (kept between calls,
/// so steady-state batches allocate nothing), so calls from several threads are memory-safe; but OpenBLAS
/// should then run with 1 thread (see `BLAS`), and `embed` is blocking CPU work that belongs off the
/// cooperative pool.
public final class SentenceEncoder: Sendable {
    /// Files a model folder must contain.
    public static let requiredFiles = ["config.json", "model.safetensors", "vocab.txt"]

    /// The tokenizer, truncating at the model's `max_seq_length`.
    public let tokenizer: WordPieceTokenizer
    /// The transformer.
    public let encoder: BertEncoder
    /// Whether outputs are L2-normalised (a `Normalize` module in `modules.json`).
    public let normalizes: Bool
    private let pooling: SentenceEncoderFiles.Pooling
    private let lowercaseInput: Bool
    /// Work buffers reused from call to call (one per concurrent forward pass).
    private let workspaces = EncoderWorkspacePool()

    /// Length of every embedding.
    public var dimension: Int { encoder.configuration.hiddenSize }

    /// Loads the model in `directory`; errors name the missing or invalid file.
    public init(directory: String) throws {
        for file in Self.requiredFiles where !FileManager.default.fileExists(atPath: directory + "/" + file) {
            throw EncoderError("\(directory): missing \(file)")
        }
        let files = try SentenceEncoderFiles(directory: directory)
        let configuration = try BertConfiguration(path: directory + "/config.json")
        let weights: BertWeights
        do {
            weights = try BertWeights(file: SafeTensorsFile(path: directory + "/model.safetensors"), configuration: configuration)
        } catch let error as SafeTensorsError {
            throw EncoderError(error.message)
        }
        let normalizer = BertTextNormalizer(lowercase: files.tokenizerLowercase, stripAccents: files.stripAccents,
                                            handleChineseCharacters: files.chineseCharacters)
        do {
            tokenizer = try WordPieceTokenizer(vocabularyPath: directory + "/vocab.txt", normalizer: normalizer,
                                               maxLength: min(files.maxSequenceLength, configuration.maxPositions))
        } catch let error as WordPieceError {
            throw EncoderError(error.message)
        }
        guard tokenizer.tokens.count <= configuration.vocabularySize else {
            throw EncoderError("\(directory)/vocab.txt has \(tokenizer.tokens.count) tokens but the model has \(configuration.vocabularySize)")
        }
        encoder = BertEncoder(configuration: configuration, weights: weights)
        normalizes = files.normalize
        pooling = files.pooling
        lowercaseInput = files.lowercaseInput
    }

    /// One embedding per text, in order. Texts are processed `batchSize` at a time, packed without padding;
    /// with `parallelism` > 1 each batch is split into that many shards of similar token counts, encoded on
    /// separate threads, and a batch of one text has each of its products split by columns over the
    /// threads instead (OpenBLAS should then use 1 thread: see `BLAS.setThreads`).
    public func embed(_ texts: [String], batchSize: Int = 32, parallelism: Int = 1) throws -> [[Float]] {
        try embed(tokenized: texts.map { tokenizer.encode(lowercaseInput ? $0.lowercased() : $0) },
                  batchSize: batchSize, parallelism: parallelism)
    }

    /// One embedding per token sequence (each starting with `[CLS]` and ending with `[SEP]`).
    public func embed(tokenized sequences: [[Int32]], batchSize: Int = 32, parallelism: Int = 1) throws -> [[Float]] {
        var result: [[Float]] = []
        result.reserveCapacity(sequences.count)
        var start = 0
        while start < sequences.count {
            let batch = Array(sequences[start..<min(start + max(1, batchSize), sequences.count)])
            result += try embedBatch(batch, parallelism: max(1, parallelism))
            start += batch.count
        }
        return result
    }

    private func embedBatch(_ batch: [[Int32]], parallelism: Int) throws -> [[Float]] {
        let shards = Self.shards(lengths: batch.map(\.count), count: parallelism)
        // Nothing to shard by rows (one text): the threads share each product by columns.
        if shards.count == 1 { return try encodeShard(batch[...], threads: parallelism) }
        // nonisolated(unsafe): each shard writes only its own slot, and concurrentPerform returns after all finished.
        nonisolated(unsafe) let slots = UnsafeMutableBufferPointer<Result<[[Float]], Error>?>.allocate(capacity: shards.count)
        slots.initialize(repeating: nil)
        defer { slots.deallocate() }
        DispatchQueue.concurrentPerform(iterations: shards.count) { index in
            slots[index] = Result { try encodeShard(batch[shards[index]], threads: 1) }
        }
        return try slots.flatMap { try $0!.get() }
    }

    private func encodeShard(_ shard: ArraySlice<[Int32]>, threads: Int) throws -> [[Float]] {
        let lengths = shard.map(\.count)
        return try workspaces.withWorkspace { workspace in
            try encoder.forward(tokens: shard.flatMap { $0 }, lengths: lengths, threads: threads, workspace: workspace)
            return pool(UnsafePointer(workspace.hidden), lengths: lengths)
        }
    }

    /// Splits sequence indices into at most `count` contiguous ranges of roughly equal token totals.
    static func shards(lengths: [Int], count: Int) -> [Range<Int>] {
        let total = lengths.reduce(0, +)
        guard count > 1, lengths.count > 1, total > 0 else { return [0..<lengths.count] }
        var ranges: [Range<Int>] = []
        var start = 0, accumulated = 0
        for (index, length) in lengths.enumerated() {
            accumulated += length
            let target = total * (ranges.count + 1) / count
            if accumulated >= target && ranges.count < count - 1 && index + 1 < lengths.count {
                ranges.append(start..<(index + 1))
                start = index + 1
            }
        }
        ranges.append(start..<lengths.count)
        return ranges
    }

    /// Pools each sequence's rows of the hidden states `x` [T × H] into one vector and normalises it when the model says so.
    private func pool(_ x: UnsafePointer<Float>, lengths: [Int]) -> [[Float]] {
        let h = dimension
        var first = 0
        return lengths.map { length in
            var vector = [Float](repeating: pooling == .max ? -.infinity : 0, count: h)
            vector.withUnsafeMutableBufferPointer { out in
                switch pooling {
                case .cls:
                    for j in 0..<h { out[j] = x[first &* h &+ j] }
                case .mean:
                    for row in first..<(first + length) {
                        for j in 0..<h { out[j] += x[row &* h &+ j] }
                    }
                    let inverse = 1 / Float(length)
                    for j in 0..<h { out[j] *= inverse }
                case .max:
                    for row in first..<(first + length) {
                        for j in 0..<h { out[j] = max(out[j], x[row &* h &+ j]) }
                    }
                }
                if normalizes { Elementwise.l2Normalize(out.baseAddress!, count: h) }
            }
            first += length
            return vector
        }
    }

    /// Cosine similarity of two vectors (plain dot product when both are unit length).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "cosine of vectors of different lengths")
        var dot: Double = 0, na: Double = 0, nb: Double = 0
        for i in a.indices {
            dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
        }
        let denominator = (na * nb).squareRoot()
        return denominator > 0 ? Float(dot / denominator) : 0
    }
}
