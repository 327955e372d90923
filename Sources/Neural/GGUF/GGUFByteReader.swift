/// A bounds-checked little-endian cursor over the header part of a mapped GGUF file.
struct GGUFByteReader {
    let base: UnsafeRawPointer
    let count: Int
    private(set) var offset = 0

    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }

    private mutating func take(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> UnsafeRawPointer {
        guard n >= 0, n <= count - offset else {
            throw .truncated("file ends at byte \(count) while reading \(what()) at byte \(offset)")
        }
        defer { offset += n }
        return base + offset
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        let p = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: p.loadUnaligned(as: T.self))
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws(GGUFError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws(GGUFError) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A length-prefixed UTF-8 string; invalid UTF-8 is repaired rather than rejected because token
    /// vocabularies of byte-level models hold partial sequences in some files.
    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(count - offset) else {
            throw .truncated("string of \(length) bytes in \(what()) runs past the end of the file")
        }
        let p = try take(Int(length), what())
        return String(decoding: UnsafeRawBufferPointer(start: p, count: Int(length)), as: UTF8.self)
    }

    mutating func skip(to newOffset: Int) throws(GGUFError) {
        guard newOffset >= offset, newOffset <= count else {
            throw .truncated("file ends at byte \(count) before the tensor data at byte \(newOffset)")
        }
        offset = newOffset
    }
}
