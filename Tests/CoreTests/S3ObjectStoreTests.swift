import Foundation
import Testing
@testable import Core

/// The S3-compatible object store against a real local S3 server (moto's, started by the test).
@Suite(.serialized) struct S3ObjectStoreTests {
    static func startMoto() throws -> (Process, Int) {
        // A port the kernel just handed out (a random one collided with other tests' servers now and then,
        // and moto then exited at once while the test waited for it).
        let port = try freePort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, port)
    }

    /// A loopback TCP port that was free a moment ago (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TwinError.io("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TwinError.io("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func waitReady(_ client: S3Client, _ moto: Process) async throws {
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if (try? client.ensureBucket()) != nil { return }
            guard moto.isRunning else {
                throw TwinError.io("moto server exited with status \(moto.terminationStatus) before answering")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TwinError.timeout("moto server did not start (is `moto[server]` installed? ops/install installs it)")
    }

    @Test func roundTripThroughAnS3CompatibleServer() async throws {
        let (moto, port) = try Self.startMoto()
        defer { kill(moto.processIdentifier, SIGKILL); moto.waitUntilExit() }   // werkzeug ignores SIGTERM
        let client = S3Client(endpoint: URL(string: "http://127.0.0.1:\(port)")!, bucket: "twin-test",
                              signer: SigV4(accessKey: "test", secretKey: "test", region: "us-east-1"))
        try await Self.waitReady(client, moto)
        let store = S3ObjectStore(client: client)
        let bytes = Array("a large artifact payload ✓".utf8) + [UInt8](repeating: 7, count: 100_000)
        let (uri, sha) = try store.put(bytes)
        #expect(uri == "s3://twin-test/\(sha)")
        #expect(try store.get(uri) == bytes)
        // A tampered object is detected by its address.
        try client.put(key: sha, Array("tampered".utf8))
        #expect { try store.get(uri) } throws: { "\($0)".contains("corrupt") }
        #expect { try store.get("s3://twin-test/" + String(repeating: "0", count: 64)) } throws: { ($0 as? TwinError)?.isNotFound == true }
    }

    @Test func pipelineArtifactsLandInTheBucket() async throws {
        let (moto, port) = try Self.startMoto()
        defer { kill(moto.processIdentifier, SIGKILL); moto.waitUntilExit() }   // werkzeug ignores SIGTERM
        let env = try await TestEnvironment()
        var settings = ArtifactSettings()
        settings.maxInlineBytes = 32
        settings.s3Endpoint = "http://127.0.0.1:\(port)"
        settings.s3Bucket = "artifacts"
        settings.s3AccessKey = "k"; settings.s3SecretKey = "s"
        guard let s3 = try settings.blobStore() as? S3ObjectStore else { Issue.record("expected an S3 store"); return }
        try await Self.waitReady(s3.client, moto)
        let queue = JobQueue(settings: env.configuration.queue, redis: env.redis, postgres: env.postgres, registry: env.queue.registry, artifacts: settings)
        let service = PipelineService(queue: queue)
        let def = try PipelineDefinition.parse("name: s3demo\nsteps:\n  - {name: a, kind: echo, params: {text: \"\(String(repeating: "y", count: 100))\"}}\n",
                                               file: "t.yaml", registry: env.queue.registry)
        var ws = env.configuration.worker
        ws.queues = ["default"]
        let run = try await env.running(WorkerService(queue: queue, settings: ws, logger: env.logger)) { () -> PipelineService.RunView in
            let r = try await service.start(def)
            while try await service.show(r.id).state == "running" { try await Task.sleep(for: .milliseconds(30)) }
            return try await service.show(r.id)
        }
        #expect(run.state == "succeeded")
        let (artifact, value) = try await service.artifact("s3demo.a")
        #expect(artifact.uri?.hasPrefix("s3://artifacts/") == true)
        #expect(value["text"]?.stringValue?.count == 100)
    }

    @Test func invalidEndpointIsAConfigurationError() {
        #expect { try TwinConfiguration.load(environment: ["TWIN_S3_ENDPOINT": "ftp://x"]) } throws: { "\($0)".contains("TWIN_S3_ENDPOINT") }
    }
}
