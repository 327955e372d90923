/// Holds back generated text that might be the start of a stop string, and cuts the text at the first
/// complete stop string.
public struct StopStringMatcher: Sendable {
    private let stops: [String]
    private var held = ""

    /// A matcher for `stops` (none: text passes straight through).
    public init(_ stops: [String]) {
        self.stops = stops
    }

    /// Adds `piece`; returns the text that is safe to emit and whether a stop string was reached.
    public mutating func feed(_ piece: String) -> (emit: String, stopped: Bool) {
        guard !stops.isEmpty else { return (piece, false) }
        held += piece
        var earliest: String.Index?
        for s in stops {
            if let r = held.firstRange(of: s), earliest.map({ r.lowerBound < $0 }) ?? true { earliest = r.lowerBound }
        }
        if let cut = earliest {
            let emit = String(held[..<cut])
            held = ""
            return (emit, true)
        }
        // Keep the longest suffix of `held` that is a proper prefix of some stop string.
        var keep = 0
        for s in stops {
            var n = min(s.count - 1, held.count)
            while n > keep {
                if held.hasSuffix(s.prefix(n)) {
                    keep = n
                    break
                }
                n -= 1
            }
        }
        let split = held.index(held.endIndex, offsetBy: -keep)
        let emit = String(held[..<split])
        held = String(held[split...])
        return (emit, false)
    }

    /// Everything still held back, plus `piece` (end of generation without a stop string).
    public mutating func finish(_ piece: String) -> String {
        let (emit, stopped) = feed(piece)
        if stopped { return emit }
        defer { held = "" }
        return emit + held
    }
}

/// Restricts which tokens may come next (structured output). Implementations track the text so far.
public protocol TokenConstraint {
    /// Whether `token` may be generated next.
    func allows(_ token: Int) -> Bool
    /// Records that `token` was generated.
    mutating func accept(_ token: Int)
    /// Whether the output is complete (generation stops).
    var isComplete: Bool { get }
}
