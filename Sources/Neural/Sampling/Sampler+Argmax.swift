extension Sampler {
    /// The index of the largest value, the first of equal ones; -1 when no value is above −∞ (NaN never
    /// wins). Greedy decoding calls it once per token and sequence over the whole vocabulary (49,152
    /// logits here), so it runs 16 lanes at a time: each lane keeps its own first maximum and index,
    /// and the lanes are merged at the end (the smallest index among the lanes holding the maximum).
    public static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int {
        guard let base = values.baseAddress else { return -1 }
        let n = values.count
        let raw = UnsafeRawPointer(base)
        var best = SIMD16<Float>(repeating: -.infinity)
        var index = SIMD16<Int32>(repeating: -1)
        var position = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let step = SIMD16<Int32>(repeating: 16)
        var i = 0
        while i &+ 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD16<Float>.self)
            let better = v .> best
            best.replace(with: v, where: better)
            index.replace(with: position, where: better)
            position &+= step
            i &+= 16
        }
        var top = -Float.infinity, winner = -1
        for lane in 0..<16 where index[lane] >= 0 && (best[lane] > top || (best[lane] == top && Int(index[lane]) < winner)) {
            top = best[lane]
            winner = Int(index[lane])
        }
        while i < n {
            if values[i] > top {
                top = values[i]
                winner = i
            }
            i &+= 1
        }
        return winner
    }
}
