import Foundation

/// Content-addressed blobs for artifacts too large to keep in Postgres, named by the SHA-256 of their
/// bytes, so writing the same content twice is harmless and needs no lock.
public protocol BlobStore: Sendable {
    /// Stores `bytes`; returns its uri and SHA-256.
    func put(_ bytes: [UInt8]) throws -> (uri: String, sha256: String)
    /// The bytes behind a uri this store returned, checked against their address.
    func get(_ uri: String) throws -> [UInt8]
}

/// An S3-compatible bucket as a blob store (`s3://bucket/<sha256>`).
public struct S3ObjectStore: BlobStore {
    public let client: S3Client

    public init(client: S3Client) {
        self.client = client
    }

    public func put(_ bytes: [UInt8]) throws -> (uri: String, sha256: String) {
        let sha = SHA256.hash(bytes).hexString
        try client.put(key: sha, bytes)
        return ("s3://\(client.bucket)/\(sha)", sha)
    }

    public func get(_ uri: String) throws -> [UInt8] {
        let prefix = "s3://\(client.bucket)/"
        guard uri.hasPrefix(prefix) else { throw TwinError.invalidInput("not an object of bucket \(client.bucket): \(uri)") }
        let sha = String(uri.dropFirst(prefix.count))
        let bytes = try client.get(key: sha)
        guard SHA256.hash(bytes).hexString == sha else { throw TwinError.io("object \(uri) is corrupt") }
        return bytes
    }
}

/// A local folder as a blob store (`object://<sha256>`).
public struct ObjectStore: BlobStore {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Stores `bytes` and returns `(uri, sha256)`; the uri is `object://<sha256>`.
    public func put(_ bytes: [UInt8]) throws -> (uri: String, sha256: String) {
        let sha = SHA256.hash(bytes).hexString
        let dir = "\(directory)/\(sha.prefix(2))"
        let path = "\(dir)/\(sha)"
        if !FileManager.default.fileExists(atPath: path) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let tmp = "\(path).\(UUIDv7.make()).tmp"
                try Data(bytes).write(to: URL(fileURLWithPath: tmp))
                try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.moveItem(atPath: tmp, toPath: path)   // atomic: readers never see half a file
            } catch {
                throw TwinError.io("object store \(directory): cannot write \(sha): \(error.localizedDescription)")
            }
        }
        return ("object://\(sha)", sha)
    }

    /// The bytes behind an `object://` uri, checked against their address.
    public func get(_ uri: String) throws -> [UInt8] {
        guard uri.hasPrefix("object://") else { throw TwinError.invalidInput("not an object uri: \(uri)") }
        let sha = String(uri.dropFirst("object://".count))
        let path = "\(directory)/\(sha.prefix(2))/\(sha)"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TwinError.notFound("object \(sha) is missing from \(directory)")
        }
        let bytes = [UInt8](data)
        guard SHA256.hash(bytes).hexString == sha else { throw TwinError.io("object \(sha) in \(directory) is corrupt") }
        return bytes
    }
}
