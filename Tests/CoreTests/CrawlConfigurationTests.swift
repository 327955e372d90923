import Foundation
import Testing

@testable import Core

/// The crawl keys of the configuration: JavaScript domains, the Chromium path and per-host politeness.
@Suite("Crawl: configuration keys")
struct CrawlConfigurationTests {
    @Test func readsTheKeysFromYAMLAndTheEnvironmentWins() throws {
        var config = TwinConfiguration()
        try config.apply(yaml: """
            crawl:
              javascript_domains: [medium.com, app.example.org]
              chromium_path: /usr/lib/chromium/chromium
              host_delay_ms: 250
              host_concurrency: 4
            """)
        #expect(config.crawlJavaScriptDomains == ["medium.com", "app.example.org"])
        #expect(config.crawlChromiumPath == "/usr/lib/chromium/chromium")
        #expect(config.crawlHostDelay == .milliseconds(250))
        #expect(config.crawlHostConcurrency == 4)
        try config.apply(environment: [
            "TWIN_CRAWL_JS_DOMAINS": " substack.com , ", "TWIN_CRAWL_CHROMIUM": "chromium-browser",
            "TWIN_CRAWL_HOST_DELAY_MS": "0", "TWIN_CRAWL_HOST_CONCURRENCY": "16",
        ])
        #expect(config.crawlJavaScriptDomains == ["substack.com"])
        #expect(config.crawlChromiumPath == "chromium-browser")
        #expect(config.crawlHostDelay == .zero)
        #expect(config.crawlHostConcurrency == 16)
        try config.validate()

        let fetch = CrawlJobs.fetcherConfiguration(config)
        #expect(fetch.javaScriptDomains == ["substack.com"])
        #expect(fetch.rendersJavaScript(host: "notes.substack.com"))
        #expect(!fetch.rendersJavaScript(host: "notsubstack.com"))
        #expect(fetch.chromiumPath == "chromium-browser")
        #expect(fetch.minimumDelayPerHost == .zero)
        #expect(fetch.maximumConcurrencyPerHost == 16)
    }

    @Test func aCommaSeparatedStringIsAListToo() throws {
        var config = TwinConfiguration()
        try config.apply(yaml: "crawl:\n  javascript_domains: medium.com, example.org\n")
        #expect(config.crawlJavaScriptDomains == ["medium.com", "example.org"])
    }

    @Test func badValuesNameTheirKey() throws {
        var config = TwinConfiguration()
        config.crawlJavaScriptDomains = ["https://medium.com/"]
        #expect(throws: TwinError.configuration(
            "TWIN_CRAWL_JS_DOMAINS (crawl.javascript_domains): expected host names such as medium.com, got \"https://medium.com/\"")
        ) { try config.validate() }

        var empty = TwinConfiguration()
        try empty.apply(environment: ["TWIN_CRAWL_CHROMIUM": " "])
        #expect(throws: TwinError.self) { try empty.validate() }

        var wrongType = TwinConfiguration()
        #expect(throws: TwinError.configuration("twin.yaml: crawl.host_concurrency: expected an integer, got many")) {
            try wrongType.apply(yaml: "crawl:\n  host_concurrency: many\n")
        }
        #expect(throws: TwinError.configuration("TWIN_CRAWL_HOST_DELAY_MS: expected a number, got \"soon\"")) {
            try wrongType.apply(environment: ["TWIN_CRAWL_HOST_DELAY_MS": "soon"])
        }
        var zero = TwinConfiguration()
        zero.crawlHostConcurrency = 0
        #expect(throws: TwinError.configuration(
            "TWIN_CRAWL_HOST_CONCURRENCY (crawl.host_concurrency): must be between 1 and 1000, got 0")) { try zero.validate() }
    }
}
