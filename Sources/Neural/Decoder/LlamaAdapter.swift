import Foundation

/// A LoRA adapter read from a Hugging Face PEFT directory (`adapter_config.json` +
/// `adapter_model.safetensors`, the layout `PEFTExport` writes), ready to fold into a decoder's weights.
///
/// Tensor names are `base_model.model.model.layers.{i}.{self_attn|mlp}.{q_proj…down_proj}.lora_{A|B}.weight`,
/// A is [r, in] and B is [out, r]; the update is W' = W + scale·B·A with scale = lora_alpha / r
/// (lora_alpha / √r with `use_rslora`). q/k B rows are in Hugging Face order and are permuted to GGUF order here.
public struct LlamaAdapter: Sendable {
    /// The `adapter_config.json` fields read; the rest of PEFT's keys are ignored.
    struct Config: Decodable {
        var r: Int
        var lora_alpha: Float
        var target_modules: [String]
        var peft_type: String?
        var fan_in_fan_out: Bool?
        var use_rslora: Bool?
        var use_dora: Bool?
    }

    /// One adapted projection: A [rank, in] and B [out, rank], B rows in Hugging Face order.
    struct Pair: Sendable {
        var a: [Float]
        var aShape: [Int]
        var b: [Float]
        var bShape: [Int]
    }

    /// The adapter directory.
    public let directory: String
    /// Rank r.
    public let rank: Int
    /// The multiplier of B·A: alpha / r, or alpha / √r for rank-stabilised LoRA.
    public let scale: Float
    /// The adapted projections.
    public let targets: Set<LoRATarget>
    /// Layer → target → matrices.
    let pairs: [[LoRATarget: Pair]]

    /// Reads `directory`; throws a `LlamaAdapterError` naming the file for a missing file, bad JSON, an
    /// unknown target module or a tensor that is missing, unexpected or not F32/F16/BF16.
    public init(directory: String) throws(LlamaAdapterError) {
        self.directory = directory
        let configPath = (directory as NSString).appendingPathComponent("adapter_config.json")
        let tensorsPath = (directory as NSString).appendingPathComponent("adapter_model.safetensors")
        guard let json = FileManager.default.contents(atPath: configPath) else {
            throw .io("cannot read \(configPath)")
        }
        let config: Config
        do { config = try JSONDecoder().decode(Config.self, from: json) } catch {
            throw .config("\(configPath): not a PEFT adapter config: \(Self.describe(error))")
        }
        if let type = config.peft_type, type != "LORA" {
            throw .config("\(configPath): peft_type is \(type); only LORA adapters can be applied")
        }
        if config.use_dora == true { throw .config("\(configPath): DoRA adapters (use_dora) are not supported") }
        if config.fan_in_fan_out == true {
            throw .config("\(configPath): fan_in_fan_out adapters (Conv1D layout) are not supported")
        }
        guard config.r >= 1 else { throw .config("\(configPath): r must be ≥ 1, got \(config.r)") }
        guard config.lora_alpha.isFinite, config.lora_alpha > 0 else {
            throw .config("\(configPath): lora_alpha must be > 0, got \(config.lora_alpha)")
        }
        var targets = Set<LoRATarget>()
        for module in config.target_modules {
            guard let t = LoRATarget(name: module) else {
                throw .config(
                    "\(configPath): unknown target module '\(module)'; expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj")
            }
            targets.insert(t)
        }
        guard !targets.isEmpty else { throw .config("\(configPath): target_modules is empty") }
        rank = config.r
        scale = config.use_rslora == true ? config.lora_alpha / Float(config.r).squareRoot() : config.lora_alpha / Float(config.r)
        self.targets = targets

        guard FileManager.default.fileExists(atPath: tensorsPath) else {
            throw .io("\(tensorsPath) is missing")
        }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: tensorsPath) } catch { throw .io(Self.describe(error)) }
        // Every name must be one of ours, so a tensor for a layer or module the config does not announce is
        // an error rather than silently dropped.
        var pairs: [[LoRATarget: Pair]] = []
        var seen = Set<String>()
        var layer = 0
        while true {
            var row: [LoRATarget: Pair] = [:]
            for t in targets.sorted() {
                let aName = PEFTExport.tensorName(layer: layer, target: t, matrix: "A")
                let bName = PEFTExport.tensorName(layer: layer, target: t, matrix: "B")
                let hasA = file.info(named: aName) != nil, hasB = file.info(named: bName) != nil
                if !hasA && !hasB { continue }
                guard hasA && hasB else {
                    throw .tensor("\(tensorsPath): \(hasA ? bName : aName) is missing (its partner is present)")
                }
                do {
                    let a = try file.tensor(named: aName), b = try file.tensor(named: bName)
                    row[t] = Pair(a: a.data, aShape: a.shape, b: b.data, bShape: b.shape)
                } catch { throw .tensor(Self.describe(error)) }
                seen.formUnion([aName, bName])
            }
            if row.isEmpty { break }
            pairs.append(row)
            layer += 1
        }
        if let stray = file.names.first(where: { !seen.contains($0) }) {
            throw .tensor(
                "\(tensorsPath): unexpected tensor \(stray) (not a lora_A/lora_B of target_modules \(config.target_modules) in layers 0..<\(pairs.count))")
        }
        guard !pairs.isEmpty else { throw .tensor("\(tensorsPath): no adapter tensors for target_modules \(config.target_modules)") }
        self.pairs = pairs
    }

    private static func describe(_ error: Error) -> String {
        if let e = error as? SafeTensorsError { return e.message }
        if let e = error as? DecodingError {
            switch e {
            case .keyNotFound(let key, _): return "missing key \(key.stringValue)"
            case .typeMismatch(_, let c), .valueNotFound(_, let c): return "bad value at \(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
            case .dataCorrupted(let c): return c.debugDescription
            @unknown default: return "\(e)"
            }
        }
        return "\(error)"
    }
}
