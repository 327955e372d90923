/// Parses the GGUF header: magic, version, metadata, tensor directory and data offset.
enum GGUFParser {
    struct Parsed {
        var version: UInt32
        var metadata: [String: GGUFValue]
        var keys: [String]
        var tensors: [GGUFTensor]
        var alignment: Int
    }

    /// Nesting limit for arrays of arrays; deeper nesting means a corrupt file, not a real model.
    private static let maxArrayDepth = 4

    static func parse(base: UnsafeRawPointer, count: Int, path: String) throws(GGUFError) -> Parsed {
        var r = GGUFByteReader(base: base, count: count)
        guard count >= 4 else { throw .truncated("\(path) is \(count) bytes, too short for a GGUF header") }
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw .badMagic("\(path) does not start with GGUF (is it a GGUF model file?)")
        }
        let version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw .unsupportedVersion("\(path) is GGUF version \(version); versions 2 and 3 are supported")
        }
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let keyCount = try r.read(UInt64.self, "metadata count")
        // Every key or tensor takes at least 8 bytes, which bounds honest counts by the file size.
        guard tensorCount <= UInt64(count / 8), keyCount <= UInt64(count / 8) else {
            throw .corrupt("\(path) announces \(keyCount) keys and \(tensorCount) tensors, more than fit in the file")
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        for i in 0..<Int(keyCount) {
            let key = try r.readString("metadata key #\(i)")
            let rawType = try r.read(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .corrupt("\(path): metadata \(key) has unknown value type \(rawType)")
            }
            metadata[key] = try readValue(type, &r, key: key, path: path, depth: 0)
            keys.append(key)
        }

        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue, v > 0, v & (v - 1) == 0 else {
                throw .corrupt("\(path): general.alignment must be a power of two")
            }
            alignment = v
        }

        struct Info { var name: String; var shape: [Int]; var type: GGMLType; var offset: UInt64 }
        var infos: [Info] = []
        for i in 0..<Int(tensorCount) {
            let name = try r.readString("tensor name #\(i)")
            let dims = try r.read(UInt32.self, "dimension count of \(name)")
            guard (1...4).contains(dims) else { throw .corrupt("\(path): tensor \(name) has \(dims) dimensions") }
            var shape: [Int] = []
            for _ in 0..<dims {
                let d = try r.read(UInt64.self, "shape of \(name)")
                guard d > 0, d < 1 << 32 else { throw .corrupt("\(path): tensor \(name) has dimension \(d)") }
                shape.append(Int(d))
            }
            let type = GGMLType(rawValue: try r.read(UInt32.self, "type of \(name)"))
            let offset = try r.read(UInt64.self, "offset of \(name)")
            guard type.isKnown else {
                throw .unsupportedType("\(path): tensor \(name) has unknown ggml type \(type.rawValue)")
            }
            infos.append(Info(name: name, shape: shape, type: type, offset: offset))
        }

        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        try r.skip(to: dataStart)
        var tensors: [GGUFTensor] = []
        tensors.reserveCapacity(infos.count)
        for info in infos {
            let (elements, overflow) = info.shape.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d)
                return (m.partialValue, acc.1 || m.overflow)
            }
            guard !overflow, info.shape[0] % info.type.blockSize == 0,
                let bytes = info.type.byteCount(elements: elements)
            else {
                throw .corrupt("\(path): tensor \(info.name) shape \(info.shape) does not fit \(info.type) blocks")
            }
            guard info.offset % UInt64(alignment) == 0 else {
                throw .corrupt("\(path): tensor \(info.name) offset \(info.offset) is not \(alignment)-aligned")
            }
            guard info.offset <= UInt64(count - dataStart), bytes <= count - dataStart - Int(info.offset) else {
                throw .truncated(
                    "\(path): tensor \(info.name) (\(bytes) bytes at data offset \(info.offset)) runs past the end of the file")
            }
            tensors.append(GGUFTensor(
                name: info.name, shape: info.shape, type: info.type,
                data: base + dataStart + Int(info.offset), byteCount: bytes))
        }
        return Parsed(version: version, metadata: metadata, keys: keys, tensors: tensors, alignment: alignment)
    }

    private static func readValue(
        _ type: GGUFValueType, _ r: inout GGUFByteReader, key: String, path: String, depth: Int
    ) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try r.read(UInt8.self, key))
        case .int8: return .int8(try r.read(Int8.self, key))
        case .uint16: return .uint16(try r.read(UInt16.self, key))
        case .int16: return .int16(try r.read(Int16.self, key))
        case .uint32: return .uint32(try r.read(UInt32.self, key))
        case .int32: return .int32(try r.read(Int32.self, key))
        case .uint64: return .uint64(try r.read(UInt64.self, key))
        case .int64: return .int64(try r.read(Int64.self, key))
        case .float32: return .float32(try r.readFloat(key))
        case .float64: return .float64(try r.readDouble(key))
        case .bool:
            let b = try r.read(UInt8.self, key)
            guard b <= 1 else { throw .corrupt("\(path): metadata \(key) holds boolean byte \(b)") }
            return .bool(b == 1)
        case .string: return .string(try r.readString(key))
        case .array:
            guard depth < maxArrayDepth else { throw .corrupt("\(path): metadata \(key) nests arrays too deeply") }
            let rawElement = try r.read(UInt32.self, "element type of \(key)")
            guard let element = GGUFValueType(rawValue: rawElement) else {
                throw .corrupt("\(path): metadata \(key) is an array of unknown type \(rawElement)")
            }
            let n = try r.read(UInt64.self, "length of \(key)")
            guard n <= UInt64(r.count - r.offset) else {
                throw .truncated("\(path): array \(key) of \(n) elements runs past the end of the file")
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(n))
            for _ in 0..<Int(n) {
                values.append(try readValue(element, &r, key: key, path: path, depth: depth + 1))
            }
            return .array(values)
        }
    }
}
