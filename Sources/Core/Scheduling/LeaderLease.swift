/// A leader lease in Redis with a fencing token, so exactly one scheduler replica acts at a time.
///
/// The holder's value is `<instance>:<token>`; the token comes from a counter that only grows, so a
/// deposed leader's late writes can be told apart (and refused) by anything that records the token.
public struct LeaderLease: Sendable {
    let redis: RedisClient
    let key: String
    let counterKey: String
    public let instance: String
    public let ttl: Duration

    public init(redis: RedisClient, prefix: String, name: String = "scheduler", instance: String, ttl: Duration = .seconds(10)) {
        self.redis = redis
        self.key = "\(prefix):leader:\(name)"
        self.counterKey = "\(prefix):leader:\(name):fence"
        self.instance = instance
        self.ttl = ttl
    }

    /// Takes the lease if free or extends it if held; returns the fencing token while this instance leads.
    static let script = RedisScript(name: "leader", source: """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local inst, token = string.match(cur, '^(.*):(%d+)$')
          if inst == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return tonumber(token)
          end
          return -1
        end
        local token = redis.call('INCR', KEYS[2])
        redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
        return token
        """)

    /// Acquires or renews; nil when another instance leads.
    public func acquire() async throws -> Int? {
        let token = try await redis.eval(Self.script, keys: [key, counterKey], args: [instance, String(JobQueue.ms(ttl))]).int ?? -1
        return token >= 0 ? token : nil
    }

    /// Gives the lease up (only if this instance holds it).
    static let releaseScript = RedisScript(name: "leader_release", source: """
        local cur = redis.call('GET', KEYS[1])
        if cur and string.sub(cur, 1, #ARGV[1] + 1) == ARGV[1] .. ':' then redis.call('DEL', KEYS[1]) return 1 end
        return 0
        """)

    public func release() async throws {
        _ = try await redis.eval(Self.releaseScript, keys: [key], args: [instance])
    }
}
