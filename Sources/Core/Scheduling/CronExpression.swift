import Foundation

/// A parsed 5-field cron expression (`minute hour day-of-month month day-of-week`) or an `@alias`.
///
/// Fields accept `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, and month/day names
/// (`jan`, `mon`). Day-of-week 0 and 7 are Sunday. As in Vixie cron, when both day-of-month and
/// day-of-week are restricted a day matches if either matches.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    public let daysOfWeek: Set<Int>   // 0 = Sunday
    private let domRestricted: Bool
    private let dowRestricted: Bool
    public let description: String

    private static let aliases = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses an expression.
    /// - Throws: ``TwinError/invalidInput(_:)`` naming the field that is wrong.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        description = text
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let a = Self.aliases[trimmed] else {
                throw TwinError.invalidInput("cron: unknown alias \"\(text)\" (known: \(Self.aliases.keys.sorted().joined(separator: ", ")))")
            }
            expanded = a
        } else {
            expanded = trimmed
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw TwinError.invalidInput("cron: expected 5 fields (minute hour day-of-month month day-of-week), got \(fields.count) in \"\(text)\"")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, nameBase: 1)
        var dow = try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames)
        if dow.remove(7) != nil { dow.insert(0) }
        daysOfWeek = dow
        domRestricted = !fields[2].hasPrefix("*")
        dowRestricted = !fields[4].hasPrefix("*")
    }

    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String], nameBase: Int = 0) throws -> Set<Int> {
        func value(_ s: String) throws -> Int {
            if let i = Int(s), range.contains(i) { return i }
            if let idx = names.firstIndex(of: s) { return idx + nameBase }
            throw TwinError.invalidInput("cron: \(name) field: \"\(s)\" is not in \(range.lowerBound)-\(range.upperBound)")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw TwinError.invalidInput("cron: \(name) field: empty list item in \"\(text)\"") }
            var base = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                base = String(part[..<slash])
                guard let s = Int(part[part.index(after: slash)...]), s > 0 else {
                    throw TwinError.invalidInput("cron: \(name) field: bad step in \"\(part)\"")
                }
                step = s
            }
            let lo: Int, hi: Int
            if base == "*" {
                lo = range.lowerBound; hi = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                lo = try value(String(base[..<dash])); hi = try value(String(base[base.index(after: dash)...]))
                guard lo <= hi else { throw TwinError.invalidInput("cron: \(name) field: range \"\(base)\" runs backwards") }
            } else {
                lo = try value(base); hi = part.contains("/") ? range.upperBound : lo
            }
            result.formUnion(stride(from: lo, through: hi, by: step))
        }
        return result
    }

    private func dayMatches(day: Int, weekday: Int) -> Bool {
        let domOK = daysOfMonth.contains(day)
        let dowOK = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    /// The first tick strictly after `date`, read in `timeZone`; nil if none within five years.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        // Start at the next whole minute.
        var t = calendar.date(bySetting: .second, value: 0, of: date.addingTimeInterval(60)) ?? date
        if t <= date { t = t.addingTimeInterval(60) }
        let limit = date.addingTimeInterval(5 * 366 * 86_400)
        while t < limit {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: t)
            guard let month = c.month, let day = c.day, let hour = c.hour, let minute = c.minute, let weekday = c.weekday else { return nil }
            if !months.contains(month) {
                // First minute of the next month.
                guard let start = calendar.date(from: DateComponents(year: c.year, month: month, day: 1)),
                      let next = calendar.date(byAdding: .month, value: 1, to: start) else { return nil }
                t = next; continue
            }
            if !dayMatches(day: day, weekday: weekday - 1) {
                guard let start = calendar.date(from: DateComponents(year: c.year, month: month, day: day)),
                      let next = calendar.date(byAdding: .day, value: 1, to: start) else { return nil }
                t = next; continue
            }
            if !hours.contains(hour) {
                guard let start = calendar.date(from: DateComponents(year: c.year, month: month, day: day, hour: hour)) else { return nil }
                t = start.addingTimeInterval(3600); continue
            }
            if !minutes.contains(minute) { t = t.addingTimeInterval(60); continue }
            return t
        }
        return nil
    }

    /// Every tick in (`from`, `through`], oldest first, at most `limit` (the most recent ones are kept).
    public func ticks(after from: Date, through: Date, in timeZone: TimeZone, limit: Int) -> [Date] {
        var result: [Date] = []
        var t = from
        while let n = next(after: t, in: timeZone), n <= through {
            result.append(n)
            if result.count > limit { result.removeFirst() }
            t = n
        }
        return result
    }
}
