import Foundation

/// Renders a page with headless Chromium (`chromium --headless --dump-dom`) so that content built by
/// JavaScript can be extracted.
///
/// Chromium never chooses where to connect: `--host-resolver-rules` maps the page's host to the address
/// the fetcher already checked and connected to, and every other name (IP literals included) to
/// "not found", so neither a redirect, a script nor a subresource can reach another address. Proxies
/// from the environment are ignored. The browser runs in its own process group under a deadline
/// (`ChildProcess`), its DOM output is capped at the body size limit and its stderr goes into errors.
struct ChromiumRenderer: Sendable {
    let configuration: FetcherConfiguration

    /// The rendered DOM of `url`, whose host Chromium is pinned to `address`.
    func render(_ url: URL, pinnedTo address: IPAddress) async throws -> [UInt8] {
        guard let host = url.host?.lowercased(), !host.isEmpty else {
            throw TwinError.invalidInput("invalid URL: \"\(url.absoluteString)\" has no host")
        }
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("twin-chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let process = ChildProcess(
            executable: configuration.chromiumPath,
            arguments: Self.arguments(url: url, host: host, address: address, profile: profile.path,
                                      configuration: configuration),
            timeout: configuration.renderTimeout, maximumOutputBytes: configuration.maximumBodyBytes)
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await process.run()
        } catch {
            throw describe(error, url: url)
        }
        let problem = Self.loadFailure(in: outcome.errorOutput)
        guard outcome.exitStatus == 0, problem == nil, !outcome.output.isEmpty else {
            let status = outcome.exitStatus.map { "exit \($0)" } ?? "killed by a signal"
            let reason = problem ?? Self.summary(of: outcome.errorOutput) ?? "no DOM on standard output"
            throw TwinError.http("\(url.absoluteString): headless Chromium could not render the page (\(status)): \(reason)")
        }
        // The DOM keeps the page's own <meta charset>, but Chromium writes UTF-8 whatever it says: a
        // leading declaration makes the parser (which honours the first one) read it as UTF-8.
        return Array(#"<meta charset="utf-8">"#.utf8) + outcome.output
    }

    /// Chromium's command line; `internal` so tests can check the pinning rules.
    static func arguments(
        url: URL, host: String, address: IPAddress, profile: String, configuration: FetcherConfiguration
    ) -> [String] {
        let pinned: String = switch address {
        case .v4: address.description
        case .v6: "[\(address.description)]"
        }
        var arguments = [
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
            "--no-proxy-server",
            "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            "--host-resolver-rules=MAP \(host) \(pinned), MAP * ~NOTFOUND",
            "--user-data-dir=\(profile)",
            "--user-agent=\(configuration.userAgent)",
            "--virtual-time-budget=\(milliseconds(configuration.renderScriptBudget))",
            "--dump-dom",
        ]
        // Chromium's sandbox cannot start as root (CI containers): it refuses to run without this flag.
        if getuid() == 0 { arguments.insert("--no-sandbox", at: 1) }
        arguments.append(url.absoluteString)
        return arguments
    }

    private func describe(_ failure: ChildProcess.Failure, url: URL) -> TwinError {
        switch failure {
        case .cannotStart(let code) where code == ENOENT || code == EACCES || code == ENOTDIR:
            return TwinError.configuration(
                "headless Chromium is needed for \(url.host ?? url.absoluteString) (listed in crawl.javascript_domains / "
                    + "TWIN_CRAWL_JS_DOMAINS) but \"\(configuration.chromiumPath)\" cannot be run (\(String(cString: strerror(code)))): "
                    + "install the Debian package chromium (apt-get install chromium) or set crawl.chromium_path / "
                    + "TWIN_CRAWL_CHROMIUM to the browser's path")
        case .cannotStart(let code):
            return TwinError.io("cannot start headless Chromium \"\(configuration.chromiumPath)\": \(String(cString: strerror(code)))")
        case .timedOut(let errors):
            let detail = Self.summary(of: errors).map { ": \($0)" } ?? ""
            return TwinError.timeout(
                "\(url.absoluteString): headless Chromium did not finish within \(configuration.renderTimeout) "
                    + "and was killed\(detail)")
        case .outputTooLarge:
            return TwinError.invalidInput("\(url.absoluteString): rendered DOM exceeds \(configuration.maximumBodyBytes) bytes")
        case .cancelled:
            return TwinError.cancelled("\(url.absoluteString): render cancelled")
        }
    }

    /// `net::ERR_…` from "Page load failed: …", which headless Chromium reports with exit status 0.
    static func loadFailure(in errors: String) -> String? {
        errors.split(separator: "\n").first { $0.contains("Page load failed") }.map { line in
            let text = line.range(of: "Page load failed").map { String(line[$0.lowerBound...]) } ?? String(line)
            return text.trimmingCharacters(in: .whitespaces)
        }
    }

    /// The meaningful tail of Chromium's stderr: its D-Bus and wrapper-script noise is left out.
    static func summary(of errors: String) -> String? {
        let lines = errors.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { line in
            !line.isEmpty && !line.contains("dbus") && !line.contains("unexpected operator")
        }
        guard !lines.isEmpty else { return nil }
        return String(lines.suffix(3).joined(separator: " | ").prefix(600))
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
