/// An immutable, heap-allocated `Float` buffer with a stable address, for model weights.
///
/// Kernels take `pointer` directly, so a forward pass touches no array (no uniqueness checks, no closures).
public final class FloatBuffer: @unchecked Sendable {
    // @unchecked Sendable: the contents are written once in init and only read afterwards.

    /// First element; valid for `count` elements while the buffer lives.
    public let pointer: UnsafePointer<Float>
    /// Number of elements.
    public let count: Int

    /// Copies `values` into a new buffer.
    public init(_ values: [Float]) {
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { storage.initialize(from: $0.baseAddress!, count: $0.count) }
        pointer = UnsafePointer(storage)
        count = values.count
    }

    /// A buffer of `count` elements filled by `initialize`, which must write every element.
    public init(count: Int, initialize: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        do {
            try initialize(UnsafeMutableBufferPointer(start: storage, count: count))
        } catch {
            storage.deallocate()
            throw error
        }
        pointer = UnsafePointer(storage)
        self.count = count
    }

    deinit { UnsafeMutablePointer(mutating: pointer).deallocate() }

    /// The values as an array (copies; for tests and export).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
