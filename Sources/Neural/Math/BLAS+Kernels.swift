import COpenBLAS
import Foundation

extension BLAS {
    /// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The fastest OpenBLAS kernel family this CPU's flags allow ("Cooperlake", "SkylakeX", "Haswell"), or nil
    /// when the CPU has no AVX2/FMA or /proc/cpuinfo cannot be read.
    public static let bestCoreForCPU: String? = {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            return nil
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) {
            // Cooper Lake's sgemm is SkylakeX's plus bf16; 0.3.21 picks it itself on CPUs that have avx512_bf16.
            return flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        }
        return flags.isSuperset(of: ["avx2", "fma"]) ? "Haswell" : nil
    }()

    /// Whether `OPENBLAS_CORETYPE` pins kernels weaker than this CPU supports (e.g. Haswell's AVX2 kernels on an
    /// AVX-512 CPU, about half the sgemm speed).
    public static var environmentPinsWeakerKernels: Bool {
        guard let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], let best = bestCoreForCPU else { return false }
        return kernelRank(pinned) < kernelRank(best)
    }

    /// Switches OpenBLAS to AVX2/AVX-512 kernels when its start-up CPU detection fell back to an SSE-era core.
    ///
    /// Debian's OpenBLAS 0.3.21 does not recognise some virtualised Xeons ("Intel(R) Xeon(R) Processor") and
    /// falls back to Prescott kernels, which made sgemm ~4x slower here. `OPENBLAS_CORETYPE` fixes that but is
    /// read only when the library loads, before `main`; so, unless the user set it, we set it from the CPU
    /// flags and re-run OpenBLAS's own dynamic-architecture initialisation. Idempotent; a no-op where the
    /// library is not a dynamic-architecture build. Returns the core in use.
    ///
    /// Call it once at process start-up, like `setThreads`, while no other thread can be inside a BLAS call:
    /// the kernel table is swapped, and a concurrent sgemm could see it half-replaced.
    @discardableResult
    public static func useBestKernels() -> String { kernelSelection }

    /// Like `useBestKernels()`, but also replaces a user's `OPENBLAS_CORETYPE` that pins weaker kernels than the
    /// CPU supports (benchmarks: the peer's torch ignores that variable). Same start-up-only rule.
    @discardableResult
    public static func useBestKernelsOverridingEnvironment() -> String {
        if environmentPinsWeakerKernels, let best = bestCoreForCPU {
            reinitialise(core: best, overwrite: true)
        }
        return useBestKernels()
    }

    private static let kernelSelection: String = {
        let fallbacks: Set<String> = ["prescott", "nehalem", "core2", "penryn", "dunnington", "katmai", "coppermine"]
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              fallbacks.contains(coreName.lowercased()), let target = bestCoreForCPU else {
            return coreName
        }
        reinitialise(core: target, overwrite: false)
        return coreName
    }()

    /// Points OpenBLAS's dynamic-architecture dispatch at `core` by re-running its own initialisation.
    private static func reinitialise(core: String, overwrite: Bool) {
        typealias Hook = @convention(c) () -> Void
        guard let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"), let initialise = dlsym(handle, "gotoblas_dynamic_init") else {
            return
        }
        setenv("OPENBLAS_CORETYPE", core, overwrite ? 1 : 0)
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialise, to: Hook.self)()
    }

    /// Orders kernel families by vector width (names as `OPENBLAS_CORETYPE` takes them, any case).
    static func kernelRank(_ core: String) -> Int {
        switch core.lowercased() {
        case "cooperlake", "sapphirerapids": 3
        case "skylakex": 2
        case "haswell", "zen", "excavator": 1
        default: 0
        }
    }
}
