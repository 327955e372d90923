import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits work over a fixed number of threads (the decoder's own threads, separate from OpenBLAS's).
enum DecoderParallel {
    /// Runs `body` on `threads` contiguous chunks of 0..<count; runs inline when one thread suffices.
    /// Uses `pool` when given (no thread wake-up per call), else Dispatch.
    @inline(__always)
    static func forChunks(
        _ count: Int, threads: Int, minimumPerThread: Int = 1, pool: DecoderThreadPool? = nil,
        _ body: (Range<Int>) -> Void
    ) {
        let n = max(1, min(threads, count / max(1, minimumPerThread)))
        if n == 1 {
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            if let pool, n <= pool.width {
                pool.run(parts: n) { i in escapable((count * i / n)..<(count * (i + 1) / n)) }
                return
            }
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

/// Persistent worker threads for the decoder's many short parallel sections (about 250 per token).
///
/// Waking a thread through Dispatch costs microseconds per section; here workers spin briefly on a
/// generation counter after each job (so the next matrix product of the same token starts at once) and
/// fall back to a semaphore when idle longer, so an idle engine costs no CPU. One caller at a time.
public final class DecoderThreadPool: @unchecked Sendable {
    // @unchecked Sendable: `job` is written by the single caller before the release store of
    // `generation` and read by workers after their acquire load of it; `run` returns only after every
    // worker finished, so the job never outlives the call.

    /// Threads taking part in a job, the caller included.
    public let width: Int
    private let generation = Atomic<UInt64>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepers: [Sleeper]
    private var job: ((Int) -> Void)?
    private var parts = 0
    private var threads: [pthread_t] = []

    /// One worker's sleep state: `asleep` is set before it re-checks for work and blocks.
    private final class Sleeper: Sendable {
        let asleep = Atomic<Bool>(false)
        let semaphore = DispatchSemaphore(value: 0)
    }

    /// A pool of `width - 1` workers (the caller is the remaining thread); width 1 starts none.
    public init(width: Int) {
        self.width = max(1, width)
        sleepers = (1..<max(1, width)).map { _ in Sleeper() }
        for index in 1..<self.width {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(context.index)
                return nil
            }, context)
            precondition(rc == 0, "DecoderThreadPool: pthread_create failed (\(rc))")
            threads.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        for s in sleepers { s.semaphore.signal() }
        for t in threads { pthread_join(t, nil) }
    }

    private final class WorkerContext {
        unowned(unsafe) let pool: DecoderThreadPool
        let index: Int
        init(pool: DecoderThreadPool, index: Int) {
            self.pool = pool
            self.index = index
        }
    }

    /// Runs body(0..<parts) with part 0 on the caller; returns when all parts are done. parts ≤ width.
    func run(parts: Int, _ body: @escaping (Int) -> Void) {
        precondition(parts >= 1 && parts <= width)
        job = body
        self.parts = parts
        pending.store(width - 1, ordering: .relaxed)
        generation.add(1, ordering: .sequentiallyConsistent)
        for s in sleepers where s.asleep.exchange(false, ordering: .sequentiallyConsistent) {
            s.semaphore.signal()
        }
        body(0)
        var spins = 0
        while pending.load(ordering: .acquiring) != 0 {
            spins += 1
            spinPause(spins)
        }
        job = nil
    }

    private func workerLoop(_ index: Int) {
        // Generation 0 is the one before any job: a job published before this thread ran is still seen.
        var seen: UInt64 = 0
        let sleeper = sleepers[index - 1]
        while true {
            // Spin for a while (the next section of the same token comes within microseconds) …
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen && spins < 200_000 {
                spins += 1
                spinPause(spins)
                current = generation.load(ordering: .acquiring)
            }
            if current == seen {
                // … then sleep; re-check after announcing it so a job published meanwhile is not missed.
                sleeper.asleep.store(true, ordering: .sequentiallyConsistent)
                current = generation.load(ordering: .sequentiallyConsistent)
                if current == seen {
                    sleeper.semaphore.wait()
                    sleeper.asleep.store(false, ordering: .sequentiallyConsistent)
                    continue
                }
                // Work arrived: if the caller already took our flag it also signalled; absorb that later.
                _ = sleeper.asleep.exchange(false, ordering: .sequentiallyConsistent)
            }
            seen = current
            if stopping.load(ordering: .acquiring) { return }
            if index < parts, let job { job(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }

    /// Busy-waits, yielding the core now and then so an oversubscribed machine stays usable.
    @inline(__always)
    private func spinPause(_ spins: Int) {
        if spins & 63 == 0 { sched_yield() }
    }
}
