import Foundation
import Testing

@testable import Core

/// The fetcher against a loopback server (127.0.0.1 only; see `CrawlTestHTTPServer`).
@Suite("Crawl: web fetcher")
struct CrawlWebFetcherTests {
    let server = CrawlTestHTTPServer.shared

    /// Loopback is allow-listed explicitly, as the brief requires; everything else keeps the guard.
    static func configuration() -> FetcherConfiguration {
        var configuration = FetcherConfiguration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: ["127.0.0.1"])
        configuration.minimumDelayPerHost = .zero
        configuration.retryBaseDelay = .milliseconds(20)
        configuration.connectTimeout = .seconds(2)
        configuration.totalTimeout = .seconds(5)
        configuration.maximumBodyBytes = 1 << 20
        return configuration
    }

    @Test func fetchesAPageWithTheProjectUserAgent() async throws {
        let fetcher = WebFetcher(configuration: Self.configuration())
        let response = try await fetcher.fetch(server.url("/page"))
        #expect(response.status == 200)
        #expect(response.mediaType == "text/html")
        #expect(response.charset == "utf-8")
        #expect(String(decoding: response.body, as: UTF8.self).contains("served on loopback"))
        let agent = try await fetcher.fetch(server.url("/agent"))
        #expect(String(decoding: agent.body, as: UTF8.self) == "Twin/0.1 (+https://github.com/twin)")
    }

    @Test func followsRedirectsAndRecordsTheChain() async throws {
        let response = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/redirect-chain"))
        #expect(response.url.absoluteString == server.url("/page"))
        #expect(response.redirects.map(\.absoluteString) == [server.url("/redirect-chain"), server.url("/redirect-two")])
    }

    @Test func boundsRedirects() async throws {
        var configuration = Self.configuration()
        configuration.maximumRedirects = 3
        await #expect(throws: TwinError.http("\(server.url("/redirect-loop")): too many redirects (more than 3)")) {
            _ = try await WebFetcher(configuration: configuration).fetch(server.url("/redirect-loop"))
        }
    }

    @Test(arguments: [
        ("/redirect-loopback-alias", "127.0.0.2, a loopback address"),
        ("/redirect-localhost", "a loopback address"),
        ("/redirect-metadata", "169.254.169.254, a cloud metadata address"),
        ("/redirect-private", "10.0.0.1, a private address"),
    ])
    func refusesRedirectsToInternalAddresses(path: String, reason: String) async throws {
        do {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch(server.url(path))
            Issue.record("redirect \(path) was followed")
        } catch let error as TwinError {
            #expect(error.isInvalidInput)
            #expect(error.message.hasPrefix("refused: "), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func refusesLoopbackWithoutTheAllowList() async throws {
        var configuration = Self.configuration()
        configuration.addressPolicy = AddressPolicy()
        let fetcher = WebFetcher(configuration: configuration)
        let probe = "/page?probe=\(UUID().uuidString)"
        do {
            _ = try await fetcher.fetch(server.url(probe))
            Issue.record("loopback was fetched without being allow-listed")
        } catch let error as TwinError {
            #expect(error.message.contains("refused"), "\(error.message)")
        }
        #expect(try await server.hits(probe) == 0, "the guard must refuse before any request is sent")
        // Direct literal SSRF targets are refused before any I/O.
        for target in ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://10.0.0.1/",
                       "http://[::1]:\(server.port)/page", "http://0.0.0.0:\(server.port)/page"] {
            await #expect(throws: TwinError.self) { _ = try await fetcher.fetch(target) }
        }
    }

    @Test func refusesUnsupportedSchemesEvenAfterRedirect() async throws {
        await #expect(throws: TwinError.invalidInput("unsupported URL scheme \"ftp\" in ftp://127.0.0.1/file: only http and https")) {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/redirect-ftp"))
        }
        await #expect(throws: TwinError.invalidInput("unsupported URL scheme \"file\" in file:///etc/passwd: only http and https")) {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch("file:///etc/passwd")
        }
    }

    @Test func retriesAfter429HonouringRetryAfter() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/flaky-429"))
        #expect(response.status == 200)
        #expect(clock.now - start >= .milliseconds(950), "Retry-After: 1 must be waited out")
        #expect(try await server.hits("/flaky-429") == 2)
    }

    @Test func retries503ThenGivesUpWhenItPersists() async throws {
        let fetcher = WebFetcher(configuration: Self.configuration())
        #expect(try await fetcher.fetch(server.url("/flaky-503")).status == 200)
        #expect(try await server.hits("/flaky-503") == 3)
        await #expect(throws: TwinError.http("\(server.url("/always-503")): HTTP 503")) {
            _ = try await fetcher.fetch(server.url("/always-503"))
        }
        #expect(try await server.hits("/always-503") == 4)  // one attempt plus three retries
    }

    @Test func tooLongRetryAfterFailsInsteadOfStalling() async throws {
        do {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/retry-after-long"))
            Issue.record("expected a failure")
        } catch let error as TwinError {
            #expect(error.message.contains("asks to retry after 3600"), "\(error.message)")
        }
    }

    @Test func obeysRobotsTxt() async throws {
        let fetcher = WebFetcher(configuration: Self.configuration())
        for path in ["/private/secret", "/redirect-private-path"] {
            do {
                _ = try await fetcher.fetch(server.url(path))
                Issue.record("\(path) was fetched despite robots.txt")
            } catch let error as TwinError {
                #expect(error.message.contains("disallowed by robots.txt for twin"), "\(error.message)")
            }
        }
        #expect(try await server.hits("/private/secret") == 0)
    }

    @Test func limitsBodySize() async throws {
        do {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/big"))
            Issue.record("a 3 MiB body passed a 1 MiB limit")
        } catch let error as TwinError {
            #expect(error.message == "\(server.url("/big")): body exceeds 1048576 bytes")
        }
    }

    @Test func timesOutOnSlowResponses() async throws {
        var configuration = Self.configuration()
        configuration.totalTimeout = .milliseconds(500)
        configuration.maximumRetries = 0
        do {
            _ = try await WebFetcher(configuration: configuration).fetch(server.url("/slow"))
            Issue.record("a 3 s response beat a 0.5 s timeout")
        } catch let error as TwinError {
            #expect(error.isTimeout, "\(error.message)")
        }
    }

    @Test func refusesNonTextContent() async throws {
        await #expect(throws: TwinError.invalidInput("\(server.url("/image")): non-text content (image/png) is not fetched")) {
            _ = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/image"))
        }
    }

    @Test func conditionalGetReturnsNotModified() async throws {
        let fetcher = WebFetcher(configuration: Self.configuration())
        let first = try await fetcher.fetch(server.url("/etag"))
        #expect(first.status == 200)
        #expect(first.validators == CacheValidators(etag: "\"v1\"", lastModified: "Tue, 14 Nov 2023 22:13:20 GMT"))
        let second = try await fetcher.fetch(server.url("/etag"), validators: first.validators)
        #expect(second.isNotModified)
        #expect(second.body.isEmpty)
    }

    @Test func decodesGzipResponses() async throws {
        let response = try await WebFetcher(configuration: Self.configuration()).fetch(server.url("/gzip"))
        #expect(String(decoding: response.body, as: UTF8.self).contains("served on loopback"))
        #expect(try await server.hits("gzip-sent") >= 1, "curl must advertise gzip")
    }

    @Test func reportsHTTPErrorsAndUnreachableHosts() async throws {
        let fetcher = WebFetcher(configuration: Self.configuration())
        await #expect(throws: TwinError.http("\(server.url("/not-found")): HTTP 404")) {
            _ = try await fetcher.fetch(server.url("/not-found"))
        }
        var configuration = Self.configuration()
        configuration.maximumRetries = 0
        // Port 9 on loopback: nothing listens, the connection is refused at once.
        do {
            _ = try await WebFetcher(configuration: configuration).fetch("http://127.0.0.1:9/")
            Issue.record("expected a connection failure")
        } catch let error as TwinError {
            #expect(error.message.contains("unreachable"), "\(error.message)")
        }
        // https to a plain-HTTP port: the handshake fails, which must read as a TLS failure.
        do {
            _ = try await fetcher.fetch("https://127.0.0.1:\(server.port)/page")
            Issue.record("expected a TLS failure")
        } catch let error as TwinError {
            #expect(error.message.contains("TLS failure"), "\(error.message)")
        }
        await #expect(throws: TwinError.invalidInput("invalid URL: \"http://exa mple.com\"")) {
            _ = try await fetcher.fetch("http://exa mple.com")
        }
    }

    @Test func spacesRequestsToOneHost() async throws {
        var configuration = Self.configuration()
        configuration.minimumDelayPerHost = .milliseconds(200)
        let fetcher = WebFetcher(configuration: configuration)
        _ = try await fetcher.fetch(server.url("/page"))  // robots.txt and the first page
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 { group.addTask { _ = try await fetcher.fetch(server.url("/page")) } }
            try await group.waitForAll()
        }
        #expect(clock.now - start >= .milliseconds(400), "three requests need two gaps of 200 ms")
    }

    @Test func cancellationStopsAFetch() async throws {
        var configuration = Self.configuration()
        configuration.maximumRetries = 0
        let fetcher = WebFetcher(configuration: configuration)
        _ = try await fetcher.fetch(server.url("/page"))  // warm the robots cache
        let task = Task { try await fetcher.fetch(server.url("/very-slow")) }
        try await Task.sleep(for: .milliseconds(300))
        let clock = ContinuousClock()
        let start = clock.now
        task.cancel()
        let result = await task.result
        // Uncancelled, the transfer would end with the server's answer at 20 s; the margin below that
        // absorbs a loaded test machine (a 2 s bound against a 3 s answer once failed at 2.35 s).
        #expect(clock.now - start < .seconds(10), "cancellation must abort the transfer")
        #expect(throws: (any Error).self) { try result.get() }
    }
}
