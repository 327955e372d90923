import RealModule

/// A small, seedable, serialisable random generator (SplitMix64) for training.
///
/// Its whole state is one `UInt64`, so checkpoints can store and restore it exactly.
public struct TrainingRandom: RandomNumberGenerator, Sendable, Equatable {
    /// The generator state; restoring it replays the same sequence.
    public var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform Float in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal sample (Box-Muller).
    public mutating func nextNormal() -> Float {
        let u1 = Double((next() >> 11) &+ 1) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2))
    }

    /// The SplitMix64 finaliser: a bijective 64-bit hash used to derive independent streams.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A stream seed derived from a parent seed and up to three counters (stateless, so replays match).
    public static func derive(_ seed: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) -> UInt64 {
        mix(mix(mix(seed ^ 0xA076_1D64_78BD_642F &+ a) ^ b &* 0xE703_7ED1_A0B4_28DB) ^ c)
    }
}
