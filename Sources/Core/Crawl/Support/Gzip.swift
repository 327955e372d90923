import CCurl
import Foundation

/// gzip decoding for saved pages (`.html.gz`) and the extraction benchmark's data set.
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Decompresses a gzip stream; throws `invalidInput` for corrupt or truncated data or output over
    /// `maximumSize` bytes (a guard against decompression bombs).
    public static func decompress(_ bytes: [UInt8], maximumSize: Int = 256 << 20) throws -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let status = bytes.withUnsafeBufferPointer { buffer in
            ccurl_gunzip(buffer.baseAddress, buffer.count, maximumSize, &output, &length)
        }
        switch status {
        case 0:
            defer { free(output) }
            guard let output else { return [] }
            return Array(UnsafeBufferPointer(start: output, count: length))
        case -2: throw TwinError.invalidInput("invalid gzip: decompressed size exceeds \(maximumSize) bytes")
        case -3: throw TwinError.io("gzip: out of memory")
        case -4: throw TwinError.invalidInput("invalid gzip: the data is truncated")
        default: throw TwinError.invalidInput("invalid gzip: the data is corrupt")
        }
    }

    /// The bytes of `path`, decompressed when they are gzip; errors name the file.
    public static func readPossiblyCompressed(path: String) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw TwinError.notFound("\(path): no such file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TwinError.io("\(path): cannot read the file")
        }
        let bytes = [UInt8](data)
        guard isCompressed(bytes) else {
            if path.hasSuffix(".gz") { throw TwinError.invalidInput("\(path): invalid gzip: missing gzip header") }
            return bytes
        }
        do {
            return try decompress(bytes)
        } catch let error as TwinError where error.isInvalidInput {
            throw TwinError.invalidInput("\(path): \(error.message)")
        }
    }
}
