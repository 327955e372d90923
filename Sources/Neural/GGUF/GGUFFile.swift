#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF (v2/v3) model file mapped read-only into memory: its metadata and tensor directory.
///
/// Tensor data stays in the mapping; `GGUFTensor` values point into it and are valid while the file lives.
public final class GGUFFile: @unchecked Sendable {
    // @unchecked Sendable: the mapping is read-only and every stored property is immutable after init.

    /// The path the file was opened from.
    public let path: String
    /// The GGUF format version (2 or 3).
    public let version: UInt32
    /// Every metadata key and its value.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Every tensor in file order.
    public let tensors: [GGUFTensor]
    /// The alignment of the tensor data section (`general.alignment`, default 32).
    public let alignment: Int
    private let tensorIndex: [String: Int]
    private let mapping: UnsafeMutableRawPointer?
    private let mappedBytes: Int

    /// Opens and maps `path`, parses the header and checks every tensor lies inside the file.
    public init(path: String) throws(GGUFError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(path): \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        guard size > 0 else { throw .truncated("\(path) is empty") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .io("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        mapping = p
        mappedBytes = size
        do {
            let parsed = try GGUFParser.parse(base: UnsafeRawPointer(p), count: size, path: path)
            version = parsed.version
            metadata = parsed.metadata
            metadataKeys = parsed.keys
            tensors = parsed.tensors
            alignment = parsed.alignment
        } catch {
            munmap(p, size)
            throw error
        }
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        tensorIndex = index
    }

    deinit {
        if let mapping { munmap(mapping, mappedBytes) }
    }

    /// Drops the whole pages of `tensor`'s bytes from this process's resident memory when they lie in
    /// this file's mapping (a private read-only mapping: touched again, they are re-read from the file).
    /// For weights that were copied into another layout; tensors elsewhere (adapter-merged ones in owned
    /// buffers) are left alone, since dropping anonymous pages would zero them.
    public func releasePages(of tensor: GGUFTensor) {
        guard let mapping else { return }
        let start = Int(bitPattern: tensor.data), end = start + tensor.byteCount
        let base = Int(bitPattern: mapping)
        guard start >= base, end <= base + mappedBytes else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (start + page - 1) / page * page, last = end / page * page
        guard last > first, let p = UnsafeMutableRawPointer(bitPattern: first) else { return }
        // Advice only: if it fails the pages simply stay resident.
        _ = madvise(p, last - first, Int32(MADV_DONTNEED))
    }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> GGUFTensor? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor called `name`; throws when it is absent.
    public func requireTensor(_ name: String) throws(GGUFError) -> GGUFTensor {
        guard let t = tensor(named: name) else { throw .missingTensor("\(path) has no tensor \(name)") }
        return t
    }

    /// An integer metadata value; throws when absent or not an integer.
    public func requireInt(_ key: String) throws(GGUFError) -> Int {
        guard let v = metadata[key]?.intValue else { throw .missingKey("\(path): missing integer key \(key)") }
        return v
    }

    /// A numeric metadata value; throws when absent or not a number.
    public func requireDouble(_ key: String) throws(GGUFError) -> Double {
        guard let v = metadata[key]?.doubleValue else { throw .missingKey("\(path): missing numeric key \(key)") }
        return v
    }

    /// A string metadata value; throws when absent or not a string.
    public func requireString(_ key: String) throws(GGUFError) -> String {
        guard let v = metadata[key]?.stringValue else { throw .missingKey("\(path): missing string key \(key)") }
        return v
    }

    /// An array of strings; throws when absent or when any element is not a string.
    public func requireStrings(_ key: String) throws(GGUFError) -> [String] {
        guard let a = metadata[key]?.arrayValue else { throw .missingKey("\(path): missing array key \(key)") }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for v in a {
            guard let s = v.stringValue else { throw .missingKey("\(path): \(key) holds a non-string element") }
            out.append(s)
        }
        return out
    }
}
