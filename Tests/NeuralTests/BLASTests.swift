import Testing
@testable import Neural

struct BLASTests {
    @Test func sgemmMatchesHandComputedProduct() {
        // [2×3]·[3×2] = [[58, 64], [139, 154]]
        let a: [Float] = [1, 2, 3, 4, 5, 6]
        let b: [Float] = [7, 8, 9, 10, 11, 12]
        var c = [Float](repeating: 0, count: 4)
        c.withUnsafeMutableBufferPointer { cp in
            BLAS.sgemm(m: 2, n: 2, k: 3, a: a, lda: 3, b: b, ldb: 2, c: cp.baseAddress!, ldc: 2)
        }
        #expect(c == [58, 64, 139, 154])
    }

    /// The kernel family comes from the CPU flags and ranks AVX-512 above AVX2 (what the bench override relies on).
    @Test func bestCoreFollowsTheCPUFlags() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }!.split(separator: " ").map(String.init))
        let expected: String? = flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") && flags.contains("avx512dq")
            ? (flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX")
            : (flags.contains("avx2") && flags.contains("fma") ? "Haswell" : nil)
        #expect(BLAS.bestCoreForCPU == expected)
        #expect(BLAS.kernelRank("Cooperlake") > BLAS.kernelRank("skylakex"))
        #expect(BLAS.kernelRank("SkylakeX") > BLAS.kernelRank("Haswell"))
        #expect(BLAS.kernelRank("Haswell") > BLAS.kernelRank("Prescott"))
    }
}
