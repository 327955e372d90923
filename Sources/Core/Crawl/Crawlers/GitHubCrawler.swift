import Foundation

/// Crawls a GitHub repository with a shallow `git clone` and keeps its text files as written.
///
/// Skipped: `.git`, vendored and generated folders, lock files, binaries (NUL bytes or invalid UTF-8),
/// symbolic links and files over `maximumFileBytes`. `git` runs as a child process waited for on a
/// dedicated queue, never on Swift's cooperative pool.
public struct GitHubCrawler: Crawler {
    /// Limits of one crawl.
    public struct Limits: Sendable, Equatable {
        /// Files larger than this are skipped.
        public var maximumFileBytes = 256 << 10
        /// The crawl stops adding files past this total.
        public var maximumTotalBytes = 32 << 20
        /// `git clone` is killed after this long.
        public var cloneTimeout: Duration = .seconds(120)

        public init() {}
    }

    /// Limits of one crawl.
    public var limits: Limits

    /// Creates a crawler.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Crawls `https://github.com/<owner>/<repo>[/…]`.
    public func crawl(_ url: URL) async throws -> CrawledDocument {
        let parts = url.path.split(separator: "/").map(String.init)
        guard url.scheme?.lowercased() == "https", url.host?.lowercased() == "github.com", parts.count >= 2 else {
            throw TwinError.invalidInput("\(url.absoluteString): expected https://github.com/<owner>/<repository>")
        }
        let repository = parts[1].hasSuffix(".git") ? String(parts[1].dropLast(4)) : parts[1]
        let name = "\(parts[0])/\(repository)"
        return try await crawl(cloneURL: "https://github.com/\(name).git", link: "https://github.com/\(name)", name: name)
    }

    /// Clones `cloneURL` (any URL git accepts; tests pass a local `file://` repository) and reads it.
    public func crawl(cloneURL: String, link: String, name: String) async throws -> CrawledDocument {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("twin-clone-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.runGit(
            ["clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet", "--", cloneURL, folder.path],
            timeout: limits.cloneTimeout, describing: cloneURL)
        let files = try RepositoryReader(limits: limits).read(root: folder)
        return CrawledDocument(kind: .repository, platform: "github", link: link, name: name, content: files)
    }

    /// Runs git through `ChildProcess`: its own process group, so a timeout also kills the helpers git
    /// starts (`git-remote-https`, `index-pack`), and a clean signal mask, so the kill is not blocked.
    private static func runGit(_ arguments: [String], timeout: Duration, describing source: String) async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"  // never wait for credentials on a private repository
        environment["GIT_LFS_SKIP_SMUDGE"] = "1"
        let process = ChildProcess(
            executable: "git", arguments: arguments, timeout: timeout, maximumOutputBytes: 1 << 20,
            environment: environment)
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await process.run()
        } catch {
            switch error {
            case .cannotStart(let code):
                throw TwinError.io("cannot run git: \(String(cString: strerror(code))) (install the git package)")
            case .timedOut:
                throw TwinError.timeout("git clone of \(source) did not finish within \(timeout)")
            case .outputTooLarge:
                throw TwinError.io("git clone of \(source) wrote more than 1 MiB to standard output")
            case .cancelled:
                throw CancellationError()
            }
        }
        guard outcome.exitStatus == 0 else {
            let message = outcome.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            let status = outcome.exitStatus.map { "exit \($0)" } ?? "killed by a signal"
            let reason = message.split(separator: "\n").last.map(String.init) ?? status
            throw TwinError.io("git clone of \(source) failed: \(reason)")
        }
    }
}

/// Reads the text files of a checked-out repository into `relative path → text`.
struct RepositoryReader {
    let limits: GitHubCrawler.Limits

    /// Folders never read: version control, dependencies, build output, editor state.
    static let skippedFolders: Set<String> = [
        ".git", ".hg", ".svn", "node_modules", "vendor", "vendors", "third_party", "third-party", "bower_components",
        "dist", "build", ".build", "target", "out", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
        ".pytest_cache", ".idea", ".vscode", ".next", ".nuxt", "coverage", "Pods", "Carthage", ".gradle",
        "generated", ".terraform", "site-packages",
    ]

    /// Lock files: generated, long, useless as writing samples.
    static let skippedFiles: Set<String> = [
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "Gemfile.lock", "poetry.lock", "Pipfile.lock",
        "composer.lock", "go.sum", "Package.resolved", "uv.lock", "bun.lockb", "flake.lock", "mix.lock", "pubspec.lock",
    ]

    /// Extensions of binary or generated files, skipped without reading.
    static let skippedExtensions: Set<String> = [
        "png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "svgz", "pdf", "zip", "gz", "tgz", "bz2", "xz", "7z", "rar",
        "jar", "war", "class", "so", "dylib", "dll", "exe", "o", "a", "bin", "dat", "db", "sqlite", "woff", "woff2",
        "ttf", "otf", "eot", "mp3", "mp4", "wav", "avi", "mov", "webm", "pyc", "pyo", "lock", "pkl", "pt", "onnx",
        "safetensors", "gguf", "parquet", "npy", "npz", "h5", "wasm",
    ]

    func read(root: URL) throws -> [String: String] {
        var files: [String: String] = [:]
        var total = 0
        let rootPath = root.standardizedFileURL.path
        try visit(URL(fileURLWithPath: rootPath), relative: "", files: &files, total: &total)
        return files
    }

    private func visit(_ folder: URL, relative: String, files: inout [String: String], total: inout Int) throws {
        let manager = FileManager.default
        let entries = try manager.contentsOfDirectory(atPath: folder.path).sorted()
        for entry in entries {
            let path = folder.appendingPathComponent(entry).path
            let relativePath = relative.isEmpty ? entry : relative + "/" + entry
            let attributes = try manager.attributesOfItem(atPath: path)
            let type = attributes[.type] as? FileAttributeType
            if type == .typeDirectory {
                guard !Self.skippedFolders.contains(entry) else { continue }
                try visit(URL(fileURLWithPath: path), relative: relativePath, files: &files, total: &total)
                continue
            }
            // Symbolic links could point outside the clone: never followed.
            guard type == .typeRegular else { continue }
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            guard size <= limits.maximumFileBytes, total + size <= limits.maximumTotalBytes else { continue }
            guard !Self.skippedFiles.contains(entry), !entry.hasSuffix(".min.js"), !entry.hasSuffix(".min.css") else {
                continue
            }
            let pathExtension = (entry as NSString).pathExtension.lowercased()
            guard !Self.skippedExtensions.contains(pathExtension) else { continue }
            guard let data = manager.contents(atPath: path), let text = Self.text(data) else { continue }
            files[relativePath] = text
            total += size
        }
    }

    /// The file as UTF-8 text, or `nil` for binary content.
    static func text(_ data: Data) -> String? {
        if data.prefix(8192).contains(0) { return nil }
        return String(validating: data, as: UTF8.self)
    }
}
