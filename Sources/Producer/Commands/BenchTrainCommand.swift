import ArgumentParser
import Core
import Foundation
import Neural

/// `twin bench train`: SFT tokens/s and peak memory of native LoRA training (r 16 on all seven
/// projections, one sequence per step) and of PyTorch + PEFT on the same model, shapes and thread count,
/// in the same run (the peer runs in its own process after ours, so neither's memory counts for the other).
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Benchmark LoRA SFT training against PyTorch + PEFT (Benchmarks/train).")

    @Option(help: "Model file or name (default: SmolLM2-135M-Instruct.Q4_1.gguf).") var model: String?
    @Option(help: "Tokens per sequence.") var seq = 256
    @Option(help: "Timed optimiser steps (the median is reported).") var steps = 5
    @Option(help: "Untimed steps first.") var warmup = 1
    @Option(help: "Compute threads for both.") var threads = 2
    @Option(help: "Sequences per step (the issue measures 1 and 4).") var batch = 1
    @Option(help: "LoRA rank.") var rank = 16
    @Option(help: "Train mode: lora, qlora (q4_1 base) or full.") var mode = "lora"
    @Flag(help: "Recompute activations in backward (less memory, more compute).") var gradientCheckpointing = false
    @Option(help: "Python with torch + peft (default: Benchmarks/train/.venv-train/bin/python).") var peerPython: String?
    @Flag(help: "Skip the PyTorch + PEFT peer.") var noPeer = false
    @Flag(help: "Load the GGUF weights into the peer too (by default it builds the same shape with random weights, as Benchmarks/train/run.sh does: timing and memory depend only on shapes).")
    var peerGGUF = false
    @Flag(help: "Print one JSON object instead of the table.") var json = false

    struct Report: Encodable {
        var model: String
        var seq: Int
        var batch: Int
        var threads: Int
        var twin: TrainBenchmark.Result
        var peer: PeerResult?
        var throughput_ratio: Double?
        var cpu_ratio: Double?
        var memory_ratio: Double?
    }

    struct PeerResult: Codable {
        var peer: String
        var tokens_per_second: Double
        var median_step_seconds: Double
        var step_seconds: [Double]
        var cpu_seconds_per_step: Double
        var peak_rss_bytes: Double
        var losses: [Double]
    }

    func run() throws {
        guard seq >= 8, steps >= 1, warmup >= 0, threads >= 1, rank >= 1, batch >= 1 else {
            throw ValidationError("seq must be ≥ 8; steps, threads, batch and rank ≥ 1; warmup ≥ 0")
        }
        let lora = LoRAConfig(rank: rank, alpha: Float(2 * rank))
        let trainMode: TrainingMode
        switch mode {
        case "lora": trainMode = .lora(lora)
        case "qlora": trainMode = .qlora(lora, .q4_1)
        case "full": trainMode = .full
        default: throw ValidationError("--mode must be lora, qlora or full, got \(mode)")
        }
        let config = try TwinConfiguration.load()
        let path = try DecoderModelResolver.path(for: model, modelsDirectory: config.modelsDirectory)
        let core = BLAS.useBestKernels()
        var settings = TrainBenchmark.Settings()
        settings.sequenceLength = seq
        settings.steps = steps
        settings.warmupSteps = warmup
        settings.threads = threads
        settings.batchSize = batch
        settings.mode = trainMode
        settings.gradientCheckpointing = gradientCheckpointing
        let ours: TrainBenchmark.Result
        do { ours = try TrainBenchmark.run(ggufPath: path, settings: settings) } catch let e as TrainingError {
            throw TwinError.model("training benchmark: \(e.message)")
        }
        var report = Report(model: path, seq: seq, batch: batch, threads: threads, twin: ours)
        if !noPeer {
            let python = peerPython ?? "Benchmarks/train/.venv-train/bin/python"
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw TwinError.io("PEFT peer not found at \(python); run Benchmarks/train/setup.sh, or pass --peer-python (or --no-peer)")
            }
            guard mode == "lora", !gradientCheckpointing, rank == 16 else {
                throw ValidationError("the peer measures LoRA r 16 without gradient checkpointing; pass --no-peer for other settings")
            }
            let peer = try runPeer(python: python, gguf: path)
            report.peer = peer
            report.throughput_ratio = ours.tokensPerSecond / peer.tokens_per_second
            report.cpu_ratio = peer.cpu_seconds_per_step / ours.cpuSecondsPerStep
            report.memory_ratio = Double(ours.peakResidentBytes) / peer.peak_rss_bytes
        }
        if json { printJSON(report); return }
        let mib = 1024.0 * 1024
        print("twin bench train — \(path), \(mode) r \(rank) on q,k,v,o,gate,up,down, seq \(seq), batch \(batch), \(threads) threads, median of \(steps) (OpenBLAS \(core))")
        print(String(format: "twin  %7.1f tok/s   median step %.2f s   %.2f CPU-s/step   peak RSS %.0f MiB   losses %@",
                     ours.tokensPerSecond, ours.medianStepSeconds, ours.cpuSecondsPerStep, Double(ours.peakResidentBytes) / mib,
                     ours.losses.map { String(format: "%.3f", $0) }.joined(separator: " ")))
        guard let peer = report.peer else { return }
        print(String(format: "peer  %7.1f tok/s   median step %.2f s   %.2f CPU-s/step   peak RSS %.0f MiB   (%@)",
                     peer.tokens_per_second, peer.median_step_seconds, peer.cpu_seconds_per_step, peer.peak_rss_bytes / mib, peer.peer))
        print(String(format: "ratio %.2f× tokens/s (wall), %.2f× per CPU second, %.2f× peak memory (target ≥ 1.0× at ≤ 0.5×)",
                     report.throughput_ratio ?? 0, report.cpu_ratio ?? 0, report.memory_ratio ?? 0))
    }

    private func runPeer(python: String, gguf: String) throws -> PeerResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Benchmarks/train/peer_peft.py").path
        process.arguments = [script, "--seq", String(seq), "--steps", String(steps), "--warmup", String(warmup),
                             "--threads", String(threads), "--batch", String(batch)] + (peerGGUF ? ["--gguf", gguf] : [])
        let out = Pipe()
        process.standardOutput = out
        do { try process.run() } catch { throw TwinError.io("cannot start the PEFT peer \(python): \(error.localizedDescription)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
            throw TwinError.io("PEFT peer failed with status \(process.terminationStatus)")
        }
        do { return try JSONDecoder().decode(PeerResult.self, from: Data(line.utf8)) } catch {
            throw TwinError.io("PEFT peer printed no result line: \(line.prefix(200))")
        }
    }
}
