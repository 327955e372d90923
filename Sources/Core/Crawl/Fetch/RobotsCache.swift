import Synchronization

/// robots.txt per origin (`scheme://host:port`), kept for `FetcherConfiguration.robotsCacheDuration`.
final class RobotsCache: Sendable {
    private struct Entry: Sendable {
        var robots: RobotsTxt
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The cached rules for `origin`, if still fresh.
    func cached(_ origin: String) -> RobotsTxt? {
        entries.withLock { entries in
            guard let entry = entries[origin], entry.expires > .now else { return nil }
            return entry.robots
        }
    }

    /// Stores `robots` for `origin`.
    func store(_ robots: RobotsTxt, for origin: String, lifetime: Duration) {
        entries.withLock { $0[origin] = Entry(robots: robots, expires: .now + lifetime) }
    }
}
