/// The decoder's quantised matrix-product loops for CPUs with AVX-512 VNNI (+VL): the four int8 products
/// of a lane are summed by one `vpdpbusd`, as in llama.cpp's build for such CPUs, instead of AVX2's
/// `maddubs` + `madd`. Both give the same 32-bit integers (no intermediate can saturate: weights are
/// 0…15 for Q4_1 and |w|, |x| ≤ 127 for Q8_0), so results are bit-identical to the AVX2 loops in
/// Neural's `QuantBlockDot`, float operations included (same order, same fused multiply-adds).
///
/// This module is compiled for a VNNI-capable CPU (Package.swift: `-target-cpu cascadelake`, the
/// earliest such target) and must only be called after Neural's CPU check; Neural dispatches to it at
/// run time and otherwise keeps its AVX2 loops. It sees raw memory only; the loops themselves, on
/// weights re-laid 16 rows at a time, are in `VNNIInterleaved.swift`.
public enum VNNIKernels {
    /// Whether this build carries the VNNI loops (Linux release builds; elsewhere the entry points trap).
    public static var isCompiled: Bool {
        #if NEURAL_VNNI
        return true
        #else
        return false
        #endif
    }

    /// How far ahead of the weights being read the loops prefetch (bytes). The hardware prefetchers
    /// alone left decode at ~100 tokens/s on the 2-vCPU EPYC VM; 2–6 KiB ahead gave 170–185 (3 KiB chosen;
    /// 1 KiB 150, 0 = no gain). Neural sets it from `TWIN_PREFETCH_BYTES` for such measurements.
    // nonisolated(unsafe): set once before the first product (QuantMatMul.Kernels.best), then only read.
    // No code here parses it: every function in this module is compiled for AVX-512, and a generic
    // specialisation emitted here (weak, shared by name) could be the copy the linker keeps for the
    // whole program, including on CPUs without AVX-512.
    nonisolated(unsafe) public static var prefetchDistance = 3072

    #if !NEURAL_VNNI
    static func unavailable() -> Never {
        preconditionFailure("VNNIKernels: not compiled into this build (check VNNIKernels.isCompiled)")
    }
    #endif
}
