import Foundation
import Testing

@testable import Core

/// The fetcher's pure parts: SSRF address ranges, robots.txt rules, politeness bookkeeping, Retry-After.
@Suite("Crawl: fetch policies")
struct CrawlFetchPolicyTests {
    @Test(arguments: [
        "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.1.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
        "fc00::1", "fd12:3456::1", "fe80::1", "fd00:ec2::254", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
    ])
    func refusesInternalAddresses(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressPolicy.refusal(for: address) != nil, "\(text) must be refused")
    }

    @Test(arguments: ["93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"])
    func allowsPublicAddresses(_ text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(AddressPolicy.refusal(for: address) == nil, "\(text) must be allowed")
    }

    @Test func metadataAndAllowListNaming() throws {
        #expect(AddressPolicy.refusal(for: try #require(IPAddress("169.254.169.254"))) == "cloud metadata address")
        #expect(AddressPolicy.refusal(for: try #require(IPAddress("fd00:ec2::254"))) == "cloud metadata address")
        #expect(IPAddress("example.com") == nil)
        let policy = AddressPolicy(allowedHosts: ["127.0.0.1", "LocalHost"])
        #expect(policy.isAllowListed(host: "127.0.0.1"))
        #expect(policy.isAllowListed(host: "localhost"))
        #expect(!policy.isAllowListed(host: "127.0.0.2"))
    }

    @Test func robotsGroupsAndLongestMatch() {
        let text = """
            # comment
            User-agent: Googlebot
            Disallow: /

            User-agent: *
            Disallow: /private
            Allow: /private/open
            Disallow: /*.pdf$
            Disallow:
            """
        let robots = RobotsTxt(parsing: text, productToken: "twin")
        #expect(robots.allows(path: "/"))
        #expect(robots.allows(path: "/blog/post"))
        #expect(!robots.allows(path: "/private"))
        #expect(!robots.allows(path: "/private/page?x=1"))
        #expect(robots.allows(path: "/private/open/doc"))
        #expect(!robots.allows(path: "/files/report.pdf"))
        #expect(robots.allows(path: "/files/report.pdf?download=1"))
    }

    @Test func robotsSpecificGroupWinsOverWildcard() {
        let text = "User-agent: *\nDisallow: /\n\nUser-agent: twin\nUser-agent: other\nDisallow: /drafts\n"
        let robots = RobotsTxt(parsing: text, productToken: "twin")
        #expect(robots.allows(path: "/posts/1"))
        #expect(!robots.allows(path: "/drafts/2"))
        #expect(!RobotsTxt(parsing: text, productToken: "somebot").allows(path: "/posts/1"))
        #expect(!RobotsTxt.disallowAll.allows(path: "/x"))
        #expect(RobotsTxt.allowAll.allows(path: "/x"))
    }

    @Test func politenessLimitsConcurrencyAndSpacing() {
        var state = PolitenessState(maximumConcurrency: 2, minimumDelay: .milliseconds(100))
        let start = ContinuousClock.now
        #expect(state.acquire("a", now: start) == nil)
        #expect(state.acquire("a", now: start + .milliseconds(40)) == .milliseconds(60))
        #expect(state.acquire("b", now: start + .milliseconds(40)) == nil)  // other hosts are independent
        #expect(state.acquire("a", now: start + .milliseconds(100)) == nil)
        #expect(state.inFlight("a") == 2)
        #expect(state.acquire("a", now: start + .milliseconds(500)) != nil)  // both slots taken
        state.release("a")
        #expect(state.acquire("a", now: start + .milliseconds(500)) == nil)
    }

    @Test func retryAfterParsing() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(WebFetcher.parseRetryAfter("7", now: now) == .seconds(7))
        #expect(WebFetcher.parseRetryAfter("Tue, 14 Nov 2023 22:13:50 GMT", now: now) == .seconds(30))
        #expect(WebFetcher.parseRetryAfter("soon", now: now) == nil)
    }

    @Test func urlValidation() {
        #expect(throws: TwinError.invalidInput("unsupported URL scheme \"ftp\" in ftp://example.com/x: only http and https")) {
            try WebFetcher.validate(URL(string: "ftp://example.com/x")!)
        }
        #expect(throws: TwinError.invalidInput("invalid URL: \"/relative/path\" has no scheme")) {
            try WebFetcher.validate(URL(string: "/relative/path")!)
        }
        #expect(throws: TwinError.invalidInput("invalid URL: \"http:///nohost\" has no host")) {
            try WebFetcher.validate(URL(string: "http:///nohost")!)
        }
    }
}
