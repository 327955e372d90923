/// A projection of a Llama block that can carry a LoRA adapter.
public enum LoRATarget: String, Sendable, Codable, CaseIterable, Comparable {
    case q, k, v, o, gate, up, down

    /// PEFT / Hugging Face module name (`q_proj`, …, `down_proj`).
    public var moduleName: String {
        switch self {
        case .q: "q_proj"
        case .k: "k_proj"
        case .v: "v_proj"
        case .o: "o_proj"
        case .gate: "gate_proj"
        case .up: "up_proj"
        case .down: "down_proj"
        }
    }

    /// PEFT parent module (`self_attn` or `mlp`).
    public var parentName: String {
        switch self {
        case .q, .k, .v, .o: "self_attn"
        case .gate, .up, .down: "mlp"
        }
    }

    /// Parses `q`, `q_proj`, `gate`, `gate_proj`, ….
    public init?(name: String) {
        let bare = name.hasSuffix("_proj") ? String(name.dropLast(5)) : name
        self.init(rawValue: bare)
    }

    var index: Int { Self.allCases.firstIndex(of: self)! }

    /// Orders targets as q, k, v, o, gate, up, down.
    public static func < (lhs: LoRATarget, rhs: LoRATarget) -> Bool { lhs.index < rhs.index }
}

/// LoRA hyper-parameters: W' = W + (alpha / rank) · B · A on the chosen projections.
public struct LoRAConfig: Sendable, Equatable, Codable {
    /// Adapter rank r.
    public var rank: Int
    /// Scaling numerator; the update is scaled by alpha / rank.
    public var alpha: Float
    /// Dropout probability on the adapter input, in [0, 1).
    public var dropout: Float
    /// The projections that get adapters.
    public var targets: Set<LoRATarget>

    /// Creates a LoRA configuration (defaults follow the reference: r 32, alpha 32, dropout 0, all seven).
    public init(rank: Int = 32, alpha: Float = 32, dropout: Float = 0, targets: Set<LoRATarget> = Set(LoRATarget.allCases)) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
    }

    /// alpha / rank.
    public var scale: Float { alpha / Float(rank) }

    /// Checks ranges against the smallest projection the adapter will wrap.
    public func validate(maxRank: Int) throws {
        if rank < 1 || rank > maxRank {
            throw TrainingError.invalidConfiguration("lora rank: expected 1...\(maxRank), got \(rank)")
        }
        if !(alpha > 0) || !alpha.isFinite {
            throw TrainingError.invalidConfiguration("lora alpha: expected > 0, got \(alpha)")
        }
        if !(dropout >= 0 && dropout < 1) {
            throw TrainingError.invalidConfiguration("lora dropout: expected 0 ≤ p < 1, got \(dropout)")
        }
        if targets.isEmpty {
            throw TrainingError.invalidConfiguration("lora targets: expected at least one of q,k,v,o,gate,up,down")
        }
    }
}

/// How the base model's weights are stored while adapters train.
public enum BaseQuantization: String, Sendable, Codable {
    /// 8-bit blocks of 32 with an absmax scale (like GGUF Q8_0).
    case q8_0
    /// 4-bit blocks of 32 with a scale and a minimum (zero-point; like GGUF Q4_1).
    case q4_1
}

/// What is trained.
public enum TrainingMode: Sendable, Equatable {
    /// Adapters over a frozen f32 base.
    case lora(LoRAConfig)
    /// Adapters over a frozen base kept quantised and dequantised per matrix product.
    case qlora(LoRAConfig, BaseQuantization)
    /// Every weight is trainable (embedding, norms, projections).
    case full

    /// The adapter configuration, when the mode has adapters.
    public var lora: LoRAConfig? {
        switch self {
        case .lora(let c), .qlora(let c, _): c
        case .full: nil
        }
    }
}
