import Foundation
import Testing

@testable import Core

@Suite("Crawl: gzip")
struct CrawlGzipTests {
    /// `printf '<p>hello gzip</p>' | gzip -n` (made once with gzip 1.12).
    static let helloGzip: [UInt8] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xb3, 0x29, 0xb0, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x57, 0x48, 0xaf, 0xca, 0x2c, 0xb0, 0xd1, 0x2f, 0xb0, 0x03, 0x00, 0xaf, 0x82, 0xc9, 0xc1, 0x11, 0x00, 0x00,
        0x00,
    ]

    @Test func decompressesGzip() throws {
        #expect(Gzip.isCompressed(Self.helloGzip))
        #expect(try Gzip.decompress(Self.helloGzip) == Array("<p>hello gzip</p>".utf8))
    }

    @Test func rejectsTruncatedCorruptAndOversizedData() {
        #expect(throws: TwinError.invalidInput("invalid gzip: the data is truncated")) {
            try Gzip.decompress(Array(Self.helloGzip.prefix(20)))
        }
        var corrupt = Self.helloGzip
        corrupt[12] ^= 0xff
        corrupt[13] ^= 0xff
        #expect(throws: (any Error).self) { try Gzip.decompress(corrupt) }
        #expect(throws: TwinError.invalidInput("invalid gzip: decompressed size exceeds 5 bytes")) {
            try Gzip.decompress(Self.helloGzip, maximumSize: 5)
        }
    }

    @Test func readsFilesWithClearErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("twin-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let compressed = folder.appendingPathComponent("page.html.gz").path
        let plain = folder.appendingPathComponent("page.html").path
        let fake = folder.appendingPathComponent("fake.html.gz").path
        #expect(FileManager.default.createFile(atPath: compressed, contents: Data(Self.helloGzip)))
        #expect(FileManager.default.createFile(atPath: plain, contents: Data("<p>plain</p>".utf8)))
        #expect(FileManager.default.createFile(atPath: fake, contents: Data("<p>not gzip</p>".utf8)))
        #expect(try Gzip.readPossiblyCompressed(path: compressed) == Array("<p>hello gzip</p>".utf8))
        #expect(try Gzip.readPossiblyCompressed(path: plain) == Array("<p>plain</p>".utf8))
        #expect(throws: TwinError.invalidInput("\(fake): invalid gzip: missing gzip header")) {
            try Gzip.readPossiblyCompressed(path: fake)
        }
        #expect(throws: TwinError.notFound("\(folder.path)/missing.html: no such file")) {
            try Gzip.readPossiblyCompressed(path: folder.path + "/missing.html")
        }
    }
}
