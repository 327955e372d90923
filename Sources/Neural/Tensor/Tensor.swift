/// A dense row-major tensor of `Float`: a shape and one contiguous buffer.
///
/// Kept deliberately small: model code works on the buffer through `withUnsafe(Mutable)BufferPointer`
/// at kernel entry, never element by element through this type.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public var shape: [Int]
    /// The elements, row-major; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor over `data`; the element count must match the shape.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(Tensor.elementCount(shape) == data.count, "shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
    }

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, data: [Float](repeating: value, count: Tensor.elementCount(shape)))
    }

    /// Number of elements.
    public var count: Int { data.count }

    /// Number of elements a shape holds (1 for a scalar `[]`).
    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
}
