import Foundation

/// AWS Signature Version 4 for S3-compatible stores (path-style requests, signed payload hash).
public struct SigV4: Sendable {
    public let accessKey: String
    public let secretKey: String
    public let region: String
    public let service: String

    public init(accessKey: String, secretKey: String, region: String, service: String = "s3") {
        self.accessKey = accessKey; self.secretKey = secretKey; self.region = region; self.service = service
    }

    /// `20130524T000000Z`.
    public static func amzDate(_ date: Date) -> String {
        let iso = Clock.iso(date)   // 2013-05-24T00:00:00.000000Z
        return iso.prefix(19).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z"
    }

    /// RFC 3986 encoding as SigV4 wants it (`/` kept in paths).
    public static func encode(_ s: String, keepSlash: Bool) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(UnicodeScalar(b))
            if (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || "-_.~".contains(c) || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// The headers to send (including `Authorization`) for a request.
    ///
    /// - Parameters:
    ///   - headers: headers to sign besides host, x-amz-date and x-amz-content-sha256 (lowercase names).
    ///   - payloadHash: hex SHA-256 of the body.
    public func sign(method: String, host: String, path: String, query: [(String, String)] = [], headers: [String: String] = [:],
                     payloadHash: String, date: Date) -> [String: String] {
        let amz = Self.amzDate(date)
        let day = String(amz.prefix(8))
        var all = headers
        all["host"] = host
        all["x-amz-date"] = amz
        all["x-amz-content-sha256"] = payloadHash
        let names = all.keys.map { $0.lowercased() }.sorted()
        let canonicalHeaders = names.map { "\($0):\(all[$0]!.trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalQuery = query.map { (Self.encode($0.0, keepSlash: false), Self.encode($0.1, keepSlash: false)) }
            .sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalRequest = [method, Self.encode(path, keepSlash: true), canonicalQuery, canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amz, scope, SHA256.hex(canonicalRequest)].joined(separator: "\n")
        var key = SHA256.hmac(key: Array("AWS4\(secretKey)".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = SHA256.hmac(key: key, message: Array(part.utf8)) }
        let signature = SHA256.hmac(key: key, message: Array(stringToSign.utf8)).hexString
        all["authorization"] = "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return all
    }
}
