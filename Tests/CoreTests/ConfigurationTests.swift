import Testing
@testable import Core

struct ConfigurationTests {
    @Test func environmentWinsOverYAML() throws {
        var config = TwinConfiguration()
        try config.apply(yaml: "redis:\n  url: redis://10.0.0.1:7000\nworker:\n  concurrency: 3\n")
        try config.apply(environment: ["TWIN_REDIS_URL": "redis://127.0.0.1:6390"])
        #expect(config.redis.port == 6390)
        #expect(config.worker.concurrency == 3)
    }

    @Test func invalidValueNamesTheKey() {
        #expect(throws: TwinError.self) { try TwinConfiguration.load(environment: ["TWIN_REDIS_URL": "http://x"]) }
        do {
            _ = try TwinConfiguration.load(environment: ["TWIN_WORKER_CONCURRENCY": "many"])
            Issue.record("expected an error")
        } catch let error as TwinError {
            #expect(error.description.contains("TWIN_WORKER_CONCURRENCY"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func yamlTypeErrorNamesFileAndKey() {
        var config = TwinConfiguration()
        #expect {
            try config.apply(yaml: "worker:\n  concurrency: lots\n", file: "my.yaml")
        } throws: { error in
            "\(error)".contains("my.yaml") && "\(error)".contains("concurrency")
        }
    }
}
