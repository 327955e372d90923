import Foundation
import Testing

@testable import Core

/// Headless Chromium for JavaScript domains, with the real `chromium` (Debian package, see ops/install)
/// against the loopback test server.
@Suite("Crawl: headless Chromium")
struct CrawlChromiumTests {
    let server = CrawlTestHTTPServer.shared

    /// The fetcher tests' configuration with `domains` rendered by Chromium.
    static func configuration(javaScript domains: [String], allowed: Set<String> = ["127.0.0.1"]) -> FetcherConfiguration {
        var configuration = CrawlWebFetcherTests.configuration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: allowed)
        configuration.javaScriptDomains = domains
        configuration.renderTimeout = .seconds(60)  // generous: the machine is shared; the timeout test sets its own
        configuration.renderScriptBudget = .seconds(2)
        return configuration
    }

    static let scriptSentence = "This sentence was inserted by JavaScript after the page loaded"

    @Test func extractsTheScriptBuiltBodyOnlyForAConfiguredDomain() async throws {
        let url = try #require(URL(string: server.url("/js-article")))
        let plain = ArticleCrawler(fetcher: WebFetcher(configuration: Self.configuration(javaScript: ["example.org"])))
        do {
            let document = try await plain.crawl(url)
            #expect(!(document.content["Content"] ?? "").contains(Self.scriptSentence))
        } catch let error as TwinError {
            #expect(error.message.contains("no article text found"))
        }

        let fetcher = WebFetcher(configuration: Self.configuration(javaScript: ["127.0.0.1"]))
        let rendered = try await fetcher.fetchPage(url)
        #expect(rendered.isRendered)
        #expect(rendered.address == "127.0.0.1")
        let document = try await ArticleCrawler(fetcher: fetcher).crawl(url)
        #expect(document.kind == .article)
        #expect(document.content["Title"] == "Rendered by script")
        #expect(document.content["Content"]?.contains(Self.scriptSentence) == true)
        #expect(document.content["Content"]?.contains("document.getElementById") == false)
    }

    @Test func aCrawlJobStoresTheRenderedArticle() async throws {
        let env = try await crawlEnvironment(fetcher: WebFetcher(configuration: Self.configuration(javaScript: ["127.0.0.1"])))
        let link = server.url("/js-article?job=\(UUIDv7.make())")
        let author = uniqueAuthorName("Script")
        let payload = JSONValue.object(["link": .string(link), "user_full_name": .string(author)]).jsonText
        let status = try await env.running(env.worker()) {
            try await env.waitFinal(try await env.queue.enqueue(JobSpec(kind: CrawlJob.kind, payload: payload, maxAttempts: 1)))
        }
        #expect(status.state == "succeeded", "\(status.error ?? "")")
        #expect(status.result?["title"] == .string("Rendered by script"))
        let store = try await warehouseStore()
        let id = try #require(status.result?["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
        let document = try #require(try await store.document(id: id))
        #expect(document.content["Content"]?.contains(Self.scriptSentence) == true)
    }

    @Test func refusesAConfiguredDomainOnAGuardedAddress() async throws {
        // 127.0.0.1 is a JavaScript domain here but not allow-listed: the guard refuses before Chromium starts.
        let fetcher = WebFetcher(configuration: Self.configuration(javaScript: ["127.0.0.1", "localhost"], allowed: []))
        for address in [server.url("/js-article"), "http://localhost:\(server.port)/js-article"] {
            let error = await #expect(throws: TwinError.self) { try await fetcher.fetchPage(try #require(URL(string: address))) }
            #expect(error?.isInvalidInput == true)
            #expect(error?.message.contains("refused") == true)
        }
    }

    @Test func pinsChromiumToTheCheckedHost() async throws {
        // Served as localhost (allow-listed), the page's script and an image try 127.0.0.1 by IP literal,
        // which is not allow-listed: the resolver rules leave Chromium nowhere to connect but the page's host.
        let tag = "pin-\(UUID().uuidString)"
        let fetcher = WebFetcher(configuration: Self.configuration(javaScript: ["localhost"], allowed: ["localhost"]))
        let response = try await fetcher.fetchPage(try #require(URL(string: "http://localhost:\(server.port)/js-probe?\(tag)")))
        #expect(String(decoding: response.body, as: UTF8.self).contains(Self.scriptSentence))
        #expect(try await server.hits("/ssrf-probe?\(tag)") == 0)
        #expect(try await server.hits("/ssrf-probe-img?\(tag)") == 0)

        // Control: served as 127.0.0.1 the same probes are same-host, so they do arrive (the check can fail).
        let control = "control-\(UUID().uuidString)"
        let local = WebFetcher(configuration: Self.configuration(javaScript: ["127.0.0.1"]))
        _ = try await local.fetchPage(try #require(URL(string: server.url("/js-probe?\(control)"))))
        #expect(try await server.hits("/ssrf-probe-img?\(control)") >= 1)
    }

    @Test func pinningRulesNameOnlyTheCheckedAddress() throws {
        let url = try #require(URL(string: "https://blog.example.org/post"))
        let v4 = ChromiumRenderer.arguments(
            url: url, host: "blog.example.org", address: try #require(IPAddress("93.184.215.14")), profile: "/tmp/p",
            configuration: FetcherConfiguration())
        #expect(v4.contains("--host-resolver-rules=MAP blog.example.org 93.184.215.14, MAP * ~NOTFOUND"))
        #expect(v4.contains("--no-proxy-server"))
        #expect(v4.contains("--dump-dom"))
        #expect(v4.last == "https://blog.example.org/post")
        #expect(v4.contains("--no-sandbox") == (getuid() == 0))
        let v6 = ChromiumRenderer.arguments(
            url: url, host: "blog.example.org", address: try #require(IPAddress("2606:2800:21f::1")), profile: "/tmp/p",
            configuration: FetcherConfiguration())
        #expect(v6.contains("--host-resolver-rules=MAP blog.example.org [2606:2800:21f::1], MAP * ~NOTFOUND"))
    }

    @Test func chromiumStderrBecomesTheReason() {
        // As captured from chromium 156 on Debian 12 for a page whose host does not resolve.
        let stderr = """
            /usr/bin/chromium: 9: [: 25274974208: unexpected operator
            [13528:13566:1203/141108.674356:ERROR:dbus/bus.cc:405] Failed to connect to the bus: Could not parse server address
            [13528:13528:1203/141108.785551:ERROR:components/headless/command_handler/headless_command_handler.cc:403] Page load failed: net::ERR_NAME_NOT_RESOLVED
            """
        #expect(ChromiumRenderer.loadFailure(in: stderr) == "Page load failed: net::ERR_NAME_NOT_RESOLVED")
        let summary = ChromiumRenderer.summary(of: stderr)
        #expect(summary?.contains("net::ERR_NAME_NOT_RESOLVED") == true)
        #expect(summary?.contains("dbus") == false && summary?.contains("unexpected operator") == false)
        #expect(ChromiumRenderer.loadFailure(in: "") == nil && ChromiumRenderer.summary(of: "\n") == nil)
    }

    @Test func missingChromiumNamesThePackageAndTheKey() async throws {
        var configuration = Self.configuration(javaScript: ["127.0.0.1"])
        configuration.chromiumPath = "/nonexistent/chromium"
        let error = await #expect(throws: TwinError.self) {
            try await WebFetcher(configuration: configuration).fetchPage(try #require(URL(string: server.url("/js-article"))))
        }
        #expect(error?.isConfiguration == true)
        #expect(error?.message.contains("apt-get install chromium") == true)
        #expect(error?.message.contains("crawl.chromium_path") == true)
        #expect(error?.message.contains("/nonexistent/chromium") == true)
    }

    @Test func aRenderThatHangsIsKilledAtTheTimeout() async throws {
        var configuration = Self.configuration(javaScript: ["127.0.0.1"])
        configuration.renderTimeout = .seconds(3)
        let started = ContinuousClock.now
        let error = await #expect(throws: TwinError.self) {
            try await WebFetcher(configuration: configuration).fetchPage(try #require(URL(string: server.url("/js-hang"))))
        }
        #expect(error?.isTimeout == true)
        #expect(error?.message.contains("headless Chromium did not finish within") == true)
        // Unkilled, Chromium would wait for /never-script's answer at 30 s; the margin absorbs a loaded machine.
        #expect(ContinuousClock.now - started < .seconds(27))
    }

    @Test func theRenderedDOMIsSizeLimited() async throws {
        var configuration = Self.configuration(javaScript: ["127.0.0.1"])
        configuration.maximumBodyBytes = 8 << 10  // the served page is ~200 bytes, its DOM ~20 KB
        let error = await #expect(throws: TwinError.self) {
            try await WebFetcher(configuration: configuration).fetchPage(try #require(URL(string: server.url("/js-large"))))
        }
        #expect(error?.message.contains("rendered DOM exceeds 8192 bytes") == true)
    }
}
