import Foundation
import Yams

/// Everything a Twin process is configured with: `twin.yaml` (optional) overlaid by `TWIN_*` environment
/// variables (the environment wins). Validated once at start; errors name the key.
public struct TwinConfiguration: Sendable, Equatable {
    /// Redis holding the queues (`TWIN_REDIS_URL`, yaml `redis.url`).
    public var redis = RedisEndpoint(host: "127.0.0.1", port: 16379)
    /// PostgreSQL, the system of record (`TWIN_POSTGRES_URL`, yaml `postgres.url`).
    public var postgres = PostgresEndpoint(host: "127.0.0.1", port: 15432, user: "twin", password: nil, database: "twin")
    /// Where model folders and files live (`TWIN_MODELS_DIR`, yaml `models_dir`).
    public var modelsDirectory = "models"
    /// Queue behaviour.
    public var queue = QueueSettings()
    /// Worker behaviour.
    public var worker = WorkerSettings()
    /// Artifact storage.
    public var artifacts = ArtifactSettings()
    /// Where pipeline definitions live (`TWIN_PIPELINES_DIR`, yaml `pipelines_dir`).
    public var pipelinesDirectory = "configs/pipelines"
    /// Per-queue concurrency and rate limits, from yaml `queues:`.
    public var queueLimits: [String: QueueLimits] = [:]
    /// Cron schedules declared in yaml `schedules:`.
    public var schedules: [ScheduleDefinition] = []
    /// `TWIN_LOG_LEVEL` / yaml `log_level`: trace, debug, info, notice, warning, error, critical.
    public var logLevel = "info"
    /// Hosts the crawler may reach even on loopback or private addresses (`TWIN_CRAWL_ALLOW_HOSTS`, comma
    /// separated), e.g. `127.0.0.1,localhost` for tests and the demo. Empty: the SSRF guard refuses them all.
    public var crawlAllowedHosts: [String] = []
    /// Domains whose pages need JavaScript and are rendered by headless Chromium before extraction (yaml
    /// `crawl.javascript_domains`, `TWIN_CRAWL_JS_DOMAINS` comma separated); subdomains are included.
    public var crawlJavaScriptDomains: [String] = []
    /// The Chromium executable used for those domains (yaml `crawl.chromium_path`, `TWIN_CRAWL_CHROMIUM`).
    public var crawlChromiumPath = "chromium"
    /// Minimum time between two requests to one host from one process (yaml `crawl.host_delay_ms`,
    /// `TWIN_CRAWL_HOST_DELAY_MS`), 1 s by default.
    public var crawlHostDelay: Duration = .seconds(1)
    /// Requests in flight to one host from one process (yaml `crawl.host_concurrency`, `TWIN_CRAWL_HOST_CONCURRENCY`).
    public var crawlHostConcurrency = 2

    public init() {}

    /// Queue settings (yaml `queue:`).
    public struct QueueSettings: Sendable, Equatable {
        /// Prefix of every Redis key (`TWIN_QUEUE_PREFIX`): several installations can share one Redis.
        public var keyPrefix = "twin"
        /// Largest accepted payload in bytes (`TWIN_MAX_PAYLOAD_BYTES`), 1 MiB by default.
        public var maxPayloadBytes = 1 << 20
        /// How long a lease lasts without a heartbeat (`TWIN_LEASE_SECONDS`).
        public var leaseDuration: Duration = .seconds(30)
        /// How long an idempotency key keeps its job id (`TWIN_UNIQUE_WINDOW_SECONDS`), 24 h by default.
        public var uniqueWindow: Duration = .seconds(86_400)
        /// A job whose lease expired this many times (its worker died each time) goes to the DLQ (`TWIN_MAX_CRASHES`).
        public var maxCrashes = 3
        /// Default attempts for a job that does not say (`TWIN_MAX_ATTEMPTS`).
        public var defaultMaxAttempts = 5
        /// First retry delay; doubles each attempt (`TWIN_RETRY_BASE_MS`).
        public var retryBase: Duration = .milliseconds(500)
        /// Largest retry delay (`TWIN_RETRY_MAX_SECONDS`).
        public var retryMax: Duration = .seconds(600)
        public init() {}
    }

    /// Worker settings (yaml `worker:`).
    public struct WorkerSettings: Sendable, Equatable {
        /// Queues served, in priority order (`TWIN_WORKER_QUEUES`, comma separated).
        public var queues = ["default"]
        /// Jobs run at once by one worker process (`TWIN_WORKER_CONCURRENCY`).
        public var concurrency = 8
        /// On SIGTERM, how long running jobs may finish before they are released (`TWIN_SHUTDOWN_GRACE_SECONDS`).
        public var shutdownGrace: Duration = .seconds(25)
        /// Jobs leased per round trip at most (`TWIN_WORKER_FETCH_BATCH`); 1 = one job per round trip.
        public var fetchBatch = 64
        public init() {}
    }
}

/// Artifact storage settings (yaml `artifacts:`).
public struct ArtifactSettings: Sendable, Equatable {
    /// Payloads up to this size stay in Postgres (`TWIN_ARTIFACT_INLINE_BYTES`); larger ones go to the object store.
    public var maxInlineBytes = 256 * 1024
    /// The local object store's folder (`TWIN_OBJECTS_DIR`); empty disables the object store.
    public var objectsDirectory = ".twin/objects"
    /// An S3-compatible store instead of the local folder (`TWIN_S3_ENDPOINT`, e.g. http://127.0.0.1:9000).
    public var s3Endpoint: String?
    /// `TWIN_S3_BUCKET`.
    public var s3Bucket = "twin-artifacts"
    /// `TWIN_S3_REGION`.
    public var s3Region = "us-east-1"
    /// `TWIN_S3_ACCESS_KEY_ID` / `TWIN_S3_SECRET_ACCESS_KEY` (never printed).
    public var s3AccessKey = ""
    public var s3SecretKey = ""
    public init() {}

    /// The blob store these settings describe (nil when disabled).
    public func blobStore() throws -> (any BlobStore)? {
        if let endpoint = s3Endpoint {
            guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw TwinError.configuration("TWIN_S3_ENDPOINT: expected http(s)://host[:port], got \"\(endpoint)\"")
            }
            return S3ObjectStore(client: S3Client(endpoint: url, bucket: s3Bucket,
                                                  signer: SigV4(accessKey: s3AccessKey, secretKey: s3SecretKey, region: s3Region)))
        }
        return objectsDirectory.isEmpty ? nil : ObjectStore(directory: objectsDirectory)
    }
}

/// Per-queue flow control.
public struct QueueLimits: Sendable, Equatable, Codable {
    /// Jobs of this queue running at once across all workers (nil = unlimited).
    public var concurrency: Int?
    /// Jobs started per second across all workers (nil = unlimited).
    public var ratePerSecond: Double?
    public init(concurrency: Int? = nil, ratePerSecond: Double? = nil) {
        self.concurrency = concurrency
        self.ratePerSecond = ratePerSecond
    }
}

/// Where Redis listens.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int = 0
    public init(host: String, port: Int, password: String? = nil, database: Int = 0) {
        self.host = host; self.port = port; self.password = password; self.database = database
    }
    /// `redis://host:port` (the password is never printed).
    public var description: String { "redis://\(host):\(port)" + (database == 0 ? "" : "/\(database)") }

    /// Parses `redis://[:password@]host[:port][/db]`.
    public static func parse(_ text: String, key: String) throws -> RedisEndpoint {
        guard let url = URLComponents(string: text), url.scheme == "redis", let host = url.host, !host.isEmpty else {
            throw TwinError.configuration("\(key): expected redis://host:port, got \"\(text)\"")
        }
        var endpoint = RedisEndpoint(host: host, port: url.port ?? 6379, password: url.password)
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let db = Int(path), db >= 0 else {
                throw TwinError.configuration("\(key): database must be a number, got \"\(path)\"")
            }
            endpoint.database = db
        }
        return endpoint
    }
}

/// Where PostgreSQL listens.
public struct PostgresEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public init(host: String, port: Int, user: String, password: String?, database: String) {
        self.host = host; self.port = port; self.user = user; self.password = password; self.database = database
    }
    /// `postgres://user@host:port/db` (the password is never printed).
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// libpq keyword/value connection string; values are quoted as libpq requires.
    public func connectionString(extra: [String: String] = [:]) -> String {
        var pairs: [(String, String)] = [("host", host), ("port", String(port)), ("user", user), ("dbname", database),
                                         ("connect_timeout", "5"), ("application_name", "twin")]
        if let password { pairs.append(("password", password)) }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { pairs.append((k, v)) }
        return pairs.map { k, v in
            "\(k)='\(v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'"))'"
        }.joined(separator: " ")
    }

    /// Parses `postgres://user[:password]@host[:port]/database` (also `postgresql://`).
    public static func parse(_ text: String, key: String) throws -> PostgresEndpoint {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql",
              let host = url.host, !host.isEmpty
        else {
            throw TwinError.configuration("\(key): expected postgres://user@host:port/database, got \"\(text)\"")
        }
        let db = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !db.isEmpty else { throw TwinError.configuration("\(key): the URL names no database: \"\(text)\"") }
        return PostgresEndpoint(host: host, port: url.port ?? 5432, user: url.user ?? "postgres",
                                password: url.password, database: db)
    }
}
