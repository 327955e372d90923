/// A named, contiguous Float tensor with an optional gradient buffer of the same shape.
///
/// Owns its memory (allocated once, zeroed, freed in `deinit`) so kernels can take raw pointers
/// without copy-on-write checks.
public final class TrainTensor {
    /// A stable name (used for checkpoints and exports).
    public let name: String
    /// Row-major shape; linear weights are `[out, in]`.
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    /// The values.
    public let data: UnsafeMutablePointer<Float>
    /// The gradient, present once `enableGradient()` was called.
    public private(set) var grad: UnsafeMutablePointer<Float>?

    /// Creates a zero-filled tensor.
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
        count = shape.reduce(1, *)
        data = .allocate(capacity: Swift.max(count, 1))
        data.initialize(repeating: 0, count: Swift.max(count, 1))
    }

    /// Creates a tensor holding a copy of `values` (`values.count` must equal the shape's product).
    public convenience init(name: String, shape: [Int], values: [Float]) {
        self.init(name: name, shape: shape)
        precondition(values.count == count, "\(name): \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        data.deallocate()
        grad?.deallocate()
    }

    /// Makes the tensor trainable: allocates a zeroed gradient buffer once.
    public func enableGradient() {
        guard grad == nil else { return }
        let g = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
        g.initialize(repeating: 0, count: Swift.max(count, 1))
        grad = g
    }

    /// Sets the gradient to zero.
    public func zeroGradient() {
        grad?.update(repeating: 0, count: count)
    }

    /// The values as a buffer (valid while the tensor lives).
    public var values: UnsafeMutableBufferPointer<Float> { .init(start: data, count: count) }

    /// A copy of the values.
    public var array: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// A copy of the gradient (empty when the tensor is frozen).
    public var gradientArray: [Float] {
        guard let grad else { return [] }
        return Array(UnsafeBufferPointer(start: grad, count: count))
    }

    /// Overwrites the values with `source` (same count).
    public func copy(from source: TrainTensor) {
        precondition(source.count == count)
        data.update(from: source.data, count: count)
    }
}

/// A fixed-size scratch Float buffer owned by a workspace; zeroed on creation.
final class ScratchBuffer {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: Swift.max(count, 1))
        pointer.initialize(repeating: 0, count: Swift.max(count, 1))
    }

    deinit { pointer.deallocate() }

    func zero(_ n: Int? = nil) { pointer.update(repeating: 0, count: n ?? count) }
}
