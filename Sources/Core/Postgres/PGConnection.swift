import CLibPQ
import Foundation

/// One libpq connection. Not thread-safe: ``PostgresClient`` confines each to a ``BlockingLane``.
///
/// Every statement with values is parameterised (`PQexecParams`, text format); SQL is never built by
/// string interpolation of values. Results are copied into Swift values and the `PGresult` freed at once.
public final class PGConnection {
    private var raw: OpaquePointer?
    private let endpoint: PostgresEndpoint
    private var nextAttempt = ContinuousClock.now
    private var backoff: Duration = .zero

    public init(endpoint: PostgresEndpoint) {
        self.endpoint = endpoint
    }

    deinit { if let raw { PQfinish(raw) } }

    private func connection() throws -> OpaquePointer {
        if let raw, PQstatus(raw) == CONNECTION_OK { return raw }
        if let raw { PQfinish(raw); self.raw = nil }
        if ContinuousClock.now < nextAttempt {
            throw TwinError.postgres("\(endpoint): unavailable; retrying shortly")
        }
        let conn = PQconnectdb(endpoint.connectionString())
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            backoff = backoff == .zero ? .milliseconds(50) : min(backoff * 2, .seconds(2))
            nextAttempt = ContinuousClock.now + backoff
            throw TwinError.postgres("\(endpoint): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        backoff = .zero
        raw = conn
        // UTC and ISO dates so decoding never depends on the server's settings.
        _ = try execute("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; SET client_min_messages = warning")
        return conn
    }

    /// Runs a parameterised statement and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: the statement with `$1…$n` placeholders.
    ///   - parameters: values in text form (nil is SQL NULL); see ``PGEncodable``.
    /// - Throws: ``TwinError/postgres(_:sqlState:)`` with the server's SQLSTATE.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PGEncodable)?] = []) throws -> PGRows {
        let conn = try connection()
        let texts: [String?] = parameters.map { $0?.pgText }
        // Keep every C string alive for the duration of the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0)! } }
        defer { cStrings.forEach { free($0) } }
        let values: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        let result = values.withUnsafeBufferPointer { buffer in
            PQexecParams(conn, sql, Int32(values.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        return try consume(result, sql: sql)
    }

    /// Runs one or more statements without parameters (migrations, SET, BEGIN/COMMIT).
    @discardableResult
    public func execute(_ sql: String) throws -> PGRows {
        guard let conn = raw else { _ = try connection(); return try execute(sql) }
        return try consume(PQexec(conn, sql), sql: sql)
    }

    private func consume(_ result: OpaquePointer?, sql: String) throws -> PGRows {
        guard let result else {
            let message = raw.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
            dropIfBroken()
            throw TwinError.postgres("\(endpoint): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PGRows(result)
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            dropIfBroken()
            throw TwinError.postgres("postgres: \(message)", sqlState: state)
        }
    }

    private func dropIfBroken() {
        if let raw, PQstatus(raw) != CONNECTION_OK { PQfinish(raw); self.raw = nil }
    }

    /// Whether the connection is inside a transaction block that failed or is open.
    var inTransaction: Bool {
        guard let raw else { return false }
        let s = PQtransactionStatus(raw)
        return s == PQTRANS_INTRANS || s == PQTRANS_INERROR
    }

    /// Runs `body` inside BEGIN…COMMIT; rolls back if it throws.
    public func transaction<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            if raw != nil { _ = try? execute("ROLLBACK") }
            throw error
        }
    }
}

/// A value that can be sent as a text-format query parameter.
public protocol PGEncodable {
    /// PostgreSQL's text input form of the value.
    var pgText: String { get }
}

extension String: PGEncodable { public var pgText: String { self } }
extension Substring: PGEncodable { public var pgText: String { String(self) } }
extension Int: PGEncodable { public var pgText: String { String(self) } }
extension Int64: PGEncodable { public var pgText: String { String(self) } }
extension Double: PGEncodable { public var pgText: String { String(self) } }
extension Bool: PGEncodable { public var pgText: String { self ? "t" : "f" } }
extension UUID: PGEncodable { public var pgText: String { uuidString.lowercased() } }
extension Date: PGEncodable {
    /// ISO timestamp with microseconds in UTC.
    public var pgText: String { PGDate.format(self) }
}
