import Synchronization

/// Async access to Redis over a few hiredis connections, each on its own ``BlockingLane``.
///
/// Callers are spread round-robin over the lanes; a lane runs one call at a time, so a caller that
/// needs a blocking command (BLPOP) should use a client of its own.
public final class RedisClient: Sendable {
    private let lanes: [BlockingLane<RedisConnection>]
    private let next = Atomic<Int>(0)
    /// Where the server listens (for messages).
    public let endpoint: RedisEndpoint

    /// - Parameters:
    ///   - connections: how many connections (and threads) to open lazily.
    ///   - timeout: socket timeout; longer than any blocking command's own timeout.
    public init(endpoint: RedisEndpoint, connections: Int = 2, timeout: Duration = .seconds(5)) {
        self.endpoint = endpoint
        lanes = (0..<max(1, connections)).map { i in
            BlockingLane(label: "twin.redis.\(i)", resource: RedisConnection(endpoint: endpoint, timeout: timeout))
        }
    }

    /// Runs `body` with one connection on that connection's thread.
    public func withConnection<T>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await lanes[i % lanes.count].run(body)
    }

    /// Sends one command; an error reply throws.
    @discardableResult
    public func command(_ args: String...) async throws -> RedisValue {
        try await command(args)
    }

    /// Sends one command given as an array; an error reply throws.
    @discardableResult
    public func command(_ args: [String]) async throws -> RedisValue {
        let endpoint = self.endpoint
        return try await withConnection { conn in
            let reply = try conn.command(args)
            if case .error(let e) = reply { throw TwinError.redis("\(endpoint): \(args.first ?? "") failed: \(e)") }
            return reply
        }
    }

    /// Runs a script (EVALSHA with load-on-miss).
    public func eval(_ script: RedisScript, keys: [String] = [], args: [String]) async throws -> RedisValue {
        try await withConnection { try $0.eval(script, keys: keys, args: args) }
    }
}
