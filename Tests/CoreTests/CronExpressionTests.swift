import Foundation
import Testing
@testable import Core

struct CronExpressionTests {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ s: String, _ tz: TimeZone = TimeZone(identifier: "UTC")!) -> Date {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = tz
        let p = s.split(whereSeparator: { "-: ".contains($0) }).map { Int($0)! }
        return c.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: p[3], minute: p[4]))!
    }

    @Test func fieldsRangesStepsListsAndNames() throws {
        let e = try CronExpression(parsing: "*/15 9-17 * jan-mar mon,wed,fri")
        #expect(e.minutes == [0, 15, 30, 45])
        #expect(e.hours == Set(9...17))
        #expect(e.months == [1, 2, 3])
        #expect(e.daysOfWeek == [1, 3, 5])
        #expect(try CronExpression(parsing: "0 0 * * 7").daysOfWeek == [0])
    }

    @Test func aliases() throws {
        #expect(try CronExpression(parsing: "@hourly").next(after: date("2026-11-29 07:10"), in: utc) == date("2026-11-29 08:00"))
        #expect(try CronExpression(parsing: "@daily").next(after: date("2026-11-29 07:10"), in: utc) == date("2026-11-30 00:00"))
        #expect(try CronExpression(parsing: "@weekly").next(after: date("2026-11-29 07:10"), in: utc) == date("2026-12-06 00:00"))
        #expect(try CronExpression(parsing: "@monthly").next(after: date("2026-11-29 07:10"), in: utc) == date("2026-12-01 00:00"))
        #expect(try CronExpression(parsing: "@yearly").next(after: date("2026-11-29 07:10"), in: utc) == date("2027-01-01 00:00"))
    }

    @Test func nextTickInATimeZone() throws {
        let paris = TimeZone(identifier: "Europe/Paris")!
        let e = try CronExpression(parsing: "30 2 * * *")
        // 02:30 Paris on a winter day is 01:30 UTC.
        #expect(e.next(after: date("2026-11-29 07:10"), in: paris) == date("2026-11-30 01:30"))
        // Day-of-month OR day-of-week when both are restricted (Vixie cron).
        let either = try CronExpression(parsing: "0 12 1 * mon")
        #expect(either.next(after: date("2026-11-29 13:00"), in: utc) == date("2026-11-30 12:00"))  // a Monday
        #expect(either.next(after: date("2026-11-30 13:00"), in: utc) == date("2026-12-01 12:00"))  // the 1st
    }

    @Test func ticksKeepTheMostRecent() throws {
        let e = try CronExpression(parsing: "0 * * * *")
        let ticks = e.ticks(after: date("2026-11-29 00:30"), through: date("2026-11-29 05:10"), in: utc, limit: 2)
        #expect(ticks == [date("2026-11-29 04:00"), date("2026-11-29 05:00")])
    }

    @Test func invalidExpressionsNameTheField() {
        for (text, word) in [("* * *", "5 fields"), ("61 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day-of-month"),
                             ("* * * 13 *", "month"), ("* * * * 8", "day-of-week"), ("*/0 * * * *", "step"), ("@often", "alias"),
                             ("5-1 * * * *", "backwards")] {
            #expect { try CronExpression(parsing: text) } throws: { "\($0)".contains(word) }
        }
    }
}
