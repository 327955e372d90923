import Logging

/// Per-job event streams in Redis (`<prefix>:events:<id>`): progress, partial output and the final state.
/// A stream expires an hour after its last event; the API relays it as Server-Sent Events.
public struct JobEvents: Sendable {
    let redis: RedisClient
    let prefix: String

    public init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.prefix = prefix
    }

    /// One event as read back.
    public struct Event: Sendable, Equatable, Codable {
        public let id: String
        public let type: String
        public let data: String
    }

    /// Appends an event. A failure is logged, not thrown: events are best-effort telemetry and must not
    /// fail the job that emits them.
    public func publish(jobID: String, type: String, data: String, logger: Logger) async {
        let key = "\(prefix):events:\(jobID)"
        do {
            _ = try await redis.withConnection { conn in
                try conn.pipeline([["XADD", key, "MAXLEN", "~", "1000", "*", "type", type, "data", data],
                                   ["EXPIRE", key, "3600"]])
            }
        } catch {
            logger.warning("job event not published", metadata: ["jq.job.id": "\(jobID)", "error": "\(error)"])
        }
    }

    /// Events after `lastID` ("0" for all), waiting up to `block` for new ones.
    public func read(jobID: String, after lastID: String = "0", block: Duration? = nil) async throws -> [Event] {
        let key = "\(prefix):events:\(jobID)"
        var args = ["XREAD", "COUNT", "1000"]
        if let block { args += ["BLOCK", String(Int(block.components.seconds * 1000 + block.components.attoseconds / 1_000_000_000_000_000))] }
        args += ["STREAMS", key, lastID]
        let reply = try await redis.command(args)
        var events: [Event] = []
        for stream in reply.array {
            for entry in stream.array.dropFirst().first?.array ?? [] {
                let parts = entry.array
                guard let id = parts.first?.text else { continue }
                let fields = parts.count > 1 ? parts[1].array.compactMap(\.text) : []
                var map: [String: String] = [:]
                var i = 0
                while i + 1 < fields.count { map[fields[i]] = fields[i + 1]; i += 2 }
                events.append(Event(id: id, type: map["type"] ?? "", data: map["data"] ?? ""))
            }
        }
        return events
    }

    /// Creates the stream so that the queue's own transitions (retrying, final state) are recorded too.
    public func open(jobID: String) async throws {
        let key = "\(prefix):events:\(jobID)"
        _ = try await redis.withConnection { conn in
            try conn.pipeline([["XADD", key, "MAXLEN", "~", "1000", "*", "type", "subscribed", "data", ""],
                               ["EXPIRE", key, "3600"]])
        }
    }
}
