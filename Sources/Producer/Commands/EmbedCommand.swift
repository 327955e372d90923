import ArgumentParser
import Core
import Foundation
import Neural

/// Options shared by the local encoder tools: which model, how many threads.
struct EncoderOptions: ParsableArguments {
    @Option(help: "Encoder model folder under TWIN_MODELS_DIR.")
    var model = EncoderModels.defaultName

    @Option(help: "Threads: a batch is split into this many shards encoded at once, each with single-threaded OpenBLAS (a single text has its products split by columns over the threads instead).")
    var threads = 2

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Picks the BLAS kernels and threads (process start-up: no BLAS call has run yet), then loads the model
    /// once; the weights stay in memory for the whole command.
    func load() throws -> SentenceEncoder {
        BLAS.useBestKernels()
        // Parallelism comes from sharding batches across threads; OpenBLAS threads inside each call would
        // compete with them (and spin-wait badly on a busy machine), so each sgemm runs on its caller's thread.
        BLAS.setThreads(1)
        return try EncoderModels.load(named: model, configuration: TwinConfiguration.load())
    }
}

/// The texts a local encoder tool works on (at least one).
struct EncoderTexts: ParsableArguments {
    @Argument(help: "Texts (invalid UTF-8 is replaced, not fatal).")
    var texts: [String]

    func validate() throws {
        guard !texts.isEmpty else { throw ValidationError("give at least one TEXT") }
    }
}

/// `twin embed TEXT...`: sentence embeddings computed in-process (no queue).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Print sentence embeddings for the given texts (local, in-process).")

    @OptionGroup var options: EncoderOptions

    @Flag(help: "Print {\"model\", \"dimension\", \"embeddings\"} as JSON.")
    var json = false

    @OptionGroup var input: EncoderTexts

    func run() throws {
        let encoder = try options.load()
        let embeddings = try encoder.embed(input.texts, parallelism: options.threads)
        if json {
            print(EmbeddingOutput.json(model: options.model, dimension: encoder.dimension, embeddings: embeddings))
        } else {
            for vector in embeddings { print(vector.map { String(format: "%.6f", $0) }.joined(separator: " ")) }
        }
    }
}

/// `twin similarity TEXT...`: the cosine similarity matrix of the texts' embeddings.
struct SimilarityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similarity", abstract: "Print the cosine similarity matrix of the given texts (local, in-process).")

    @OptionGroup var options: EncoderOptions

    @Flag(help: "Print {\"model\", \"similarities\"} as JSON.")
    var json = false

    @OptionGroup var input: EncoderTexts

    func run() throws {
        let encoder = try options.load()
        let embeddings = try encoder.embed(input.texts, parallelism: options.threads)
        let matrix = embeddings.map { a in embeddings.map { b in SentenceEncoder.cosine(a, b) } }
        if json {
            print(EmbeddingOutput.json(model: options.model, similarities: matrix))
        } else {
            for row in matrix { print(row.map { String(format: "%.4f", $0) }.joined(separator: " ")) }
        }
    }
}

/// JSON rendering of encoder outputs (shortest round-trip decimal for each Float).
enum EmbeddingOutput {
    static func json(model: String, dimension: Int, embeddings: [[Float]]) -> String {
        "{\"model\": \(quoted(model)), \"dimension\": \(dimension), \"embeddings\": \(matrix(embeddings))}"
    }

    static func json(model: String, similarities: [[Float]]) -> String {
        "{\"model\": \(quoted(model)), \"similarities\": \(matrix(similarities))}"
    }

    private static func matrix(_ rows: [[Float]]) -> String {
        "[" + rows.map { "[" + $0.map { "\($0)" }.joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
    }

    private static func quoted(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
