import ArgumentParser
import Core
import Foundation

/// `twin extract FILE [--url URL] [--json]`: runs the article extractor on a saved page (gzip accepted).
struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Extract title, metadata and main content from a saved HTML file (.html or .html.gz).")

    @Argument(help: "The saved page (HTML, optionally gzip-compressed).")
    var file: String

    @Option(help: "The page's address: selects site rules and resolves the canonical link.")
    var url: String?

    @Flag(help: "Print {title, subtitle, author, published, language, content} as JSON.")
    var json = false

    func run() throws {
        do {
            let pageURL = try url.map(Self.parseURL)
            let bytes = try Gzip.readPossiblyCompressed(path: file)
            let article: ExtractedArticle
            do {
                article = try HTMLExtractor().extract(html: bytes, url: pageURL)
            } catch let error as TwinError {
                throw TwinError.invalidInput("\(file): \(error.message)")
            }
            print(json ? try Self.json(article) : Self.readable(article))
        } catch let error as TwinError {
            var standardError = FileHandle.standardError
            print("twin extract: \(error.message)", to: &standardError)
            throw ExitCode(error.isNotFound ? 66 : 65)
        }
    }

    private static func parseURL(_ string: String) throws -> URL {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else { throw TwinError.invalidInput("--url: expected an http(s) address, got \"\(string)\"") }
        return url
    }

    /// The exact key set the CLI promises; absent values are JSON null.
    static func json(_ article: ExtractedArticle) throws -> String {
        let object: [String: Any] = [
            "title": article.title ?? NSNull(), "subtitle": article.subtitle ?? NSNull(),
            "author": article.author ?? NSNull(), "published": article.published ?? NSNull(),
            "language": article.language ?? NSNull(), "content": article.content,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    static func readable(_ article: ExtractedArticle) -> String {
        var lines: [String] = []
        lines.append("Title:     \(article.title ?? "-")")
        if let subtitle = article.subtitle { lines.append("Subtitle:  \(subtitle)") }
        lines.append("Author:    \(article.author ?? "-")")
        lines.append("Published: \(article.published ?? "-")")
        lines.append("Language:  \(article.language ?? "-")")
        if let canonical = article.canonicalURL { lines.append("Canonical: \(canonical)") }
        lines.append("")
        lines.append(article.content)
        return lines.joined(separator: "\n")
    }
}

extension FileHandle: @retroactive TextOutputStream {
    public func write(_ string: String) { write(Data(string.utf8)) }
}
