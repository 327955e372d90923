import ArgumentParser
import Core
import Foundation
import Neural

/// `twin bench generate`: prefill and decode tokens/s of the native decoder, 8-sequence batched decode,
/// and llama.cpp on the same file in the same run.
struct BenchGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Benchmark local generation against llama.cpp (llama-cpp-python).")

    @Option(help: "Model file or name (default: SmolLM2-135M-Instruct.Q4_1.gguf).")
    var model: String?
    @Option(help: "Compute threads for both engines.")
    var threads = 2
    @Option(help: "Prompt tokens for the prefill measurement.")
    var promptTokens = 256
    @Option(help: "New tokens for the decode measurement.")
    var newTokens = 128
    @Option(help: "Concurrent sequences for the batched decode measurement.")
    var batch = 8
    @Option(help: "Repetitions (the median is reported).")
    var runs = 3
    @Option(help: "Python with llama-cpp-python (default: Benchmarks/generate/.venv-generate/bin/python).")
    var peerPython: String?
    @Flag(help: "Skip the llama.cpp peer.")
    var noPeer = false

    func run() throws {
        guard threads >= 1, promptTokens >= 1, newTokens >= 1, batch >= 1, runs >= 1 else {
            throw TwinError.invalidInput("threads, prompt-tokens, new-tokens, batch and runs must be ≥ 1")
        }
        let config = try TwinConfiguration.load()
        let path = try DecoderModelResolver.path(for: model, modelsDirectory: config.modelsDirectory)
        let llama = try DecoderModelResolver.load(path: path)
        BLAS.setThreads(threads)
        let context = promptTokens + newTokens + 8
        let engine = LlamaEngine(model: llama, maxRows: max(64, batch), maxContext: context, threads: threads)
        let text = "The history of computing is a story of people, machines and ideas that changed the world. "
        var ids: [Int] = []
        while ids.count < promptTokens { ids += llama.tokenizer.encode(text) }
        ids = Array(ids.prefix(promptTokens))

        let clock = ContinuousClock()
        let cache = LlamaKVCache(config: llama.config, capacity: context)
        // Batched decode: `batch` sequences, each prefilled with a short prompt, stepped together.
        let caches = (0..<batch).map { _ in LlamaKVCache(config: llama.config, capacity: context) }
        let shortPrompt = Array(ids.prefix(16))
        var prefill: [Double] = [], decode: [Double] = [], batched: [Double] = []
        // Each run measures the single sequence and then the batch, so the two see the same stretch of
        // the machine: on a shared VM whose speed drifts from minute to minute, measuring all single
        // runs first and all batched runs after could put them in different phases.
        for _ in 0..<runs {
            cache.truncate(to: 0)
            let t0 = clock.now
            var start = 0
            while start < ids.count {
                let end = min(ids.count, start + engine.maxRows)
                engine.step((start..<end).map { .init(cache: cache, position: $0, token: ids[$0], wantsLogits: $0 == ids.count - 1) })
                start = end
            }
            prefill.append(Double(ids.count) / seconds(clock.now - t0))
            var token = Sampler.argmax(engine.logits(ofRequest: 0))
            let t1 = clock.now
            for _ in 0..<newTokens {
                engine.step([.init(cache: cache, position: cache.count, token: token, wantsLogits: true)])
                token = Sampler.argmax(engine.logits(ofRequest: 0))
            }
            decode.append(Double(newTokens) / seconds(clock.now - t1))

            var tokens: [Int] = []
            for c in caches {
                c.truncate(to: 0)
                engine.step(shortPrompt.enumerated().map { .init(cache: c, position: $0.offset, token: $0.element, wantsLogits: $0.offset == shortPrompt.count - 1) })
                tokens.append(Sampler.argmax(engine.logits(ofRequest: 0)))
            }
            let steps = min(newTokens, 64)
            let t2 = clock.now
            for _ in 0..<steps {
                engine.step(caches.enumerated().map { .init(cache: $0.element, position: $0.element.count, token: tokens[$0.offset], wantsLogits: true) }, order: .single)
                for i in 0..<batch { tokens[i] = Sampler.argmax(engine.logits(ofRequest: i)) }
            }
            batched.append(Double(steps * batch) / seconds(clock.now - t2))
        }
        // Prompt-lookup speculative decoding on a prompt whose answer repeats it (greedy, same output).
        let generator = LlamaGenerator(model: llama, contextLength: 1024, threads: threads)
        let passage = "The lighthouse keeper climbed the spiral stairs every evening at dusk, lit the great lamp, "
            + "and watched the ships pass safely along the rocky coast while the wind sang in the rigging."
        let repeatPrompt = try generator.chatPrompt([ChatMessage(role: "user", content: "Repeat this text exactly: \(passage)")])
        var greedy = SamplingParameters()
        greedy.maxNewTokens = 96
        var plainTPS: [Double] = [], lookupTPS: [Double] = []
        var stats = SpeculationStats()
        var identical = true
        for _ in 0..<runs {
            let plain = try generator.generate(prompt: repeatPrompt, parameters: greedy)
            let (fast, s) = try generator.generateWithPromptLookup(prompt: repeatPrompt, parameters: greedy)
            identical = identical && plain.tokens == fast.tokens
            plainTPS.append(plain.tokensPerSecond)
            lookupTPS.append(fast.tokensPerSecond)
            stats = s
        }

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let rssMB = Double(usage.ru_maxrss) / 1024

        let ours = (prefill: median(prefill), decode: median(decode), batched: median(batched))
        print("twin bench generate — \(path), \(threads) threads, \(promptTokens)-token prompt, \(newTokens) new tokens, median of \(runs)")
        print(String(format: "twin       prefill %8.1f tok/s   decode %7.1f tok/s   batch×%d decode %7.1f tok/s (%.2f× single)   peak RSS %.0f MB",
                     ours.prefill, ours.decode, batch, ours.batched, ours.batched / ours.decode, rssMB))
        print("twin       batch×\(batch) ÷ single per run: " + zip(batched, decode).map { String(format: "%.2f×", $0 / $1) }.joined(separator: " "))
        print(String(format: "twin       prompt-lookup decode %.1f tok/s vs plain %.1f tok/s (%.2f×), %d/%d drafts accepted, output identical: %@",
                     median(lookupTPS), median(plainTPS), median(lookupTPS) / median(plainTPS), stats.accepted, stats.drafted,
                     identical ? "yes" : "NO"))
        guard !noPeer else { return }
        let python = peerPython ?? "Benchmarks/generate/.venv-generate/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TwinError.io("llama.cpp peer not found at \(python); run Benchmarks/generate/setup.sh or pass --peer-python (or --no-peer)")
        }
        let peer = try runPeer(python: python, model: path, ids: ids)
        print(String(format: "llama.cpp  prefill %8.1f tok/s   decode %7.1f tok/s   peak RSS %.0f MB", peer.prefill_tps, peer.decode_tps, peer.peak_rss_mb))
        print(String(format: "ratio      prefill %8.2f×        decode %7.2f×", ours.prefill / peer.prefill_tps, ours.decode / peer.decode_tps))
    }

    private struct PeerResult: Decodable {
        var prefill_tps: Double
        var decode_tps: Double
        var peak_rss_mb: Double
    }

    private func runPeer(python: String, model: String, ids: [Int]) throws -> PeerResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Benchmarks/generate/peer.py").path
        let idList = "[" + ids.map(String.init).joined(separator: ",") + "]"
        process.arguments = [script, model, String(threads), idList, String(newTokens), String(runs)]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
            throw TwinError.io("llama.cpp peer failed with status \(process.terminationStatus)")
        }
        return try JSONDecoder().decode(PeerResult.self, from: Data(line.utf8))
    }
}

private func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

private func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}
