import CHiredis
import Foundation

/// One hiredis connection. Not thread-safe: a ``RedisLane`` confines it to one serial queue.
///
/// Commands are argv arrays (binary-safe; never a formatted command string). After any I/O error the
/// context is discarded — hiredis leaves it in an undefined state — and the next call reconnects, with a
/// backoff so a dead server is not hammered; while backing off, calls fail fast naming the server.
public final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    private let endpoint: RedisEndpoint
    private let timeout: Duration
    private var nextAttempt = ContinuousClock.now
    private var backoff: Duration = .zero
    private var lastError = ""
    /// SHA1 of each script source loaded on this server (EVALSHA with load-on-miss).
    private var scriptHashes: [String: String] = [:]

    /// - Parameters:
    ///   - endpoint: where the server listens.
    ///   - timeout: connect and socket timeout; must exceed any server-side block time used on this connection.
    public init(endpoint: RedisEndpoint, timeout: Duration = .seconds(5)) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    deinit { if let context { redisFree(context) } }

    private static func timeval(_ d: Duration) -> timeval {
        let (s, attos) = d.components
        return Glibc.timeval(tv_sec: Int(s), tv_usec: Int(attos / 1_000_000_000_000))
    }

    private func connectIfNeeded() throws -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let now = ContinuousClock.now
        if now < nextAttempt {
            throw TwinError.redis("\(endpoint): unavailable (\(lastError)); retrying shortly")
        }
        guard let ctx = redisConnectWithTimeout(endpoint.host, Int32(endpoint.port), Self.timeval(timeout)) else {
            throw fail("cannot allocate a redis context")
        }
        if ctx.pointee.err != 0 {
            let message = Self.errorText(ctx)
            redisFree(ctx)
            throw fail(message)
        }
        redisSetTimeout(ctx, Self.timeval(timeout))
        redisEnableKeepAlive(ctx)
        context = ctx
        backoff = .zero
        scriptHashes.removeAll()
        if let password = endpoint.password {
            let reply = try command(["AUTH", password])
            if case .error = reply { disconnect(); throw TwinError.redis("\(endpoint): authentication failed") }
        }
        if endpoint.database != 0 {
            let reply = try command(["SELECT", String(endpoint.database)])
            if case .error(let e) = reply { disconnect(); throw TwinError.redis("\(endpoint): SELECT failed: \(e)") }
        }
        return ctx
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private func fail(_ message: String) -> TwinError {
        lastError = message
        backoff = backoff == .zero ? .milliseconds(50) : min(backoff * 2, .seconds(2))
        nextAttempt = ContinuousClock.now + backoff
        return TwinError.redis("\(endpoint): \(message)")
    }

    /// Drops the context; the next call reconnects.
    public func disconnect() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Whether a live context exists (it may still turn out dead on the next call).
    public var isConnected: Bool { context != nil }

    /// Sends one command and waits for its reply. Redis error replies come back as ``RedisValue/error(_:)``.
    @discardableResult
    public func command(_ args: [String]) throws -> RedisValue {
        try pipeline([args])[0]
    }

    /// Sends several commands in one round trip and returns their replies in order.
    public func pipeline(_ commands: [[String]]) throws -> [RedisValue] {
        let ctx = try connectIfNeeded()
        for args in commands { try append(ctx, args) }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil {
                let message = Self.errorText(ctx)
                disconnect()
                throw fail(message.isEmpty ? "connection lost" : message)
            }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.decode(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func append(_ ctx: UnsafeMutablePointer<redisContext>, _ args: [String]) throws {
        // One flat byte buffer for all arguments, then argv pointers into it: no per-argument allocation.
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        lengths.reserveCapacity(args.count)
        for a in args {
            let before = bytes.count
            bytes.append(contentsOf: a.utf8)
            lengths.append(bytes.count - before)
        }
        if bytes.isEmpty { bytes.append(0) }
        let rc = bytes.withUnsafeBufferPointer { buffer -> Int32 in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(args.count)
            var offset = 0
            for n in lengths { pointers.append(base + offset); offset += n }
            return redisAppendCommandArgv(ctx, Int32(args.count), &pointers, lengths)
        }
        if rc != REDIS_OK {
            let message = Self.errorText(ctx)
            disconnect()
            throw fail(message)
        }
    }

    private static func decode(_ r: UnsafeMutablePointer<redisReply>) -> RedisValue {
        switch r.pointee.type {
        case REDIS_REPLY_STRING:
            return .string(r.pointee.str == nil ? [] : Array(UnsafeRawBufferPointer(start: r.pointee.str, count: Int(r.pointee.len))))
        case REDIS_REPLY_STATUS:
            return .status(String(cString: r.pointee.str))
        case REDIS_REPLY_ERROR:
            return .error(String(cString: r.pointee.str))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.pointee.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(Int(r.pointee.elements))
            for i in 0..<Int(r.pointee.elements) {
                items.append(r.pointee.element[i].map(decode) ?? .null)
            }
            return .array(items)
        default:
            return .null
        }
    }

    /// Runs a Lua script by SHA (EVALSHA), loading it on a miss (NOSCRIPT), and throws on a script error.
    public func eval(_ script: RedisScript, keys: [String] = [], args: [String]) throws -> RedisValue {
        var sha = scriptHashes[script.source]
        if sha == nil { sha = try load(script) }
        var reply = try command(["EVALSHA", sha!, String(keys.count)] + keys + args)
        if case .error(let e) = reply, e.hasPrefix("NOSCRIPT") {
            sha = try load(script)
            reply = try command(["EVALSHA", sha!, String(keys.count)] + keys + args)
        }
        if case .error(let e) = reply {
            throw TwinError.redis("\(endpoint): script \(script.name) failed: \(e)")
        }
        return reply
    }

    private func load(_ script: RedisScript) throws -> String {
        let reply = try command(["SCRIPT", "LOAD", script.source])
        guard let sha = reply.text, !sha.isEmpty else {
            throw TwinError.redis("\(endpoint): SCRIPT LOAD \(script.name) failed: \(reply)")
        }
        scriptHashes[script.source] = sha
        return sha
    }
}

/// A named Lua script.
public struct RedisScript: Sendable {
    public let name: String
    public let source: String
    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
