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
    /// Uses `pool` when given (no thread wake-up per call; chunks are claimed by whichever of its threads
    /// is free), else Dispatch.
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
            if let pool {
                pool.run(tasks: n) { i in escapable((count * i / n)..<(count * (i + 1) / n)) }
                return
            }
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                box.value((count * i / n)..<(count * (i + 1) / n))
            }
        }
    }
}

extension DecoderParallel {
    /// Runs `body` over disjoint ranges covering 0..<count, whole multiples of `grain` (but the last),
    /// shared out by the pool's threads as they progress (`DecoderThreadPool.run(count:grain:)`).
    /// Inline without a pool or when there is only one grain.
    @inline(__always)
    static func forShares(_ count: Int, grain: Int, pool: DecoderThreadPool?, _ body: (Range<Int>) -> Void) {
        guard let pool, count > grain, pool.width > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            pool.run(count: count, grain: grain, escapable)
        }
    }
}

/// Carries a value into `concurrentPerform`; safe because each chunk writes disjoint memory and the
/// call returns only after every chunk finished.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Persistent worker threads for the decoder's many short parallel sections (about 200 per token).
///
/// A job is a range of work that the caller claims from the front and the workers from the back, a share
/// at a time, so a thread slowed down by the machine (another tenant on its core, a cache-miss storm)
/// simply takes less (on this VM one vCPU was seen ~15 % slower than the other for long stretches), and a
/// worker that is not running at all is not waited for: it joins a job only while the job is open, and
/// the caller closes the job once everything is claimed, then waits only for workers that joined.
/// On an idle machine workers spin briefly on a generation counter after each job (the next section of
/// the same token comes within microseconds) and fall back to a semaphore when idle longer, so an idle
/// engine costs no CPU. One caller at a time.
public final class DecoderThreadPool: @unchecked Sendable {
    // @unchecked Sendable: `job` and `grain` are written by the single caller before the release store
    // that opens the job and read by workers only after joining it (acquire); the caller returns only
    // after every joined worker left, so the job never outlives the call.

    /// Threads that may take part in a job, the caller included.
    public let width: Int
    private let generation = Atomic<UInt64>(0)
    /// 1 while the current job is open, plus 2 per worker inside it.
    private let state = Atomic<Int>(0)
    /// The unclaimed stretch front..<back of the current job (front in the low 32 bits).
    private let claims = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let sleepers: [Sleeper]
    private var job: ((Range<Int>) -> Void)?
    private var grain = 1
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

    /// Runs body(i) exactly once for every i in 0..<tasks, on the caller and whichever workers join;
    /// returns when all are done.
    func run(tasks: Int, _ body: @escaping (Int) -> Void) {
        run(count: tasks, grain: 1) { range in
            for i in range { body(i) }
        }
    }

    /// Runs body over disjoint ranges covering 0..<count (multiples of `grain` long, but the last),
    /// claimed by the caller from the front and by the workers from the back: each thread streams
    /// through its own end, and where they meet depends on how fast each went. A claim takes a share of
    /// what is left (at least `grain`), so a section costs a few claims, not one per grain.
    func run(count: Int, grain: Int, _ body: @escaping (Range<Int>) -> Void) {
        precondition(count >= 0 && grain >= 1)
        if width == 1 || count <= grain {
            if count > 0 { body(0..<count) }
            return
        }
        job = body
        self.grain = grain
        claims.store(Self.pack(front: 0, back: count), ordering: .relaxed)
        state.store(1, ordering: .releasing)
        generation.add(1, ordering: .sequentiallyConsistent)
        for s in sleepers where s.asleep.exchange(false, ordering: .sequentiallyConsistent) {
            s.semaphore.signal()
        }
        claimRanges(body, fromFront: true)
        // Every range is claimed: close the job, then wait for the workers that joined to finish theirs.
        var inside = state.bitwiseAnd(~1, ordering: .acquiringAndReleasing).newValue
        var spins = 0
        while inside != 0 {
            spins += 1
            spinPause(spins)
            inside = state.load(ordering: .acquiring)
        }
        job = nil
    }

    @inline(__always)
    private static func pack(front: Int, back: Int) -> Int { front | back << 32 }

    @inline(__always)
    private func claimRanges(_ body: (Range<Int>) -> Void, fromFront: Bool) {
        let grain = self.grain
        var current = claims.load(ordering: .relaxed)
        while true {
            let front = current & 0xffff_ffff, back = current >> 32
            if front >= back { return }
            let left = back - front
            // A share of what is left for each thread, whole grains, at least one grain.
            let size = min(left, max(grain, left / (2 * width) / grain * grain))
            // The front only ever moves by whole grains; a back claim ends on a grain boundary too (the
            // first one takes the ragged end of the range), so every range but the last is whole grains.
            let lower = fromFront ? front : max(front, (back - size) / grain * grain)
            let upper = fromFront ? front + size : back
            let next = fromFront ? Self.pack(front: upper, back: back) : Self.pack(front: front, back: lower)
            let (exchanged, original) = claims.compareExchange(expected: current, desired: next, ordering: .relaxed)
            if exchanged {
                body(lower..<upper)
                current = claims.load(ordering: .relaxed)
            } else {
                current = original
            }
        }
    }

    /// Enters the open job, if there is one (never a closed one: its caller may have returned).
    @inline(__always)
    private func join() -> Bool {
        var current = state.load(ordering: .relaxed)
        while current & 1 == 1 {
            let (exchanged, original) = state.compareExchange(
                expected: current, desired: current + 2, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
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
            if join() {
                if let job { claimRanges(job, fromFront: false) }
                state.subtract(2, ordering: .releasing)
            }
        }
    }

    /// Busy-waits, yielding the core now and then so an oversubscribed machine stays usable.
    @inline(__always)
    private func spinPause(_ spins: Int) {
        if spins & 1023 == 0 { sched_yield() }
    }
}
