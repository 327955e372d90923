import Dispatch

/// Splits work over a fixed number of threads (the decoder's own threads, separate from OpenBLAS's).
enum DecoderParallel {
    /// Runs `body` on `threads` contiguous chunks of 0..<count; runs inline when one thread suffices.
    @inline(__always)
    static func forChunks(_ count: Int, threads: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
        let n = max(1, min(threads, count / max(1, minimumPerThread)))
        if n == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                box.value((count * i / n)..<(count * (i + 1) / n))
            }
        }
    }
}

/// Carries a value into `concurrentPerform`; safe because each chunk writes disjoint memory and the
/// call returns only after every chunk finished.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
