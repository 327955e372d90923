import Foundation
import Yams

extension TwinConfiguration {
    /// Loads `twin.yaml` (or `TWIN_CONFIG`, or the given file) and then the `TWIN_*` environment on top of it.
    ///
    /// - Parameters:
    ///   - file: an explicit configuration file; when nil, `TWIN_CONFIG` or `./twin.yaml` if it exists.
    ///   - environment: the process environment (injectable for tests).
    /// - Throws: ``TwinError`` naming the offending key.
    public static func load(
        file: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> TwinConfiguration {
        var config = TwinConfiguration()
        let path = file ?? environment["TWIN_CONFIG"] ?? (FileManager.default.fileExists(atPath: "twin.yaml") ? "twin.yaml" : nil)
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw TwinError.configuration("TWIN_CONFIG: cannot read configuration file \(path)")
            }
            try config.apply(yaml: text, file: path)
        }
        try config.apply(environment: environment)
        try config.validate()
        return config
    }

    /// Applies a YAML document (keys as in the README's configuration table).
    public mutating func apply(yaml text: String, file: String = "twin.yaml") throws {
        let node: Any?
        do { node = try Yams.load(yaml: text) } catch {
            throw TwinError.configuration("\(file): not valid YAML: \(error)")
        }
        guard let root = node as? [String: Any] else {
            if node == nil { return }
            throw TwinError.configuration("\(file): the top level must be a mapping")
        }
        var reader = ConfigReader(values: root, prefix: "", file: file)
        if let url = try reader.string("redis.url") { redis = try RedisEndpoint.parse(url, key: "redis.url") }
        if let url = try reader.string("postgres.url") { postgres = try PostgresEndpoint.parse(url, key: "postgres.url") }
        if let dir = try reader.string("models_dir") { modelsDirectory = dir }
        if let level = try reader.string("log_level") { logLevel = level }
        if let v = try reader.string("pipelines_dir") { pipelinesDirectory = v }
        if let v = try reader.int("artifacts.max_inline_bytes") { artifacts.maxInlineBytes = v }
        if let v = try reader.string("artifacts.objects_dir") { artifacts.objectsDirectory = v }
        if let v = try reader.string("artifacts.s3.endpoint") { artifacts.s3Endpoint = v }
        if let v = try reader.string("artifacts.s3.bucket") { artifacts.s3Bucket = v }
        if let v = try reader.string("artifacts.s3.region") { artifacts.s3Region = v }
        if let v = try reader.string("queue.key_prefix") { queue.keyPrefix = v }
        if let v = try reader.int("queue.max_payload_bytes") { queue.maxPayloadBytes = v }
        if let v = try reader.double("queue.lease_seconds") { queue.leaseDuration = .seconds(v) }
        if let v = try reader.double("queue.unique_window_seconds") { queue.uniqueWindow = .seconds(v) }
        if let v = try reader.int("queue.max_crashes") { queue.maxCrashes = v }
        if let v = try reader.int("queue.max_attempts") { queue.defaultMaxAttempts = v }
        if let v = try reader.double("queue.retry_base_ms") { queue.retryBase = .milliseconds(v) }
        if let v = try reader.double("queue.retry_max_seconds") { queue.retryMax = .seconds(v) }
        if let v = try reader.stringList("worker.queues") { worker.queues = v }
        if let v = try reader.int("worker.concurrency") { worker.concurrency = v }
        if let v = try reader.double("worker.shutdown_grace_seconds") { worker.shutdownGrace = .seconds(v) }
        if let v = try reader.int("worker.fetch_batch") { worker.fetchBatch = v }
        if let v = try reader.stringList("crawl.javascript_domains") { crawlJavaScriptDomains = v.filter { !$0.isEmpty } }
        if let v = try reader.string("crawl.chromium_path") { crawlChromiumPath = v }
        if let v = try reader.double("crawl.host_delay_ms") { crawlHostDelay = .milliseconds(v) }
        if let v = try reader.int("crawl.host_concurrency") { crawlHostConcurrency = v }
        if let queues = root["queues"] {
            guard let map = queues as? [String: Any] else { throw TwinError.configuration("\(file): queues: expected a mapping of queue names") }
            for (name, value) in map {
                guard let limits = value as? [String: Any] else {
                    throw TwinError.configuration("\(file): queues.\(name): expected a mapping")
                }
                var r = ConfigReader(values: limits, prefix: "queues.\(name).", file: file)
                queueLimits[name] = QueueLimits(concurrency: try r.int("concurrency"), ratePerSecond: try r.double("rate_per_second"))
            }
        }
        if let list = root["schedules"] {
            guard let items = list as? [Any] else { throw TwinError.configuration("\(file): schedules: expected a list") }
            schedules = try items.enumerated().map { index, item in
                guard let map = item as? [String: Any] else {
                    throw TwinError.configuration("\(file): schedules[\(index)]: expected a mapping")
                }
                return try ScheduleDefinition(yaml: map, key: "\(file): schedules[\(index)]")
            }
        }
    }

    /// Applies `TWIN_*` variables; each wins over the file.
    public mutating func apply(environment env: [String: String]) throws {
        func int(_ key: String) throws -> Int? {
            guard let raw = env[key] else { return nil }
            guard let v = Int(raw.trimmingCharacters(in: .whitespaces)) else {
                throw TwinError.configuration("\(key): expected an integer, got \"\(raw)\"")
            }
            return v
        }
        func double(_ key: String) throws -> Double? {
            guard let raw = env[key] else { return nil }
            guard let v = Double(raw.trimmingCharacters(in: .whitespaces)), v.isFinite else {
                throw TwinError.configuration("\(key): expected a number, got \"\(raw)\"")
            }
            return v
        }
        if let v = env["TWIN_REDIS_URL"] { redis = try RedisEndpoint.parse(v, key: "TWIN_REDIS_URL") }
        if let v = env["TWIN_POSTGRES_URL"] { postgres = try PostgresEndpoint.parse(v, key: "TWIN_POSTGRES_URL") }
        if let v = env["TWIN_MODELS_DIR"] { modelsDirectory = v }
        if let v = env["TWIN_LOG_LEVEL"] { logLevel = v }
        if let v = env["TWIN_PIPELINES_DIR"] { pipelinesDirectory = v }
        if let v = env["TWIN_CRAWL_ALLOW_HOSTS"] {
            crawlAllowedHosts = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let v = env["TWIN_CRAWL_JS_DOMAINS"] {
            crawlJavaScriptDomains = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let v = env["TWIN_CRAWL_CHROMIUM"] { crawlChromiumPath = v }
        if let v = try double("TWIN_CRAWL_HOST_DELAY_MS") { crawlHostDelay = .milliseconds(v) }
        if let v = try int("TWIN_CRAWL_HOST_CONCURRENCY") { crawlHostConcurrency = v }
        if let v = try int("TWIN_ARTIFACT_INLINE_BYTES") { artifacts.maxInlineBytes = v }
        if let v = env["TWIN_OBJECTS_DIR"] { artifacts.objectsDirectory = v }
        if let v = env["TWIN_S3_ENDPOINT"], !v.isEmpty { artifacts.s3Endpoint = v }
        if let v = env["TWIN_S3_BUCKET"] { artifacts.s3Bucket = v }
        if let v = env["TWIN_S3_REGION"] { artifacts.s3Region = v }
        if let v = env["TWIN_S3_ACCESS_KEY_ID"] { artifacts.s3AccessKey = v }
        if let v = env["TWIN_S3_SECRET_ACCESS_KEY"] { artifacts.s3SecretKey = v }
        if let v = env["TWIN_QUEUE_PREFIX"] { queue.keyPrefix = v }
        if let v = try int("TWIN_MAX_PAYLOAD_BYTES") { queue.maxPayloadBytes = v }
        if let v = try double("TWIN_LEASE_SECONDS") { queue.leaseDuration = .seconds(v) }
        if let v = try double("TWIN_UNIQUE_WINDOW_SECONDS") { queue.uniqueWindow = .seconds(v) }
        if let v = try int("TWIN_MAX_CRASHES") { queue.maxCrashes = v }
        if let v = try int("TWIN_MAX_ATTEMPTS") { queue.defaultMaxAttempts = v }
        if let v = try double("TWIN_RETRY_BASE_MS") { queue.retryBase = .milliseconds(v) }
        if let v = try double("TWIN_RETRY_MAX_SECONDS") { queue.retryMax = .seconds(v) }
        if let v = env["TWIN_WORKER_QUEUES"] {
            worker.queues = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let v = try int("TWIN_WORKER_CONCURRENCY") { worker.concurrency = v }
        if let v = try double("TWIN_SHUTDOWN_GRACE_SECONDS") { worker.shutdownGrace = .seconds(v) }
        if let v = try int("TWIN_WORKER_FETCH_BATCH") { worker.fetchBatch = v }
    }

    /// Checks ranges once; every message names its key.
    public func validate() throws {
        func require(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TwinError.configuration(message()) }
        }
        try require(!queue.keyPrefix.isEmpty && !queue.keyPrefix.contains(" "),
                    "TWIN_QUEUE_PREFIX: must be a non-empty word, got \"\(queue.keyPrefix)\"")
        try require(artifacts.maxInlineBytes >= 0, "TWIN_ARTIFACT_INLINE_BYTES: must not be negative")
        _ = try artifacts.blobStore()
        try require(queue.maxPayloadBytes > 0, "TWIN_MAX_PAYLOAD_BYTES: must be positive, got \(queue.maxPayloadBytes)")
        try require(queue.leaseDuration >= .milliseconds(100), "TWIN_LEASE_SECONDS: must be at least 0.1, got \(queue.leaseDuration)")
        try require(queue.uniqueWindow > .zero, "TWIN_UNIQUE_WINDOW_SECONDS: must be positive")
        try require(queue.maxCrashes >= 1, "TWIN_MAX_CRASHES: must be at least 1, got \(queue.maxCrashes)")
        try require(queue.defaultMaxAttempts >= 1, "TWIN_MAX_ATTEMPTS: must be at least 1, got \(queue.defaultMaxAttempts)")
        try require(queue.retryBase >= .zero, "TWIN_RETRY_BASE_MS: must not be negative")
        try require(!worker.queues.isEmpty && worker.queues.allSatisfy { !$0.isEmpty },
                    "TWIN_WORKER_QUEUES: expected queue names separated by commas")
        try require(worker.concurrency >= 1 && worker.concurrency <= 10_000,
                    "TWIN_WORKER_CONCURRENCY: must be between 1 and 10000, got \(worker.concurrency)")
        try require(worker.fetchBatch >= 1 && worker.fetchBatch <= 10_000,
                    "TWIN_WORKER_FETCH_BATCH: must be between 1 and 10000, got \(worker.fetchBatch)")
        try require(Logger.Level(rawValue: logLevel) != nil,
                    "TWIN_LOG_LEVEL: expected trace, debug, info, notice, warning, error or critical, got \"\(logLevel)\"")
        for domain in crawlJavaScriptDomains {
            try require(!domain.contains("/") && !domain.contains(":") && !domain.contains(" ") && !domain.hasPrefix("."),
                        "TWIN_CRAWL_JS_DOMAINS (crawl.javascript_domains): expected host names such as medium.com, got \"\(domain)\"")
        }
        try require(!crawlChromiumPath.trimmingCharacters(in: .whitespaces).isEmpty,
                    "TWIN_CRAWL_CHROMIUM (crawl.chromium_path): must name the Chromium executable, got an empty value")
        try require(crawlHostDelay >= .zero, "TWIN_CRAWL_HOST_DELAY_MS (crawl.host_delay_ms): must not be negative")
        try require(crawlHostConcurrency >= 1 && crawlHostConcurrency <= 1000,
                    "TWIN_CRAWL_HOST_CONCURRENCY (crawl.host_concurrency): must be between 1 and 1000, got \(crawlHostConcurrency)")
        for (name, limits) in queueLimits {
            if let c = limits.concurrency { try require(c >= 1, "queues.\(name).concurrency: must be at least 1, got \(c)") }
            if let r = limits.ratePerSecond { try require(r > 0, "queues.\(name).rate_per_second: must be positive, got \(r)") }
        }
    }
}

import Logging

/// Reads dotted keys out of a YAML mapping with type checks that name the key.
struct ConfigReader {
    let values: [String: Any]
    let prefix: String
    let file: String

    private func lookup(_ key: String) -> Any? {
        var node: Any? = values
        for part in key.split(separator: ".") {
            guard let map = node as? [String: Any] else { return nil }
            node = map[String(part)]
        }
        return node
    }

    private func fail(_ key: String, _ expected: String, _ value: Any) -> TwinError {
        TwinError.configuration("\(file): \(prefix)\(key): expected \(expected), got \(value)")
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = lookup(key) else { return nil }
        if let s = v as? String { return s }
        if v is Int || v is Double { return "\(v)" }
        throw fail(key, "a string", v)
    }
    mutating func int(_ key: String) throws -> Int? {
        guard let v = lookup(key) else { return nil }
        if let i = v as? Int { return i }
        throw fail(key, "an integer", v)
    }
    mutating func double(_ key: String) throws -> Double? {
        guard let v = lookup(key) else { return nil }
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        throw fail(key, "a number", v)
    }
    mutating func stringList(_ key: String) throws -> [String]? {
        guard let v = lookup(key) else { return nil }
        if let s = v as? String { return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let list = v as? [Any] { return try list.map { item in
            guard let s = item as? String else { throw fail(key, "a list of strings", v) }
            return s
        } }
        throw fail(key, "a list of strings", v)
    }
}
