import CCurl
import Foundation

/// A minimal S3 client (PUT, GET, create bucket) over libcurl with SigV4, path-style addressing, so it
/// works with any S3-compatible store (AWS, MinIO, moto, Ceph).
public struct S3Client: Sendable {
    public let endpoint: URL
    public let bucket: String
    public let signer: SigV4

    public init(endpoint: URL, bucket: String, signer: SigV4) {
        self.endpoint = endpoint; self.bucket = bucket; self.signer = signer
    }

    /// One HTTP exchange.
    struct Response { let status: Int; let body: [UInt8] }

    final class Sink {
        var body: [UInt8] = []
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    func perform(method: String, path: String, body: [UInt8] = []) throws -> Response {
        _ = Self.globalInit
        guard let host = endpoint.host else { throw TwinError.configuration("TWIN_S3_ENDPOINT: no host in \(endpoint)") }
        let hostHeader = endpoint.port.map { "\(host):\($0)" } ?? host
        let basePath = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
        let fullPath = basePath + path
        let headers = signer.sign(method: method, host: hostHeader, path: fullPath, payloadHash: SHA256.hash(body).hexString, date: Date())
        guard let easy = curl_easy_init() else { throw TwinError.http("s3: cannot create a curl handle") }
        defer { curl_easy_cleanup(easy) }
        var list: UnsafeMutablePointer<curl_slist>?
        for (k, v) in headers where k != "host" { list = curl_slist_append(list, "\(k): \(v)") }
        list = curl_slist_append(list, "Expect:")
        // curl labels POSTFIELDS bodies as form data, which some servers then decode: say what it is.
        list = curl_slist_append(list, "Content-Type: application/octet-stream")
        defer { curl_slist_free_all(list) }
        let url = "\(endpoint.scheme ?? "http")://\(hostHeader)\(SigV4.encode(fullPath, keepSlash: true))"
        let sink = Sink()
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        _ = ccurl_setopt_string(easy, CURLOPT_URL, url)
        _ = ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000)
        _ = ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, 60000)
        _ = ccurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method)
        _ = ccurl_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        _ = ccurl_setopt_write_function(easy, { data, size, count, user in
            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            data.map { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: $0, count: n)) }
            return n
        }, box.toOpaque())
        // Never empty, so the body pointer handed to curl is always a real, live allocation.
        var bodyCopy = body.isEmpty ? [0] : body
        let bodySize = body.count
        let code: CURLcode = bodyCopy.withUnsafeMutableBytes { raw in
            if method == "PUT" {
                _ = ccurl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, bodySize)
                _ = ccurl_setopt_pointer(easy, CURLOPT_POSTFIELDS, raw.baseAddress)
            }
            return curl_easy_perform(easy)
        }
        guard code == CURLE_OK else {
            throw TwinError.http("s3 \(method) \(url): \(String(cString: curl_easy_strerror(code)))")
        }
        var status = 0
        _ = ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return Response(status: status, body: sink.body)
    }

    /// Stores an object. - Throws: ``TwinError/http(_:)`` with the store's answer.
    public func put(key: String, _ bytes: [UInt8]) throws {
        let r = try perform(method: "PUT", path: "/\(bucket)/\(key)", body: bytes)
        guard (200..<300).contains(r.status) else { throw TwinError.http("s3 PUT \(bucket)/\(key): HTTP \(r.status): \(String(decoding: r.body.prefix(300), as: UTF8.self))") }
    }

    /// Reads an object. - Throws: ``TwinError/notFound(_:)`` on 404.
    public func get(key: String) throws -> [UInt8] {
        let r = try perform(method: "GET", path: "/\(bucket)/\(key)")
        if r.status == 404 { throw TwinError.notFound("s3 object \(bucket)/\(key) not found") }
        guard (200..<300).contains(r.status) else { throw TwinError.http("s3 GET \(bucket)/\(key): HTTP \(r.status)") }
        return r.body
    }

    /// Creates the bucket if it does not exist.
    public func ensureBucket() throws {
        let r = try perform(method: "PUT", path: "/\(bucket)")
        guard (200..<300).contains(r.status) || r.status == 409 else {
            throw TwinError.http("s3 create bucket \(bucket): HTTP \(r.status): \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
    }
}
