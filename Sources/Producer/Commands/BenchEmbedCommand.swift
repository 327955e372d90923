import ArgumentParser
import Core
import Foundation
import Neural

/// `twin bench embed`: encoder throughput at batch 32 and single-sentence latency, beside sentence-transformers
/// (torch CPU) measured in the same run on the same sentences and model files.
struct BenchEmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Benchmark the native sentence encoder against sentence-transformers.")

    @OptionGroup var options: EncoderOptions

    @Option(help: "One sentence per line.")
    var sentences = "Benchmarks/embed/sentences.txt"

    @Option(help: "Sentences per batch.")
    var batch = 32

    @Option(help: "Timed passes over all sentences (the median is reported).")
    var repeats = 5

    @Option(help: "Sentences timed one at a time for latency.")
    var latencySamples = 50

    @Option(help: "Python of the peer venv (Benchmarks/embed/setup.sh prints it).")
    var peerPython = "Benchmarks/embed/.venv-embed/bin/python"

    @Flag(help: "Skip the peer.")
    var noPeer = false

    @Flag(help: "Keep an OPENBLAS_CORETYPE that pins weaker kernels than this CPU supports (by default the benchmark replaces it: the peer's torch ignores that variable).")
    var keepOpenblasCoretype = false

    func validate() throws {
        guard batch >= 1, repeats >= 1, latencySamples >= 1 else {
            throw ValidationError("--batch, --repeats and --latency-samples must be at least 1")
        }
    }

    func run() throws {
        guard let data = FileManager.default.contents(atPath: sentences) else {
            throw TwinError.io("cannot read \(sentences)")
        }
        let texts = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        guard !texts.isEmpty else { throw TwinError.invalidInput("\(sentences) has no sentences") }

        var kernelNote = ""
        if BLAS.environmentPinsWeakerKernels, let best = BLAS.bestCoreForCPU {
            let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
            if keepOpenblasCoretype {
                kernelNote = "; note: OPENBLAS_CORETYPE=\(pinned) kept although this CPU runs \(best) kernels"
            } else {
                BLAS.useBestKernelsOverridingEnvironment()
                kernelNote = "; OPENBLAS_CORETYPE=\(pinned) replaced by \(best), the CPU's best kernels (--keep-openblas-coretype keeps it)"
            }
        }
        let loadStart = ContinuousClock.now
        let encoder = try options.load()
        let loadTime = ContinuousClock.now - loadStart
        let averageTokens = Double(texts.reduce(0) { $0 + encoder.tokenizer.encode($1).count }) / Double(texts.count)

        _ = try encoder.embed(Array(texts.prefix(batch)), batchSize: batch, parallelism: options.threads)  // warm-up
        var rates: [Double] = [], cpuRates: [Double] = []
        for _ in 0..<repeats {
            let start = ContinuousClock.now, cpuStart = processCPUSeconds()
            _ = try encoder.embed(texts, batchSize: batch, parallelism: options.threads)
            rates.append(Double(texts.count) / (ContinuousClock.now - start).seconds)
            cpuRates.append(Double(texts.count) / (processCPUSeconds() - cpuStart))
        }
        var latencies: [Double] = []
        for text in texts.prefix(latencySamples) {
            let start = ContinuousClock.now
            _ = try encoder.embed([text], parallelism: options.threads)
            latencies.append((ContinuousClock.now - start).seconds * 1000)
        }
        let twin = BenchEmbedFigures(sentencesPerSecond: median(rates), sentencesPerCPUSecond: median(cpuRates),
                                     singleLatencyMs: median(latencies), peakRSSMiB: peakRSSMiB())

        print("twin bench embed: \(options.model), \(texts.count) sentences (mean \(String(format: "%.1f", averageTokens)) tokens), "
              + "batch \(batch), \(options.threads) threads (shards × 1 OpenBLAS \(BLAS.coreName) thread), median of \(repeats) passes; "
              + "load \(String(format: "%.2f", loadTime.seconds)) s" + kernelNote)
        let peer = noPeer ? nil : try runPeer()
        let rows: [(String, Double, Double?, String)] = [
            ("sentences/s at batch \(batch)", twin.sentencesPerSecond, peer?.sentencesPerSecond, "higher is better"),
            ("sentences per CPU-second", twin.sentencesPerCPUSecond, peer?.sentencesPerCPUSecond, "higher is better"),
            ("single-sentence latency ms", twin.singleLatencyMs, peer?.singleLatencyMs, "lower is better"),
            ("peak RSS MiB", twin.peakRSSMiB, peer?.peakRSSMiB, "lower is better"),
        ]
        print("metric".padding(toLength: 32, withPad: " ", startingAt: 0) + "      twin      peer   twin/peer")
        for (name, ours, theirs, note) in rows {
            let peerText = theirs.map { String(format: "%9.1f", $0) } ?? "        -"
            let ratio = theirs.map { String(format: "%10.2fx", ours / $0) } ?? "          -"
            print(name.padding(toLength: 32, withPad: " ", startingAt: 0) + String(format: "%9.1f", ours) + " " + peerText + " " + ratio
                  + "  (\(note))")
        }
        if let peer { print("peer: \(peer.description)") }
    }

    private func runPeer() throws -> BenchEmbedFigures {
        guard FileManager.default.isExecutableFile(atPath: peerPython) else {
            throw TwinError.configuration("peer python \(peerPython) not found; run Benchmarks/embed/setup.sh (or pass --no-peer)")
        }
        let model = EncoderModels.directory(named: options.model, configuration: try TwinConfiguration.load())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: peerPython)
        process.arguments = ["Benchmarks/embed/peer.py", "--model", model, "--sentences", sentences, "--threads", "\(options.threads)",
                             "--batch", "\(batch)", "--repeats", "\(repeats)", "--latency-samples", "\(latencySamples)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let rate = object["sentences_per_second"] as? Double, let cpuRate = object["sentences_per_cpu_second"] as? Double,
              let latency = object["single_latency_ms"] as? Double,
              let rss = object["peak_rss_mib"] as? Double else {
            throw TwinError.io("peer failed (exit \(process.terminationStatus)): \(String(decoding: data, as: UTF8.self).suffix(400))")
        }
        return BenchEmbedFigures(sentencesPerSecond: rate, sentencesPerCPUSecond: cpuRate, singleLatencyMs: latency, peakRSSMiB: rss,
                                 description: object["peer"] as? String ?? "sentence-transformers")
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// User + system CPU seconds of the whole process so far (all threads): a load-robust cost measure,
    /// since wall-clock throughput on a shared machine mostly measures the other jobs.
    private func processCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func peakRSSMiB() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
    }
}

/// One side's figures in `twin bench embed`.
struct BenchEmbedFigures {
    var sentencesPerSecond: Double
    /// Sentences per second of process CPU time (user + system, all threads) during the same passes.
    var sentencesPerCPUSecond: Double
    var singleLatencyMs: Double
    var peakRSSMiB: Double
    var description = "twin"
}

