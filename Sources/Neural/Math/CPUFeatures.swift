import Foundation

/// What the CPU this process runs on can execute, read once at first use.
enum CPUFeatures {
    /// AVX-512 F/CD/BW/DQ/VL and VNNI: everything `-target-cpu cascadelake` code (NeuralVNNI) may use.
    /// Linux reports a flag only when the kernel also saves the AVX-512 registers, so a listed flag is
    /// usable. `TWIN_DECODER_KERNELS=avx2` turns the VNNI loops off (for comparisons).
    static let hasAVX512VNNI: Bool = {
        if ProcessInfo.processInfo.environment["TWIN_DECODER_KERNELS"] == "avx2" { return false }
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        return ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "fma", "f16c", "avx2", "bmi2"]
            .allSatisfy(flags.contains)
    }()
}
