import Dispatch
import Foundation

/// The training step's own threads: it splits products and element-wise kernels over the thread budget
/// (`LlamaTrainModel.threadBudget`) itself, with OpenBLAS held to one thread per call meanwhile.
///
/// Why not OpenBLAS's threads: at sequence 256 most products are small (attention heads, LoRA), and its
/// workers spin between calls on the cores the element-wise kernels need. Splitting the output of each
/// product in two and running the element-wise loops and attention heads side by side keeps both cores
/// busy with no spinning. Without a budget a pass runs on one thread of its own and OpenBLAS threads each
/// product as it is set to (`BLAS.setThreads`), as before.
enum TrainParallel {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var holders = 0
    nonisolated(unsafe) private static var savedThreads = 1

    /// Runs `body()` with OpenBLAS set to one thread (where it had more), so the `threads` threads of the
    /// pass can each call it. Nested or concurrent callers share one saved count; the last one out
    /// restores it. Only passes with an explicit `LlamaTrainModel.threadBudget` come here: changing the
    /// process-wide count is visible to other models running at the same time.
    static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        if holders == 0 {
            savedThreads = Swift.max(1, BLAS.threads)
            if savedThreads > 1 { BLAS.setThreads(1) }
        }
        holders += 1
        lock.unlock()
        defer {
            lock.lock()
            holders -= 1
            if holders == 0 && savedThreads > 1 { BLAS.setThreads(savedThreads) }
            lock.unlock()
        }
        return try body()
    }

    /// Runs `body(part)` for part in 0..<parts, side by side; inline when parts ≤ 1.
    @inline(__always)
    static func forEach(_ parts: Int, _ body: (Int) -> Void) {
        if parts <= 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = TrainUnchecked(escapable)
            DispatchQueue.concurrentPerform(iterations: parts) { box.value($0) }
        }
    }

    /// Runs `body(range)` on `threads` contiguous chunks of 0..<count (each at least `minimum` long).
    @inline(__always)
    static func forChunks(_ count: Int, threads: Int, minimum: Int = 4096, _ body: (Range<Int>) -> Void) {
        let parts = Swift.max(1, Swift.min(threads, count / Swift.max(1, minimum)))
        if parts == 1 {
            body(0..<count)
            return
        }
        forEach(parts) { i in body((count * i / parts)..<(count * (i + 1) / parts)) }
    }

    /// C[m×n] = alpha · op(A) · op(B) + beta · C like `BLAS.sgemm`, with C split into `threads` row or
    /// column bands computed side by side (each band one single-threaded product). Small products run
    /// whole: below ~8 MFLOP a thread hand-off costs more than it saves.
    static func sgemm(
        threads: Int, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = threads > 1 && m &* n &* k >= 1 << 22 ? Swift.min(threads, Swift.max(m, n) / 16) : 1
        if parts <= 1 {
            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
            return
        }
        forEach(parts) { i in
            if m >= n {
                // Rows [lo, hi) of C: rows of op(A).
                let lo = m * i / parts, hi = m * (i + 1) / parts
                BLAS.sgemm(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha,
                           a: transA ? a + lo : a + lo &* lda, lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c + lo &* ldc, ldc: ldc)
            } else {
                // Columns [lo, hi) of C: columns of op(B).
                let lo = n * i / parts, hi = n * (i + 1) / parts
                BLAS.sgemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB ? b + lo &* ldb : b + lo, ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
            }
        }
    }
}

/// Carries a value into `concurrentPerform`; safe because each part writes disjoint memory and the call
/// returns only after every part finished.
struct TrainUnchecked<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
