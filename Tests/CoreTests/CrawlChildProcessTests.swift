import Foundation
import Synchronization
import Testing

@testable import Core

/// The child-process runner behind the Chromium renderer, with /bin/sh standing in for the browser.
@Suite("Crawl: child processes")
struct CrawlChildProcessTests {
    /// Records the pid `ChildProcess` reports.
    final class StartedPID: Sendable {
        let value = Mutex<pid_t>(0)
    }

    /// Processes whose process group is `group`, from /proc (zombies included).
    static func members(ofGroup group: pid_t) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // Fields after "(comm)": state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[2]) == group else { return nil }
            return "\(entry) \(fields[0])"
        }
    }

    @Test func capturesOutputErrorsAndTheExitStatus() async throws {
        let outcome = try await ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "printf dom; echo 'a problem' >&2; exit 3"], timeout: .seconds(20),
            maximumOutputBytes: 1024
        ).run()
        #expect(outcome.exitStatus == 3)
        #expect(outcome.output == Array("dom".utf8))
        #expect(outcome.errorOutput == "a problem\n")
    }

    @Test func aTimeoutKillsTheWholeGroupAndLeavesNoZombie() async throws {
        let started = StartedPID()
        let process = ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "echo starting >&2; sleep 60 & sleep 60; wait"],
            timeout: .milliseconds(500), maximumOutputBytes: 1024, onStart: { pid in started.value.withLock { $0 = pid } })
        await #expect(throws: ChildProcess.Failure.timedOut(errorOutput: "starting\n")) { try await process.run() }
        let pid = started.value.withLock { $0 }
        #expect(pid > 0)
        // SIGKILL is delivered at once, but the grandchild's exit may take a moment to show in /proc.
        var left = Self.members(ofGroup: pid)
        for _ in 0..<50 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(20))
            left = Self.members(ofGroup: pid)
        }
        #expect(left.isEmpty, "left in the process group: \(left)")
    }

    @Test func outputPastTheLimitStopsTheRun() async throws {
        let process = ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "head -c 100000 /dev/zero; sleep 60"], timeout: .seconds(20),
            maximumOutputBytes: 4096)
        await #expect(throws: ChildProcess.Failure.outputTooLarge) { try await process.run() }
    }

    @Test func aMissingExecutableCannotStart() async throws {
        let process = ChildProcess(
            executable: "/nonexistent/chromium", arguments: [], timeout: .seconds(5), maximumOutputBytes: 1024)
        await #expect(throws: ChildProcess.Failure.cannotStart(errno: ENOENT)) { try await process.run() }
    }
}
