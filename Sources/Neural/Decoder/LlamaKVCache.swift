/// The keys and values of one sequence for every layer, sized once by a context limit.
///
/// Stored in half precision, as llama.cpp's default f16 cache stores them (attention sees the same
/// numbers, and a decode step reads half the bytes an f32 cache would). Each KV head's data is contiguous,
/// so a head's attention streams through memory in order:
/// - keys `[layer][kvHead][position][headDim]`: one key row per position, dotted with the query;
/// - values `[layer][kvHead][headDim][capacity]`: transposed (as llama.cpp keeps V without flash
///   attention), so each output dimension is one dot product over positions with register accumulators.
public final class LlamaKVCache: @unchecked Sendable {
    // @unchecked Sendable: used by one generation at a time; the engine serialises all access.

    /// Most positions the cache holds.
    public let capacity: Int
    /// Positions filled so far (the next token goes to position `count`).
    public internal(set) var count = 0
    let layerCount: Int
    let kvHeads: Int
    let headDim: Int
    let keys: UnsafeMutablePointer<Float16>
    let values: UnsafeMutablePointer<Float16>

    /// Elements after the last value row that chunked reads may touch.
    static let valuePadding = 64

    /// A cache for `capacity` positions of a model with `config`.
    public init(config: LlamaConfig, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        layerCount = config.layerCount
        kvHeads = config.kvHeadCount
        headDim = config.headDim
        let size = config.layerCount * capacity * config.kvDim
        keys = .allocate(capacity: size)
        // Attention reads value rows in whole chunks of 16 (lanes past the count are masked, so what
        // they hold never matters): pad the end. Left uninitialised: pages become resident as filled.
        values = .allocate(capacity: size + Self.valuePadding)
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

    /// Stores one position's keys and values (`kvHeads · headDim` floats each, heads in order), rounded
    /// to half precision (round to nearest even, as ggml's f16 conversion).
    @inline(__always)
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for h in 0..<kvHeads {
            let kr = key(layer: layer, head: h, position: position)
            let vr = valueRows(layer: layer, head: h)
            let ks = k + h &* headDim, vs = v + h &* headDim
            var e = 0
            while e &+ 8 <= headDim {
                UnsafeMutableRawPointer(kr + e).storeBytes(of: SIMD8<Float16>(UnsafeRawPointer(ks + e).loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float16>.self)
                e &+= 8
            }
            while e < headDim {
                kr[e] = Float16(ks[e])
                e &+= 1
            }
            for e in 0..<headDim { vr[e &* capacity &+ position] = Float16(vs[e]) }
        }
    }

    /// The key row of `head` at `position` (`headDim` values).
    @inline(__always)
    func key(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        keys + ((layer &* kvHeads &+ head) &* capacity &+ position) &* headDim
    }

    /// The first key row of `head` (rows of later positions follow at a stride of `headDim`).
    @inline(__always)
    func keyRows(layer: Int, head: Int) -> UnsafeMutablePointer<Float16> {
        keys + (layer &* kvHeads &+ head) &* capacity &* headDim
    }

    /// The values of `head`, `headDim` rows of `capacity` positions (row e = dimension e).
    @inline(__always)
    func valueRows(layer: Int, head: Int) -> UnsafeMutablePointer<Float16> {
        values + (layer &* kvHeads &+ head) &* headDim &* capacity
    }
}
