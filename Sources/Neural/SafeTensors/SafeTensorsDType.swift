/// The element types a safetensors header may declare.
///
/// Every type is recognised so that header validation can check sizes; only `f32`, `f16` and `bf16`
/// convert to `Float` and can be written.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case i64 = "I64", u64 = "U64", f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .i64, .u64, .f64: 8
        }
    }

    /// Whether `SafeTensorsFile.tensor(named:)` can convert this type to `Float`.
    public var convertsToFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}
