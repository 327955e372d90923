import Synchronization

/// Per-host politeness bookkeeping: at most N requests in flight and a minimum delay between starts.
/// A plain value so it can be tested without clocks or I/O.
struct PolitenessState: Sendable {
    private struct Host: Sendable {
        var inFlight = 0
        var lastStart: ContinuousClock.Instant?
    }

    let maximumConcurrency: Int
    let minimumDelay: Duration
    private var hosts: [String: Host] = [:]

    init(maximumConcurrency: Int, minimumDelay: Duration) {
        self.maximumConcurrency = max(1, maximumConcurrency)
        self.minimumDelay = minimumDelay
    }

    /// Takes a slot for `host` at `now`, or says how long to wait before asking again.
    mutating func acquire(_ host: String, now: ContinuousClock.Instant) -> Duration? {
        var state = hosts[host, default: Host()]
        if state.inFlight >= maximumConcurrency { return .milliseconds(20) }
        if let last = state.lastStart, now - last < minimumDelay { return minimumDelay - (now - last) }
        state.inFlight += 1
        state.lastStart = now
        hosts[host] = state
        return nil
    }

    /// Gives back a slot taken by `acquire`.
    mutating func release(_ host: String) {
        guard var state = hosts[host] else { return }
        state.inFlight = max(0, state.inFlight - 1)
        hosts[host] = state
    }

    func inFlight(_ host: String) -> Int { hosts[host]?.inFlight ?? 0 }
}

/// Enforces `PolitenessState` across tasks: callers wait (with `Task.sleep`) for their turn per host.
final class HostPoliteness: Sendable {
    private let state: Mutex<PolitenessState>

    init(maximumConcurrency: Int, minimumDelay: Duration) {
        state = Mutex(PolitenessState(maximumConcurrency: maximumConcurrency, minimumDelay: minimumDelay))
    }

    /// Runs `body` holding one of `host`'s slots.
    func withSlot<T>(for host: String, _ body: () async throws -> T) async throws -> T {
        while true {
            let wait = state.withLock { $0.acquire(host, now: .now) }
            guard let wait else { break }
            try await Task.sleep(for: wait)
        }
        defer { state.withLock { $0.release(host) } }
        return try await body()
    }
}
