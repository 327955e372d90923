import Foundation

/// A cron schedule: on each tick of `cron` in `timeZone`, one job of `kind` with `payload` is enqueued.
public struct ScheduleDefinition: Sendable, Equatable, Codable {
    /// Unique name; also the key of its tick's idempotency key.
    public var name: String
    /// 5-field expression (`m h dom mon dow`) or an alias such as `@hourly`.
    public var cron: String
    /// IANA time zone the expression is read in.
    public var timeZone: String
    /// Job kind enqueued on each tick.
    public var kind: String
    /// Queue the job goes to.
    public var queue: String
    /// JSON payload of the job.
    public var payload: String
    /// What happens to ticks missed while no scheduler ran.
    public var misfire: MisfirePolicy
    /// Disabled schedules are kept but never fire.
    public var enabled: Bool

    public init(name: String, cron: String, timeZone: String = "UTC", kind: String, queue: String = "default",
                payload: String = "{}", misfire: MisfirePolicy = .skip, enabled: Bool = true) {
        self.name = name; self.cron = cron; self.timeZone = timeZone; self.kind = kind; self.queue = queue
        self.payload = payload; self.misfire = misfire; self.enabled = enabled
    }

    /// Reads a schedule from its YAML mapping (`name, cron, timezone, kind, queue, payload, misfire, backfill`).
    init(yaml map: [String: Any], key: String) throws {
        var reader = ConfigReader(values: map, prefix: "", file: key)
        guard let name = try reader.string("name"), !name.isEmpty else { throw TwinError.configuration("\(key).name: required") }
        guard let cron = try reader.string("cron") else { throw TwinError.configuration("\(key).cron: required") }
        guard let kind = try reader.string("kind") else { throw TwinError.configuration("\(key).kind: required") }
        var payload = "{}"
        if let p = map["payload"] {
            if let s = p as? String { payload = s } else {
                guard JSONSerialization.isValidJSONObject(p),
                      let data = try? JSONSerialization.data(withJSONObject: p, options: [.sortedKeys]) else {
                    throw TwinError.configuration("\(key).payload: expected a mapping or a JSON string")
                }
                payload = String(decoding: data, as: UTF8.self)
            }
        }
        let misfireText = try reader.string("misfire") ?? "skip"
        let misfire: MisfirePolicy
        switch misfireText {
        case "skip": misfire = .skip
        case "backfill": misfire = .backfill(try reader.int("backfill") ?? 1)
        default: throw TwinError.configuration("\(key).misfire: expected skip or backfill, got \(misfireText)")
        }
        self.init(name: name, cron: cron, timeZone: try reader.string("timezone") ?? "UTC", kind: kind,
                  queue: try reader.string("queue") ?? "default", payload: payload, misfire: misfire)
        try validate(key: key)
    }

    /// Checks the expression, the time zone and the payload.
    public func validate(key: String = "schedule") throws {
        _ = try CronExpression(parsing: cron)
        guard TimeZone(identifier: timeZone) != nil else {
            throw TwinError.invalidInput("\(key).timezone: unknown time zone \"\(timeZone)\"")
        }
        guard let data = payload.data(using: .utf8), (try? JSONSerialization.jsonObject(with: data)) != nil else {
            throw TwinError.invalidInput("\(key).payload: not valid JSON")
        }
        if case .backfill(let n) = misfire, n < 1 || n > 1000 {
            throw TwinError.invalidInput("\(key).backfill: must be between 1 and 1000, got \(n)")
        }
    }
}

/// The documented policy for ticks that fell while no scheduler was running.
///
/// - `skip`: missed ticks are dropped; the schedule fires again at its next tick.
/// - `backfill(n)`: the most recent `n` missed ticks fire at once (oldest first), the rest are dropped.
public enum MisfirePolicy: Sendable, Equatable, Codable, CustomStringConvertible {
    case skip
    case backfill(Int)

    public var description: String {
        switch self {
        case .skip: "skip"
        case .backfill(let n): "backfill(\(n))"
        }
    }
}
