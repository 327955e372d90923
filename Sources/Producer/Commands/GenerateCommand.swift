import ArgumentParser
import Core
import Foundation
import Neural

/// `twin generate`: local text generation with the GGUF decoder, streamed to stdout.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate text with the local decoder model (streams to stdout).")

    @Option(help: "Model file, or a name inside the models directory (default: SmolLM2-135M-Instruct.Q4_1.gguf).")
    var model: String?
    @Option(help: "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) folded into the model at load time.")
    var adapter: String?
    @Option(help: "System prompt (default: the model's own).")
    var system: String?
    @Option(help: "The user prompt.")
    var prompt: String
    @Option(help: "Most tokens to generate.")
    var maxTokens = 256
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(help: "Nucleus sampling threshold in (0, 1].")
    var topP: Float = 1
    @Option(help: "Keep only the k most likely tokens (0: off).")
    var topK = 0
    @Option(help: "Min-p threshold in [0, 1).")
    var minP: Float = 0
    @Option(help: "Repetition penalty (1: off).")
    var repetitionPenalty: Float = 1
    @Option(help: "Random seed for reproducible sampling.")
    var seed: UInt64?
    @Option(name: .customLong("stop"), help: "Stop string (repeatable).")
    var stops: [String] = []
    @Option(help: "Context length (prompt + output).")
    var context = 2048
    @Option(help: "Compute threads.")
    var threads = 2
    @Option(help: "JSON Schema file constraining the output.")
    var jsonSchema: String?
    @Flag(help: "Feed the prompt as is, without the chat template.")
    var raw = false
    @Flag(help: "Print one JSON object with text, token counts and timings instead of streaming.")
    var json = false

    /// Through `guarded`, so errors exit as the README says (2 for invalid input such as a bad `--adapter`).
    func run() async throws {
        try await guarded { try generate() }
    }

    private func generate() throws {
        guard threads >= 1 else { throw TwinError.invalidInput("--threads must be ≥ 1, got \(threads)") }
        guard context >= 16 else { throw TwinError.invalidInput("--context must be ≥ 16, got \(context)") }
        var params = SamplingParameters()
        params.maxNewTokens = maxTokens
        params.temperature = temperature
        params.topP = topP
        params.topK = topK
        params.minP = minP
        params.repetitionPenalty = repetitionPenalty
        params.seed = seed
        params.stopStrings = stops
        do { try params.validate() } catch { throw TwinError.invalidInput(error.message) }

        let config = try TwinConfiguration.load()
        let path = try DecoderModelResolver.path(for: model, modelsDirectory: config.modelsDirectory)
        let llama = try adapter.map { try loadAdapted(path: path, adapterDirectory: $0) } ?? DecoderModelResolver.load(path: path)
        BLAS.setThreads(1)  // the decoder splits work over its own threads
        let generator = LlamaGenerator(model: llama, contextLength: context, threads: threads)
        let tokens: [Int]
        if raw {
            tokens = llama.tokenizer.encode(prompt)
        } else {
            var messages = [ChatMessage(role: "user", content: prompt)]
            if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
            tokens = try wrap { try generator.chatPrompt(messages) }
        }
        var constraint: JSONSchemaConstraint?
        if let jsonSchema {
            guard let text = try? String(contentsOfFile: jsonSchema, encoding: .utf8) else {
                throw TwinError.io("--json-schema: cannot read \(jsonSchema)")
            }
            let schema = try DecoderJSONSchema.parse(text)
            constraint = try wrap { try JSONSchemaConstraint(schema: schema, tokenizer: llama.tokenizer) }
        }
        let stream = !json
        let result = try wrap {
            try generator.generate(prompt: tokens, parameters: params, constraint: constraint) { piece in
                if stream {
                    FileHandle.standardOutput.write(Data(piece.utf8))
                }
                return true
            }
        }
        if json {
            let report = GenerateReport(
                text: result.text, prompt_tokens: result.promptTokens, completion_tokens: result.tokens.count,
                ttft_ms: milliseconds(result.timeToFirstToken), tokens_per_second: result.tokensPerSecond,
                finish_reason: result.finishReason.rawValue)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print()
        }
    }

    /// Loads the model with the adapter folded in: an adapter that is missing, malformed or does not fit the
    /// model is invalid input; a bad model file is a model error, as for a plain load.
    private func loadAdapted(path: String, adapterDirectory: String) throws -> LlamaModel {
        do {
            return try LlamaModel(path: path, adapterDirectory: adapterDirectory)
        } catch let error as LlamaAdapterError {
            throw TwinError.invalidInput("--adapter: \(error.message)")
        } catch let error as GGUFError {
            throw TwinError.model("cannot load decoder model: \(error.message)")
        }
    }

    /// Runs `body`, turning a `GenerationError` (bad prompt or parameters) into `TwinError.invalidInput`.
    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as GenerationError { throw TwinError.invalidInput(error.message) }
    }
}

/// The `--json` output of `twin generate`.
struct GenerateReport: Encodable {
    var text: String
    var prompt_tokens: Int
    var completion_tokens: Int
    var ttft_ms: Double
    var tokens_per_second: Double
    var finish_reason: String
}

/// Milliseconds in a duration.
func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) * 1e-15
}
