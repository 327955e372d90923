import Foundation

/// The SSRF guard: which network addresses a fetch may connect to.
///
/// Loopback, private, link-local, CGNAT, cloud-metadata, unspecified, multicast and reserved ranges are
/// refused unless the URL's host is on the allow-list. The check runs on the address curl is about to
/// connect to (see `CurlTransfer`), so a DNS answer that changes between check and use cannot bypass it.
public struct AddressPolicy: Sendable, Equatable {
    /// Hosts (names or IP literals, lower-cased) exempt from the guard, e.g. `127.0.0.1` in tests.
    public var allowedHosts: Set<String>

    /// Creates a policy; `allowedHosts` are compared case-insensitively with the URL host.
    public init(allowedHosts: Set<String> = []) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    /// Whether `host` (as written in the URL, brackets stripped) bypasses the guard.
    public func isAllowListed(host: String) -> Bool {
        allowedHosts.contains(host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
    }

    /// The reason an IPv4 or IPv6 address is refused, or `nil` when it is a public address.
    public static func refusal(for address: IPAddress) -> String? {
        switch address {
        case .v4(let bytes): return refusalV4(bytes)
        case .v6(let bytes):
            // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses are judged as IPv4.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return refusalV4(Array(bytes[12..<16]))
            }
            if bytes[0..<12].allSatisfy({ $0 == 0 }) && !(bytes[12..<15].allSatisfy { $0 == 0 }) {
                return refusalV4(Array(bytes[12..<16]))
            }
            return refusalV6(bytes)
        }
    }

    private static func refusalV4(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "unspecified address"
        case (10, _): return "private address"
        case (100, 64...127): return "carrier-grade NAT address"
        case (127, _): return "loopback address"
        case (169, 254): return b[2] == 169 && b[3] == 254 ? "cloud metadata address" : "link-local address"
        case (172, 16...31): return "private address"
        case (192, 0) where b[2] == 0: return "reserved address"
        case (192, 168): return "private address"
        case (198, 18...19): return "benchmarking address"
        case (224...239, _): return "multicast address"
        case (240...255, _): return "reserved address"
        default: return nil
        }
    }

    private static func refusalV6(_ b: [UInt8]) -> String? {
        if b.allSatisfy({ $0 == 0 }) { return "unspecified address" }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return "loopback address" }
        if b == [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54] { return "cloud metadata address" }
        if b[0] & 0xfe == 0xfc { return "private address" }
        if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return "link-local address" }
        if b[0] == 0xfe && b[1] & 0xc0 == 0xc0 { return "site-local address" }
        if b[0] == 0xff { return "multicast address" }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b {
            // NAT64 well-known prefix: judge the embedded IPv4 address.
            return refusalV4(Array(b[12..<16]))
        }
        return nil
    }
}

/// An IPv4 or IPv6 address as raw network-order bytes.
public enum IPAddress: Sendable, Equatable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// Parses a textual IPv4 or IPv6 address (brackets allowed); `nil` for host names.
    public init?(_ text: String) {
        let literal = text.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var v4 = in_addr()
        if inet_pton(AF_INET, literal, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, literal, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    /// Reads the address out of a `sockaddr` (AF_INET or AF_INET6); `nil` for other families.
    init?(socketAddress: UnsafePointer<sockaddr>) {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            self = .v4(withUnsafeBytes(of: address) { Array($0) })
        case AF_INET6:
            let address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            self = .v6(withUnsafeBytes(of: address) { Array($0) })
        default:
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            var copy = in6_addr()
            withUnsafeMutableBytes(of: &copy) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &copy, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
