import CLibPQ
import Foundation

/// The rows of a result, copied out of libpq (text format).
public struct PGRows: Sendable {
    /// Column names in order.
    public let columns: [String]
    /// Cell texts; nil is SQL NULL.
    public let cells: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE (0 otherwise).
    public let affected: Int

    init(_ result: OpaquePointer) {
        let nRows = Int(PQntuples(result)), nCols = Int(PQnfields(result))
        columns = (0..<nCols).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(nRows)
        for r in 0..<nRows {
            var row: [String?] = []
            row.reserveCapacity(nCols)
            for c in 0..<nCols {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    let p = PQgetvalue(result, Int32(r), Int32(c))!
                    let n = Int(PQgetlength(result, Int32(r), Int32(c)))
                    row.append(String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self))
                }
            }
            rows.append(row)
        }
        cells = rows
        affected = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public var count: Int { cells.count }
    public var isEmpty: Bool { cells.isEmpty }

    /// The rows as typed accessors.
    public var rows: [PGRow] { cells.map { PGRow(columns: columns, values: $0) } }
    public var first: PGRow? { cells.first.map { PGRow(columns: columns, values: $0) } }
}

/// One row with typed, column-named getters. A wrong type or a missing column throws with the column's name.
public struct PGRow: Sendable {
    let columns: [String]
    let values: [String?]

    private func raw(_ name: String) throws -> String? {
        guard let i = columns.firstIndex(of: name) else { throw TwinError.postgres("postgres: no column \"\(name)\" in result") }
        return values[i]
    }

    public func optionalString(_ name: String) throws -> String? { try raw(name) }
    public func string(_ name: String) throws -> String {
        guard let v = try raw(name) else { throw TwinError.postgres("postgres: column \"\(name)\" is NULL") }
        return v
    }
    public func optionalInt(_ name: String) throws -> Int? {
        guard let v = try raw(name) else { return nil }
        guard let i = Int(v) else { throw TwinError.postgres("postgres: column \"\(name)\" is not an integer: \(v)") }
        return i
    }
    public func int(_ name: String) throws -> Int {
        guard let v = try optionalInt(name) else { throw TwinError.postgres("postgres: column \"\(name)\" is NULL") }
        return v
    }
    public func optionalDouble(_ name: String) throws -> Double? {
        guard let v = try raw(name) else { return nil }
        guard let d = Double(v) else { throw TwinError.postgres("postgres: column \"\(name)\" is not a number: \(v)") }
        return d
    }
    public func bool(_ name: String) throws -> Bool {
        switch try raw(name) {
        case "t": true
        case "f": false
        case let v: throw TwinError.postgres("postgres: column \"\(name)\" is not a boolean: \(v ?? "NULL")")
        }
    }
    public func optionalDate(_ name: String) throws -> Date? {
        guard let v = try raw(name) else { return nil }
        guard let d = PGDate.parse(v) else { throw TwinError.postgres("postgres: column \"\(name)\" is not a timestamp: \(v)") }
        return d
    }
    public func date(_ name: String) throws -> Date {
        guard let d = try optionalDate(name) else { throw TwinError.postgres("postgres: column \"\(name)\" is NULL") }
        return d
    }
}

/// Timestamps in PostgreSQL's ISO text form (the session runs in UTC).
enum PGDate {
    /// Parses `2026-11-29 07:15:00.123456+00` (fraction and offset optional).
    static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func num(_ from: Int, _ len: Int) -> Int? {
            guard from + len <= bytes.count else { return nil }
            var v = 0
            for b in bytes[from..<(from + len)] { guard b >= 48 && b <= 57 else { return nil }; v = v * 10 + Int(b - 48) }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
              let s = num(17, 2) else { return nil }
        var i = 19
        var fraction = 0.0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { fraction += Double(bytes[i] - 48) * scale; scale /= 10; i += 1 }
        }
        var offset = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            let sign = bytes[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = num(i + 1, 2) else { return nil }
            let om = (i + 3 < bytes.count && bytes[i + 3] == UInt8(ascii: ":")) ? (num(i + 4, 2) ?? 0) : 0
            offset = sign * (oh * 3600 + om * 60)
        }
        // Days from civil (Howard Hinnant's algorithm), so no Calendar is needed on the hot path.
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Double(days * 86_400 + h * 3600 + mi * 60 + s - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        var secs = micros / 1_000_000
        var frac = micros % 1_000_000
        if frac < 0 { frac += 1_000_000; secs -= 1 }
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func p(_ v: Int64, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(p(y, 4))-\(p(m, 2))-\(p(d, 2)) \(p(rem / 3600, 2)):\(p(rem % 3600 / 60, 2)):\(p(rem % 60, 2)).\(p(frac, 6))+00"
    }
}
