import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where one tensor lives inside a safetensors file.
public struct SafeTensorsTensorInfo: Sendable, Equatable {
    /// The tensor's name in the header.
    public let name: String
    /// Its element type.
    public let dtype: SafeTensorsDType
    /// Its shape, outermost first.
    public let shape: [Int]
    /// Byte range relative to the start of the data section (`data_offsets`).
    public let byteRange: Range<Int>

    /// Number of elements.
    public var count: Int { Tensor.elementCount(shape) }
}

/// A memory-mapped safetensors file: `u64 LE header length`, a JSON header, then raw little-endian data.
///
/// The header is validated once in `init` (offsets in bounds, sizes matching dtype × shape, no overlap or
/// hole), so later reads cannot run off the mapping: a corrupt or truncated file is an error, never a crash.
public final class SafeTensorsFile: @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable after init and the mapping is read-only.

    /// The file's path, as given.
    public let path: String
    /// The `__metadata__` string map (empty when absent).
    public let metadata: [String: String]
    /// Every tensor by name.
    public let tensors: [String: SafeTensorsTensorInfo]

    private let mapping: UnsafeRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    /// Largest header accepted; the reference implementation uses the same bound.
    public static let maxHeaderBytes = 100 << 20

    /// Maps and validates the file at `path`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafeTensorsError("\(path): cannot stat (\(String(cString: strerror(errno))))") }
        let size = Int(info.st_size)
        guard size >= 8 else { throw SafeTensorsError("\(path): truncated safetensors file (\(size) bytes, no header length)") }
        guard let raw = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), raw != MAP_FAILED else {
            throw SafeTensorsError("\(path): cannot map (\(String(cString: strerror(errno))))")
        }
        let base = UnsafeRawPointer(raw)
        do {
            let parsed = try Self.parseHeader(base: base, size: size, path: path)
            self.metadata = parsed.metadata
            self.tensors = parsed.tensors
            self.dataStart = parsed.dataStart
        } catch {
            munmap(raw, size)
            throw error
        }
        self.mapping = base
        self.mappedSize = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: mapping), mappedSize) }

    /// Tensor names, sorted.
    public var names: [String] { tensors.keys.sorted() }

    /// The header entry for `name`, or nil.
    public func info(named name: String) -> SafeTensorsTensorInfo? { tensors[name] }

    /// The tensor `name` converted to `Float` (from F32, F16 or BF16).
    public func tensor(named name: String) throws -> Tensor {
        guard let entry = tensors[name] else { throw SafeTensorsError("\(path): no tensor named '\(name)'") }
        guard entry.dtype.convertsToFloat else {
            throw SafeTensorsError("\(path): tensor '\(name)' has dtype \(entry.dtype.rawValue); only F32, F16 and BF16 are supported")
        }
        let bytes = UnsafeRawBufferPointer(start: mapping + dataStart + entry.byteRange.lowerBound, count: entry.byteRange.count)
        let values = [Float](unsafeUninitializedCapacity: entry.count) { out, initialized in
            SafeTensorsConversion.decode(bytes, dtype: entry.dtype, into: out)
            initialized = entry.count
        }
        return Tensor(shape: entry.shape, data: values)
    }

    /// Decodes tensor `name`, which must have exactly `shape`, into `out` (whose count must match); no
    /// intermediate array, so loading a model holds each weight once.
    public func read(named name: String, shape: [Int], into out: UnsafeMutableBufferPointer<Float>) throws {
        let entry = try checkedEntry(name, shape: shape)
        guard out.count == entry.count else {
            throw SafeTensorsError("\(path): tensor '\(name)' has \(entry.count) values but the destination holds \(out.count)")
        }
        let bytes = UnsafeRawBufferPointer(start: mapping + dataStart + entry.byteRange.lowerBound, count: entry.byteRange.count)
        SafeTensorsConversion.decode(bytes, dtype: entry.dtype, into: out)
    }

    private func checkedEntry(_ name: String, shape: [Int]) throws -> SafeTensorsTensorInfo {
        guard let entry = tensors[name] else { throw SafeTensorsError("\(path): no tensor named '\(name)'") }
        guard entry.dtype.convertsToFloat else {
            throw SafeTensorsError("\(path): tensor '\(name)' has dtype \(entry.dtype.rawValue); only F32, F16 and BF16 are supported")
        }
        guard entry.shape == shape else {
            throw SafeTensorsError("\(path): tensor '\(name)' has shape \(entry.shape), expected \(shape)")
        }
        return entry
    }

    /// The tensor `name`, which must have exactly `shape`; the error names both shapes.
    public func tensor(named name: String, shape: [Int]) throws -> Tensor {
        _ = try checkedEntry(name, shape: shape)
        return try tensor(named: name)
    }

    /// Calls `body` with the raw little-endian bytes of tensor `name` (no copy; valid only inside `body`).
    public func withRawBytes<R>(named name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let entry = tensors[name] else { throw SafeTensorsError("\(path): no tensor named '\(name)'") }
        return try body(UnsafeRawBufferPointer(start: mapping + dataStart + entry.byteRange.lowerBound, count: entry.byteRange.count))
    }
}

extension SafeTensorsFile {
    struct Header {
        var metadata: [String: String]
        var tensors: [String: SafeTensorsTensorInfo]
        var dataStart: Int
    }

    static func parseHeader(base: UnsafeRawPointer, size: Int, path: String) throws -> Header {
        let declared = base.loadUnaligned(as: UInt64.self).littleEndian
        guard declared <= UInt64(maxHeaderBytes) else {
            throw SafeTensorsError("\(path): header length \(declared) exceeds \(maxHeaderBytes) bytes (corrupt file?)")
        }
        let headerLength = Int(declared)
        guard headerLength >= 2 else { throw SafeTensorsError("\(path): header length \(headerLength) is too small") }
        guard 8 + headerLength <= size else {
            throw SafeTensorsError("\(path): truncated safetensors file: header needs \(8 + headerLength) bytes, file has \(size)")
        }
        let headerData = Data(bytes: base + 8, count: headerLength)
        guard headerData.first == UInt8(ascii: "{") else { throw SafeTensorsError("\(path): header is not a JSON object") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw SafeTensorsError("\(path): header is not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw SafeTensorsError("\(path): header is not a JSON object") }

        var metadata: [String: String] = [:]
        var tensors: [String: SafeTensorsTensorInfo] = [:]
        let dataSize = size - 8 - headerLength
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw SafeTensorsError("\(path): __metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw SafeTensorsError("\(path): __metadata__['\(key)'] is not a string") }
                    metadata[key] = text
                }
                continue
            }
            tensors[name] = try parseEntry(name: name, value: value, dataSize: dataSize, path: path)
        }
        try checkCoverage(tensors.values, dataSize: dataSize, path: path)
        return Header(metadata: metadata, tensors: tensors, dataStart: 8 + headerLength)
    }

    private static func parseEntry(name: String, value: Any, dataSize: Int, path: String) throws -> SafeTensorsTensorInfo {
        guard let fields = value as? [String: Any] else { throw SafeTensorsError("\(path): entry '\(name)' is not an object") }
        guard let dtypeName = fields["dtype"] as? String else { throw SafeTensorsError("\(path): tensor '\(name)' has no dtype") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError("\(path): tensor '\(name)' has unknown dtype '\(dtypeName)'")
        }
        guard let shapeItems = fields["shape"] as? [Any] else { throw SafeTensorsError("\(path): tensor '\(name)' has no shape") }
        var shape: [Int] = []
        var count = 1
        for item in shapeItems {
            guard let dim = integer(item), dim >= 0 else {
                throw SafeTensorsError("\(path): tensor '\(name)' has an invalid shape \(shapeItems)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= dataSize else {
                throw SafeTensorsError("\(path): tensor '\(name)' shape \(shapeItems) is larger than the file (truncated file?)")
            }
            shape.append(dim)
            count = product
        }
        guard let offsets = fields["data_offsets"] as? [Any], offsets.count == 2,
              let begin = integer(offsets[0]), let end = integer(offsets[1]), begin >= 0, begin <= end else {
            throw SafeTensorsError("\(path): tensor '\(name)' has invalid data_offsets")
        }
        guard end <= dataSize else {
            throw SafeTensorsError("\(path): tensor '\(name)' ends at byte \(end) but the data section has \(dataSize) bytes (truncated file?)")
        }
        guard end - begin == count * dtype.byteSize else {
            throw SafeTensorsError("\(path): tensor '\(name)' spans \(end - begin) bytes but \(dtype.rawValue) \(shape) needs \(count * dtype.byteSize)")
        }
        return SafeTensorsTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: begin..<end)
    }

    /// The format requires the tensors to tile the data section exactly; a gap or overlap means corruption.
    private static func checkCoverage(_ entries: some Collection<SafeTensorsTensorInfo>, dataSize: Int, path: String) throws {
        var position = 0
        for entry in entries.sorted(by: { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }) {
            guard entry.byteRange.lowerBound == position else {
                let what = entry.byteRange.lowerBound < position ? "overlaps the previous tensor" : "leaves a gap before it"
                throw SafeTensorsError("\(path): tensor '\(entry.name)' \(what) (data_offsets \(entry.byteRange.lowerBound))")
            }
            position = entry.byteRange.upperBound
        }
        guard position == dataSize else {
            throw SafeTensorsError("\(path): tensors cover \(position) bytes but the data section has \(dataSize)")
        }
    }

    /// JSON integers arrive as NSNumber on Linux; reject fractions and strings (sizes are cross-checked later).
    private static func integer(_ value: Any) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 9.0e15 else { return nil }
        return number.intValue
    }
}
