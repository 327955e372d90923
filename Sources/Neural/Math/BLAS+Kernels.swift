import COpenBLAS
import Foundation

extension BLAS {
    /// The OpenBLAS kernel family in use (e.g. "SkylakeX", "Haswell", "Prescott").
    public static var coreName: String { String(cString: openblas_get_corename()) }

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

    private static let kernelSelection: String = {
        let fallbacks: Set<String> = ["prescott", "nehalem", "core2", "penryn", "dunnington", "katmai", "coppermine"]
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              fallbacks.contains(coreName.lowercased()),
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            return coreName
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let target: String
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) {
            target = "SkylakeX"
        } else if flags.isSuperset(of: ["avx2", "fma"]) {
            target = "Haswell"
        } else {
            return coreName
        }
        typealias Hook = @convention(c) () -> Void
        guard let handle = dlopen(nil, RTLD_NOW),
              let quit = dlsym(handle, "gotoblas_dynamic_quit"), let initialise = dlsym(handle, "gotoblas_dynamic_init") else {
            return coreName
        }
        setenv("OPENBLAS_CORETYPE", target, 0)
        unsafeBitCast(quit, to: Hook.self)()
        unsafeBitCast(initialise, to: Hook.self)()
        return coreName
    }()
}
