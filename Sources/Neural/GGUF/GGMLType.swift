/// A ggml tensor element type: plain floats or a block quantisation.
public struct GGMLType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let f32 = GGMLType(rawValue: 0)
    public static let f16 = GGMLType(rawValue: 1)
    public static let q4_0 = GGMLType(rawValue: 2)
    public static let q4_1 = GGMLType(rawValue: 3)
    public static let q8_0 = GGMLType(rawValue: 8)

    /// Name, elements per block and bytes per block of every type ggml defines, so a file with a type we
    /// cannot dequantise still parses and the error comes only when such a tensor is used.
    private static let layouts: [UInt32: (name: String, block: Int, bytes: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
        26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 30: ("BF16", 1, 2),
    ]

    /// Whether ggml defines this type (its block layout is known).
    public var isKnown: Bool { Self.layouts[rawValue] != nil }

    /// Whether this code can dequantise the type.
    public var isSupported: Bool { [.f32, .f16, .q4_0, .q4_1, .q8_0].contains(self) }

    /// Elements per quantisation block (1 for plain types).
    public var blockSize: Int { Self.layouts[rawValue]?.block ?? 0 }

    /// Bytes per quantisation block.
    public var blockBytes: Int { Self.layouts[rawValue]?.bytes ?? 0 }

    public var description: String { Self.layouts[rawValue]?.name ?? "type \(rawValue)" }

    /// Bytes taken by `count` elements, nil when the type is unknown or `count` is not whole blocks.
    public func byteCount(elements count: Int) -> Int? {
        guard isKnown, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}
