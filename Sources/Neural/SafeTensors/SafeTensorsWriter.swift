#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes safetensors files (F32, F16 or BF16) that `SafeTensorsFile`, PyTorch and PEFT can read.
public enum SafeTensorsWriter {
    /// One tensor to write: its name, shape and row-major values.
    public typealias Entry = (name: String, shape: [Int], values: [Float])

    /// Writes `tensors` (in the given order) and the `__metadata__` map to `path`, atomically.
    ///
    /// The file is written next to `path` and renamed into place, so a reader never sees half a file.
    public static func write(
        _ tensors: [Entry], metadata: [String: String] = [:], dtype: SafeTensorsDType = .f32, to path: String
    ) throws {
        let bytes = try encode(tensors, metadata: metadata, dtype: dtype)
        let temporary = "\(path).tmp-\(getpid())"
        guard let file = fopen(temporary, "wb") else {
            throw SafeTensorsError("\(path): cannot create (\(String(cString: strerror(errno))))")
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let flushed = fflush(file) == 0
        fclose(file)
        guard written == bytes.count, flushed else {
            unlink(temporary)
            throw SafeTensorsError("\(path): write failed (\(String(cString: strerror(errno))))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw SafeTensorsError("\(path): cannot move the written file into place (\(reason))")
        }
    }

    /// The complete file as bytes: header length, JSON header padded to 8 bytes, then the data.
    public static func encode(_ tensors: [Entry], metadata: [String: String] = [:], dtype: SafeTensorsDType = .f32) throws -> [UInt8] {
        guard dtype.convertsToFloat else {
            throw SafeTensorsError("cannot write dtype \(dtype.rawValue); only F32, F16 and BF16 are supported")
        }
        var seen = Set<String>()
        var header = "{"
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            header += "\"__metadata__\":{\(pairs.joined(separator: ","))}"
        }
        var offset = 0
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw SafeTensorsError("invalid tensor name '\(tensor.name)'")
            }
            guard seen.insert(tensor.name).inserted else { throw SafeTensorsError("duplicate tensor name '\(tensor.name)'") }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), Tensor.elementCount(tensor.shape) == tensor.values.count else {
                throw SafeTensorsError("tensor '\(tensor.name)': shape \(tensor.shape) does not hold \(tensor.values.count) values")
            }
            let size = tensor.values.count * dtype.byteSize
            if header.count > 1 { header += "," }
            header += "\(jsonString(tensor.name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: length) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for tensor in tensors {
            tensor.values.withUnsafeBufferPointer { SafeTensorsConversion.encode($0, dtype: dtype, into: &out) }
        }
        return out
    }

    /// A JSON string literal for `text` (quotes, backslashes and control characters escaped).
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
