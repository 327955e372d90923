/// The keys and values of one sequence for every layer, sized once by a context limit.
///
/// Layout: `[layer][position][kvDim]` for keys and for values, f32 holding values rounded to half precision
/// as llama.cpp's default f16 cache stores them, so attention sees the same numbers.
public final class LlamaKVCache: @unchecked Sendable {
    // @unchecked Sendable: used by one generation at a time; the engine serialises all access.

    /// Most positions the cache holds.
    public let capacity: Int
    /// Positions filled so far (the next token goes to position `count`).
    public internal(set) var count = 0
    let layerCount: Int
    let kvDim: Int
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    /// A cache for `capacity` positions of a model with `config`.
    public init(config: LlamaConfig, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        layerCount = config.layerCount
        kvDim = config.kvDim
        let size = config.layerCount * capacity * config.kvDim
        keys = .allocate(capacity: size)
        values = .allocate(capacity: size)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets positions from `position` on (the next token goes there); used to reuse a cache or to
    /// drop rejected speculative tokens.
    public func truncate(to position: Int) {
        precondition(position >= 0 && position <= count)
        count = position
    }

    @inline(__always)
    func key(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + (layer &* capacity &+ position) &* kvDim
    }

    @inline(__always)
    func value(layer: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + (layer &* capacity &+ position) &* kvDim
    }
}
