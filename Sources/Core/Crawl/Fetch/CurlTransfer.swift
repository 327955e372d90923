import CCurl
import Foundation
import Synchronization

/// One HTTP GET through libcurl, without following redirects (the fetcher follows them so every hop
/// is checked). Raw curl pointers live only here.
///
/// `perform()` blocks, so it runs on `CurlTransfer.queue`, never on Swift's cooperative pool.
final class CurlTransfer: @unchecked Sendable {
    // @unchecked Sendable: the mutable fields are touched only by the one thread running `perform()`
    // (curl calls the callbacks on that thread); the cancellation flag, the only cross-thread state,
    // is an Atomic.

    /// The response to one request (any status; redirects are not followed).
    struct Response: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var contentType: String?
        var redirectURL: String?
        /// The IP address curl connected to (the one the SSRF guard checked).
        var primaryAddress: String?

        /// The last value of header `name` (case-insensitive).
        func header(_ name: String) -> String? {
            headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    /// A failure with whether trying again later could succeed.
    struct Failure: Error {
        var error: TwinError
        var isTransient: Bool
    }

    /// Threads for blocking transfers; GCD's pool, not the cooperative one.
    static let queue = DispatchQueue(label: "twin.curl", qos: .utility, attributes: .concurrent)

    /// `curl_global_init` must run once before any handle exists, and before other threads use curl.
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    private let url: String
    private let requestHeaders: [String]
    private let configuration: FetcherConfiguration
    private let allowListed: Bool
    private let cancelled = Atomic<Bool>(false)

    private var handle: UnsafeMutableRawPointer?
    private var body: [UInt8] = []
    private var headers: [(name: String, value: String)] = []
    private var refusedAddress: String?
    private var tooLarge = false
    private var rejectedType: String?
    private var checkedType = false

    init(url: String, host: String, headers: [String], configuration: FetcherConfiguration) {
        self.url = url
        self.requestHeaders = headers
        self.configuration = configuration
        self.allowListed = configuration.addressPolicy.isAllowListed(host: host)
    }

    /// Runs the transfer on the curl queue; cancelling the task aborts it.
    func run() async throws(Failure) -> Response {
        let result: Result<Response, Failure> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Self.queue.async { continuation.resume(returning: Result { () throws(Failure) in try self.perform() }) }
            }
        } onCancel: {
            cancelled.store(true, ordering: .relaxed)
        }
        return try result.get()
    }

    /// Blocking: performs the request on the calling thread.
    func perform() throws(Failure) -> Response {
        _ = Self.globalInit
        guard let easy = curl_easy_init() else {
            throw Failure(error: .http("cannot create a curl handle"), isTransient: true)
        }
        handle = easy
        defer {
            curl_easy_cleanup(easy)
            handle = nil
        }
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in requestHeaders { headerList = curl_slist_append(headerList, header) }
        defer { curl_slist_free_all(headerList) }

        let context = Unmanaged.passUnretained(self).toOpaque()
        ccurl_setopt_string(easy, CURLOPT_URL, url)
        ccurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        ccurl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0)
        ccurl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        // Never use a proxy from the environment: the SSRF check must see the real destination.
        ccurl_setopt_string(easy, CURLOPT_PROXY, "")
        ccurl_setopt_string(easy, CURLOPT_USERAGENT, configuration.userAgent)
        ccurl_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        ccurl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        ccurl_setopt_long(easy, CURLOPT_TIMEOUT_MS, Self.milliseconds(configuration.totalTimeout))
        ccurl_setopt_long(easy, CURLOPT_MAXFILESIZE, configuration.maximumBodyBytes)
        ccurl_setopt_pointer(easy, CURLOPT_HTTPHEADER, headerList)
        ccurl_setopt_write_function(easy, curlWrite, context)
        ccurl_setopt_header_function(easy, curlHeader, context)
        ccurl_setopt_xferinfo_function(easy, curlProgress, context)
        ccurl_setopt_opensocket_function(easy, curlOpenSocket, context)

        let code = curl_easy_perform(easy)
        if code != CURLE_OK { throw failure(for: code) }
        var status = 0
        ccurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        return Response(
            status: status, headers: headers, body: body, contentType: string(CURLINFO_CONTENT_TYPE),
            redirectURL: string(CURLINFO_REDIRECT_URL), primaryAddress: string(CURLINFO_PRIMARY_IP))
    }

    private func string(_ info: CURLINFO) -> String? {
        guard let handle else { return nil }
        var pointer: UnsafeMutablePointer<CChar>?
        guard ccurl_getinfo_string(handle, info, &pointer) == CURLE_OK, let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    private func failure(for code: CURLcode) -> Failure {
        let reason = String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT where refusedAddress != nil:
            return Failure(error: .invalidInput("refused: \(url) connects to \(refusedAddress!)"), isTransient: false)
        case CURLE_WRITE_ERROR where tooLarge, CURLE_FILESIZE_EXCEEDED:
            return Failure(
                error: .invalidInput("\(url): body exceeds \(configuration.maximumBodyBytes) bytes"), isTransient: false)
        case CURLE_WRITE_ERROR where rejectedType != nil:
            return Failure(
                error: .invalidInput("\(url): non-text content (\(rejectedType!)) is not fetched"), isTransient: false)
        case CURLE_ABORTED_BY_CALLBACK:
            return Failure(error: .cancelled("\(url): fetch cancelled"), isTransient: false)
        case CURLE_OPERATION_TIMEDOUT:
            return Failure(error: .timeout("\(url): timed out (\(reason))"), isTransient: true)
        case CURLE_COULDNT_RESOLVE_HOST:
            return Failure(error: .http("\(url): cannot resolve the host name"), isTransient: true)
        case CURLE_COULDNT_CONNECT:
            return Failure(error: .http("\(url): host unreachable (\(reason))"), isTransient: true)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT:
            return Failure(error: .invalidInput("\(url): \(reason)"), isTransient: false)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return Failure(error: .http("\(url): TLS failure (\(reason))"), isTransient: false)
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return Failure(error: .http("\(url): connection failed (\(reason))"), isTransient: true)
        default:
            return Failure(error: .http("\(url): transfer failed (\(reason))"), isTransient: false)
        }
    }

    fileprivate func receive(_ data: UnsafeMutablePointer<CChar>, count: Int) -> Int {
        if !checkedType, let handle {
            checkedType = true
            var status = 0
            ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            // Only a successful body must be text; error pages and redirects are never parsed.
            if (200..<300).contains(status), let type = string(CURLINFO_CONTENT_TYPE) {
                let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }?
                    .lowercased() ?? ""
                if !configuration.accepts(mediaType: mediaType) {
                    rejectedType = mediaType
                    return 0
                }
            }
        }
        if body.count + count > configuration.maximumBodyBytes {
            tooLarge = true
            return 0
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
        return count
    }

    fileprivate func receiveHeader(_ line: String) {
        if line.hasPrefix("HTTP/") {
            headers.removeAll()  // a new response (after 100 Continue) starts a new header block
            return
        }
        guard let colon = line.firstIndex(of: ":") else { return }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces)
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        headers.append((name, value))
    }

    fileprivate var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        if !allowListed {
            let ip = withUnsafePointer(to: &address.pointee.addr) { IPAddress(socketAddress: $0) }
            guard let ip else {
                refusedAddress = "an address of an unsupported family"
                return -1
            }
            if let reason = AddressPolicy.refusal(for: ip) {
                refusedAddress = "\(ip), a \(reason)"
                return -1
            }
        }
        return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
    }
}

private func transfer(_ context: UnsafeMutableRawPointer?) -> CurlTransfer {
    Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
}

private let curlWrite: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data else { return 0 }
    return transfer(context).receive(data, count: size * count)
}

private let curlHeader: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    guard let data else { return 0 }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: size * count) {
        String(decoding: UnsafeBufferPointer(start: $0, count: size * count), as: UTF8.self)
    }
    transfer(context).receiveHeader(line)
    return size * count
}

private let curlProgress: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t)
    -> Int32 = { context, _, _, _, _ in
        transfer(context).isCancelled ? 1 : 0
    }

private let curlOpenSocket: @convention(c) (UnsafeMutableRawPointer?, curlsocktype, UnsafeMutablePointer<curl_sockaddr>?)
    -> curl_socket_t = { context, _, address in
        guard let address else { return -1 }
        return transfer(context).openSocket(address)
    }
