import Foundation

@testable import Core

/// A loopback HTTP server for the fetcher tests: python3's http.server running a script of canned routes.
///
/// It binds 127.0.0.1 on a free port and exits when this process closes its stdin (i.e. when the test
/// process ends). Redirect targets that leave 127.0.0.1 stay on loopback (127.0.0.2, localhost) or use
/// literal addresses the guard refuses before any connection, so no test ever reaches another machine.
final class CrawlTestHTTPServer: Sendable {
    /// The shared server, started on first use.
    static let shared: CrawlTestHTTPServer = {
        do { return try CrawlTestHTTPServer() } catch { fatalError("cannot start the test HTTP server: \(error)") }
    }()

    let port: Int
    private let process: Process
    private let input: Pipe

    private init() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("twin-crawl-server-\(getpid()).py")
        try Self.script.write(to: script, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // The script prints its port once bound; a blocking read is fine here, once per test process.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        self.port = port
    }

    /// `http://127.0.0.1:<port><path>`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// How many times the server was asked for `path` (read through an unthrottled fetcher).
    func hits(_ path: String) async throws -> Int {
        var configuration = FetcherConfiguration()
        configuration.addressPolicy = AddressPolicy(allowedHosts: ["127.0.0.1"])
        configuration.obeyRobotsTxt = false
        configuration.minimumDelayPerHost = .zero
        let data = try await WebFetcher(configuration: configuration).fetch(url("/hits")).body
        let counts = try JSONSerialization.jsonObject(with: Data(data)) as? [String: Int] ?? [:]
        return counts[path] ?? 0
    }

    static let script = #"""
        import gzip, json, os, sys, threading, time
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

        hits = {}
        lock = threading.Lock()
        PAGE = (b"<html><head><title>Loopback page</title></head><body><article><p>This page is served on loopback "
                b"for the fetcher tests, with enough words, commas, and sentences to count as an article.</p>"
                b"</article></body></html>")

        JS_PAGE = (b"<html><head><title>Rendered by script</title></head><body><nav><a href='/'>Home</a></nav>"
                   b"<div id='root'></div><script>document.getElementById('root').innerHTML = '<article><h1>Rendered"
                   b" by script</h1><p>This sentence was inserted by JavaScript after the page loaded, with enough "
                   b"words, commas, and clauses to count as the body of an article on any site.</p><p>A second "
                   b"paragraph, also written by the script, keeps the article long enough for the extractor.</p>"
                   b"</article>';PROBES</script></body></html>")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body=b"", ctype="text/html; charset=utf-8", headers=()):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def redirect(self, status, location):
                self.send(status, b"", headers=[("Location", location)])

            def do_GET(self):
                path = self.path
                with lock:
                    hits[path] = hits.get(path, 0) + 1
                    count = hits[path]
                port = self.server.server_address[1]
                route, _, query = path.partition("?")
                if route == "/js-article":
                    # The article body exists only once the script has run (a JavaScript-built page).
                    return self.send(200, JS_PAGE.replace(b"PROBES", b""))
                if route == "/js-probe":
                    # Also tries to reach 127.0.0.1 by IP literal from the page's script and an image.
                    probes = ("fetch('http://127.0.0.1:%d/ssrf-probe?%s').catch(function(){});"
                              "new Image().src = 'http://127.0.0.1:%d/ssrf-probe-img?%s';" % (port, query, port, query))
                    return self.send(200, JS_PAGE.replace(b"PROBES", probes.encode()))
                if route == "/js-large":
                    return self.send(200, b"<html><body><div id='root'></div><script>document.getElementById('root')"
                                          b".innerHTML = '<p>' + 'word '.repeat(4000) + '</p>';</script></body></html>")
                if route == "/js-hang":
                    # Loads fast for curl, but the browser waits for a script that never comes.
                    return self.send(200, b"<html><body><p>Waiting.</p><script src='/never-script'></script></body></html>")
                if route.startswith("/never-script"):  # also git's /never-script/info/refs
                    time.sleep(30)
                    return self.send(200, b"", "application/javascript")
                if route in ("/ssrf-probe", "/ssrf-probe-img"):
                    return self.send(200, b"probe", "text/plain")
                if path == "/hits":
                    with lock:
                        return self.send(200, json.dumps(hits).encode(), "application/json")
                if path == "/robots.txt":
                    return self.send(200, b"User-agent: *\nDisallow: /private\n", "text/plain")
                if path == "/page":
                    return self.send(200, PAGE)
                if path == "/agent":
                    return self.send(200, self.headers.get("User-Agent", "").encode(), "text/plain")
                if path == "/redirect-chain":
                    return self.redirect(302, "/redirect-two")
                if path == "/redirect-two":
                    return self.redirect(301, "http://127.0.0.1:%d/page" % port)
                if path == "/redirect-loop":
                    return self.redirect(302, "/redirect-loop")
                if path == "/redirect-loopback-alias":
                    return self.redirect(302, "http://127.0.0.2:%d/page" % port)
                if path == "/redirect-localhost":
                    return self.redirect(302, "http://localhost:%d/page" % port)
                if path == "/redirect-metadata":
                    return self.redirect(302, "http://169.254.169.254/latest/meta-data/")
                if path == "/redirect-private":
                    return self.redirect(307, "http://10.0.0.1/admin")
                if path == "/redirect-ftp":
                    return self.redirect(302, "ftp://127.0.0.1/file")
                if path == "/redirect-private-path":
                    return self.redirect(302, "/private/secret")
                if path == "/flaky-429":
                    if count == 1:
                        return self.send(429, b"slow down", headers=[("Retry-After", "1")])
                    return self.send(200, PAGE)
                if path == "/flaky-503":
                    if count <= 2:
                        return self.send(503, b"busy", headers=[("Retry-After", "0")])
                    return self.send(200, PAGE)
                if path == "/always-503":
                    return self.send(503, b"down")
                if path == "/retry-after-long":
                    return self.send(429, b"later", headers=[("Retry-After", "3600")])
                if path == "/not-found":
                    return self.send(404, b"no such page")
                if path.startswith("/private"):
                    return self.send(200, b"<p>secret</p>")
                if path == "/big":
                    return self.send(200, b"<p>" + b"x" * (3 * 1024 * 1024) + b"</p>")
                if path == "/slow":
                    time.sleep(3)
                    return self.send(200, PAGE)
                if path == "/very-slow":
                    time.sleep(20)
                    return self.send(200, PAGE)
                if path == "/image":
                    return self.send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")
                if path == "/etag":
                    if self.headers.get("If-None-Match") == '"v1"':
                        return self.send(304, b"", ctype=None, headers=[("ETag", '"v1"')])
                    return self.send(200, PAGE, headers=[("ETag", '"v1"'),
                                                         ("Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT")])
                if path == "/gzip":
                    accepted = "gzip" in self.headers.get("Accept-Encoding", "")
                    with lock:
                        hits["gzip-sent"] = hits.get("gzip-sent", 0) + (1 if accepted else 0)
                    if accepted:
                        return self.send(200, gzip.compress(PAGE), headers=[("Content-Encoding", "gzip")])
                    return self.send(200, PAGE)
                return self.send(404, b"unknown route")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        sys.stdin.read()  # returns when the test process exits and closes the pipe
        os._exit(0)
        """#
}
