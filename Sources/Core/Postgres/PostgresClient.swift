import Synchronization

/// Async access to PostgreSQL over a small pool of libpq connections, each on its own ``BlockingLane``.
///
/// A call takes the least busy lane; a lane runs one statement or transaction at a time.
public final class PostgresClient: Sendable {
    private let lanes: [BlockingLane<PGConnection>]
    private let busy: Mutex<[Int]>
    /// A connection for synchronous use from inside another lane (see `withConnectionSync`).
    let syncLane: BlockingLane<PGConnection>
    public let endpoint: PostgresEndpoint

    public init(endpoint: PostgresEndpoint, connections: Int = 2) {
        self.endpoint = endpoint
        let n = max(1, connections)
        lanes = (0..<n).map { BlockingLane(label: "twin.pg.\($0)", resource: PGConnection(endpoint: endpoint)) }
        busy = Mutex([Int](repeating: 0, count: n))
        syncLane = BlockingLane(label: "twin.pg.sync", resource: PGConnection(endpoint: endpoint))
    }

    /// Runs `body` with one connection on that connection's thread.
    public func withConnection<T>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        let index = busy.withLock { load -> Int in
            let i = load.indices.min(by: { load[$0] < load[$1] })!
            load[i] += 1
            return i
        }
        defer { busy.withLock { $0[index] -= 1 } }
        return try await lanes[index].run(body)
    }

    /// Runs `body` inside a transaction (BEGIN…COMMIT; ROLLBACK if it throws).
    public func withTransaction<T>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withConnection { conn in try conn.transaction(body) }
    }

    /// Runs one parameterised statement.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PGEncodable & Sendable)?] = []) async throws -> PGRows {
        try await withConnection { conn in try conn.query(sql, parameters) }
    }
}
