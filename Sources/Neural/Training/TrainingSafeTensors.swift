import Foundation

/// A minimal F32 safetensors writer and reader for checkpoints and PEFT adapters.
///
/// Layout (the safetensors format): u64 little-endian header length, a JSON header
/// `{"__metadata__": {…}, "name": {"dtype": "F32", "shape": […], "data_offsets": [begin, end]}}`
/// padded with spaces to 8 bytes, then the raw little-endian data. Kept here so training does not
/// wait for the encoder's general reader/writer (`Sources/Neural/SafeTensors/`); switch when merged.
enum TrainingSafeTensors {
    struct Entry {
        let name: String
        let shape: [Int]
        /// Borrowed storage (a live tensor) or an owned array.
        let pointer: UnsafeBufferPointer<Float>?
        let array: [Float]

        init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            pointer = values
            array = []
        }

        init(name: String, shape: [Int], array: [Float]) {
            self.name = name
            self.shape = shape
            pointer = nil
            self.array = array
        }

        var count: Int { pointer?.count ?? array.count }
    }

    private struct HeaderEntry: Codable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }

    /// Writes `entries` (in order) and string metadata to `url`, atomically.
    static func write(_ entries: [Entry], metadata: [String: String], to url: URL) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for e in entries {
            if header[e.name] != nil { throw TrainingError.format("safetensors: duplicate tensor \(e.name)") }
            let bytes = e.count * 4
            header[e.name] = ["dtype": "F32", "shape": e.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for e in entries {
            if let p = e.pointer { out.append(p) } else { e.array.withUnsafeBufferPointer { out.append($0) } }
        }
        do {
            try out.write(to: url, options: .atomic)
        } catch {
            throw TrainingError.io("cannot write \(url.path): \(error)")
        }
    }

    /// A parsed file: metadata and F32 tensors by name.
    struct File {
        var metadata: [String: String]
        var tensors: [String: (shape: [Int], values: [Float])]
    }

    /// Reads an F32-only safetensors file.
    static func read(_ url: URL) throws -> File {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError.io("cannot read \(url.path): \(error)")
        }
        guard data.count >= 8 else { throw TrainingError.format("\(url.lastPathComponent): shorter than a safetensors header") }
        let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard headerLength > 0, 8 + headerLength <= data.count else {
            throw TrainingError.format("\(url.lastPathComponent): header length \(headerLength) exceeds the file")
        }
        let headerData = data.subdata(in: 8..<(8 + headerLength))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw TrainingError.format("\(url.lastPathComponent): header is not a JSON object")
        }
        var file = File(metadata: [:], tensors: [:])
        let base = 8 + headerLength
        for (name, value) in header {
            if name == "__metadata__" {
                file.metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw TrainingError.format("\(url.lastPathComponent): tensor \(name) has a malformed entry") }
            guard dtype == "F32" else { throw TrainingError.format("\(url.lastPathComponent): tensor \(name) is \(dtype), expected F32") }
            let count = shape.reduce(1, *)
            guard offsets[1] - offsets[0] == count * 4, offsets[0] >= 0, base + offsets[1] <= data.count else {
                throw TrainingError.format("\(url.lastPathComponent): tensor \(name) offsets do not match its shape")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                data.copyBytes(to: dst, from: (base + offsets[0])..<(base + offsets[1]))
            }
            file.tensors[name] = (shape, values)
        }
        return file
    }
}
