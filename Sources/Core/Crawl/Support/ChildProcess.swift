import Foundation
import Synchronization

/// Runs a helper program (headless Chromium, git) in its own process group with a deadline and an output cap.
///
/// `Foundation.Process` can only signal the direct child; Chromium forks a zygote, renderers and a GPU
/// process, so a timeout must kill the whole group (`kill(-pgid, SIGKILL)`) and then reap the child, or
/// orphans and zombies pile up. The child also starts with default signal dispositions and an empty
/// mask: `Foundation.Process` children started from a pool thread inherit its blocked signals, so a
/// SIGTERM to them stays pending forever. Output is read with `poll` on a GCD thread, never on the cooperative pool.
struct ChildProcess: Sendable {
    /// How a run ended.
    struct Outcome: Sendable {
        /// The exit status, or `nil` when the process was killed by a signal.
        var exitStatus: Int32?
        /// Everything written to standard output (at most `maximumOutputBytes`).
        var output: [UInt8]
        /// The last `maximumErrorBytes` written to standard error.
        var errorOutput: String
    }

    /// Why a run did not produce an outcome.
    enum Failure: Error, Equatable {
        /// The executable was not found or is not executable (`errno` from `posix_spawnp`).
        case cannotStart(errno: Int32)
        /// The deadline passed; the process group was killed. Holds standard error so far.
        case timedOut(errorOutput: String)
        /// Standard output grew past the limit; the process group was killed.
        case outputTooLarge
        /// The task was cancelled; the process group was killed.
        case cancelled
    }

    /// The program (a path, or a name looked up on `PATH`) and its arguments (without argv[0]).
    var executable: String
    var arguments: [String]
    /// Killed after this long.
    var timeout: Duration
    /// Standard output beyond this size kills the run.
    var maximumOutputBytes: Int
    /// Standard error kept for messages (the tail).
    var maximumErrorBytes = 16 << 10
    /// The child's environment; `nil` passes this process's own.
    var environment: [String: String]? = nil
    /// Called with the child's pid (also its process group id) once it runs; tests use it.
    var onStart: (@Sendable (pid_t) -> Void)? = nil

    private static let queue = DispatchQueue(label: "twin.child-process", qos: .utility, attributes: .concurrent)

    /// Runs the program to completion (or kills it) on the GCD queue; cancelling the task kills it.
    func run() async throws(Failure) -> Outcome {
        let cancelled = CancellationFlag()
        let result: Result<Outcome, Failure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Self.queue.async {
                    continuation.resume(returning: Result { () throws(Failure) in try self.runBlocking(cancelled) })
                }
            }
        } onCancel: {
            cancelled.set()
        }
        return try result.get()
    }

    /// A flag the cancellation handler sets and the polling loop reads.
    final class CancellationFlag: Sendable {
        private let value = Atomic<Bool>(false)
        func set() { value.store(true, ordering: .relaxed) }
        var isSet: Bool { value.load(ordering: .relaxed) }
    }

    private func runBlocking(_ cancelled: CancellationFlag) throws(Failure) -> Outcome {
        var outputPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        guard Self.makePipe(&outputPipe) else { throw .cannotStart(errno: errno) }
        guard Self.makePipe(&errorPipe) else {
            close(outputPipe[0]); close(outputPipe[1])
            throw .cannotStart(errno: errno)
        }
        let pid: pid_t
        do {
            pid = try spawn(stdout: outputPipe[1], stderr: errorPipe[1])
        } catch {
            for fd in outputPipe + errorPipe { close(fd) }
            throw error
        }
        close(outputPipe[1])
        close(errorPipe[1])
        onStart?(pid)
        defer {
            close(outputPipe[0])
            close(errorPipe[0])
        }

        let deadline = ContinuousClock.now + timeout
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var openDescriptors: Set<Int32> = [outputPipe[0], errorPipe[0]]
        var failure: Failure?
        var reapedStatus: Int32?
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while !openDescriptors.isEmpty {
            if cancelled.isSet { failure = .cancelled; break }
            let remaining = deadline - .now
            if remaining <= .zero { failure = .timedOut(errorOutput: Self.text(errors)); break }
            var descriptors = openDescriptors.sorted().map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // Short slices so cancellation is noticed promptly even when the child is silent.
            let slice = min(Int32(100), Int32(max(1, remaining.components.seconds * 1000
                + remaining.components.attoseconds / 1_000_000_000_000_000)))
            let ready = poll(&descriptors, nfds_t(descriptors.count), slice)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                // Nothing to read: if the child already exited, a helper it left behind may hold the
                // pipes open, so stop here instead of waiting for end-of-file until the deadline.
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    reapedStatus = status
                    break
                }
                continue
            }
            if ready < 0 { continue }
            for descriptor in descriptors where descriptor.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(descriptor.fd, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if count <= 0 {
                    openDescriptors.remove(descriptor.fd)
                    continue
                }
                if descriptor.fd == outputPipe[0] {
                    output.append(contentsOf: buffer[0..<count])
                    if output.count > maximumOutputBytes { failure = .outputTooLarge }
                } else {
                    errors.append(contentsOf: buffer[0..<count])
                    if errors.count > 2 * maximumErrorBytes { errors.removeFirst(errors.count - maximumErrorBytes) }
                }
            }
            if failure != nil { break }
        }
        // Kill the whole group either way: a finished browser can leave helpers behind, and a killed
        // one certainly does. Then reap the child so it never lingers as a zombie.
        kill(-pid, SIGKILL)
        var status: Int32 = reapedStatus ?? 0
        if reapedStatus == nil {
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        if let failure { throw failure }
        let exited = status & 0x7f == 0
        return Outcome(
            exitStatus: exited ? (status >> 8) & 0xff : nil, output: output,
            errorOutput: Self.text(errors.suffix(maximumErrorBytes)))
    }

    /// `posix_spawnp` into a new process group, with default signal dispositions and an empty mask
    /// (a worker may ignore or block signals; the child must not inherit that).
    private func spawn(stdout: Int32, stderr: Int32) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { for pointer in argv { free(pointer) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let code = (argv + [nil]).withUnsafeBufferPointer { arguments in
            guard let envp else {
                return posix_spawnp(&pid, executable, &actions, &attributes, arguments.baseAddress!, environ)
            }
            return (envp + [nil]).withUnsafeBufferPointer { variables in
                posix_spawnp(&pid, executable, &actions, &attributes, arguments.baseAddress!, variables.baseAddress!)
            }
        }
        guard code == 0 else { throw .cannotStart(errno: code) }
        return pid
    }

    /// A pipe whose ends are not inherited by other children (`pipe2` is not visible from Swift's Glibc).
    private static func makePipe(_ ends: inout [Int32]) -> Bool {
        guard pipe(&ends) == 0 else { return false }
        for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    private static func text<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(decoding: Array(bytes), as: UTF8.self)
    }
}
