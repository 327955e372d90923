import Foundation

/// Cron schedules in `platform.schedules`.
public struct ScheduleStore: Sendable {
    let postgres: PostgresClient
    let registry: JobRegistry
    /// Installations sharing one database keep apart by their queue key prefix.
    let namespace: String

    public init(postgres: PostgresClient, registry: JobRegistry, namespace: String) {
        self.postgres = postgres
        self.registry = registry
        self.namespace = namespace
    }

    /// A stored schedule and its bookkeeping.
    public struct Stored: Sendable, Codable, Equatable {
        public var definition: ScheduleDefinition
        public var lastTick: Date?
        public var createdAt: Date
        public var source: String
    }

    /// Adds or replaces a schedule (validated: expression, time zone, kind, payload).
    public func upsert(_ s: ScheduleDefinition, source: String = "cli") async throws {
        try s.validate(key: "schedule \(s.name)")
        guard JobQueue.isName(s.name) else {
            throw TwinError.invalidInput("schedule name must be letters, digits, '-', '_' or '.', got \"\(s.name)\"")
        }
        try registry.validate(kind: s.kind, payload: s.payload)
        let (misfire, backfill): (String, Int) = switch s.misfire {
        case .skip: ("skip", 0)
        case .backfill(let n): ("backfill", n)
        }
        try await postgres.query("""
            INSERT INTO platform.schedules (name, cron, timezone, kind, queue, payload, misfire, backfill, enabled, source, namespace)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11)
            ON CONFLICT (namespace, name) DO UPDATE SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, kind = EXCLUDED.kind,
                queue = EXCLUDED.queue, payload = EXCLUDED.payload, misfire = EXCLUDED.misfire,
                backfill = EXCLUDED.backfill, enabled = EXCLUDED.enabled, source = EXCLUDED.source
            """, [s.name, s.cron, s.timeZone, s.kind, s.queue, s.payload, misfire, backfill, s.enabled, source, namespace])
    }

    /// Every schedule, by name.
    public func list() async throws -> [Stored] {
        try await postgres.query("""
            SELECT name, cron, timezone, kind, queue, payload::text AS payload, misfire, backfill, enabled, source,
                   last_tick, created_at FROM platform.schedules WHERE namespace = $1 ORDER BY name
            """, [namespace]).rows.map { r in
            let misfire: MisfirePolicy = try r.string("misfire") == "backfill" ? .backfill(try r.int("backfill")) : .skip
            return Stored(definition: ScheduleDefinition(name: try r.string("name"), cron: try r.string("cron"),
                                                         timeZone: try r.string("timezone"), kind: try r.string("kind"),
                                                         queue: try r.string("queue"), payload: try r.string("payload"),
                                                         misfire: misfire, enabled: try r.bool("enabled")),
                          lastTick: try r.optionalDate("last_tick"), createdAt: try r.date("created_at"),
                          source: try r.string("source"))
        }
    }

    /// Removes a schedule. - Throws: ``TwinError/notFound(_:)`` if there is none by that name.
    public func remove(name: String) async throws {
        let rows = try await postgres.query("DELETE FROM platform.schedules WHERE name = $1 AND namespace = $2", [name, namespace])
        if rows.affected == 0 { throw TwinError.notFound("no schedule named \"\(name)\"") }
    }

    /// Records the last fired tick, unless a newer leader (higher fence) already wrote.
    func recordTick(name: String, tick: Date, fence: Int) async throws -> Bool {
        try await postgres.query("""
            UPDATE platform.schedules SET last_tick = $2, fence = $3
            WHERE name = $1 AND namespace = $4 AND fence <= $3 AND (last_tick IS NULL OR last_tick < $2)
            """, [name, tick, fence, namespace]).affected == 1
    }
}
