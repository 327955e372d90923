import Foundation

/// Writes adapters in Hugging Face PEFT's layout: `adapter_model.safetensors` + `adapter_config.json`.
///
/// Tensor names: `base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight` [r, in] and
/// `….lora_B.weight` [out, r] (and `mlp.gate_proj` / `up_proj` / `down_proj`). When the model runs
/// GGUF-ordered weights (interleaved RoPE), the rows of q and k lora_B are put back into Hugging Face
/// order, undoing llama.cpp's conversion permutation, so the adapter applies to the HF checkpoint.
public enum PEFTExport {
    /// The `adapter_config.json` fields PEFT reads.
    public struct AdapterConfig: Codable, Equatable, Sendable {
        /// Rank.
        public var r: Int
        /// Scaling numerator.
        public var lora_alpha: Float
        /// Adapter input dropout.
        public var lora_dropout: Float
        /// Wrapped modules (`q_proj`, …).
        public var target_modules: [String]
        /// The base model the adapter belongs to.
        public var base_model_name_or_path: String
        /// Always `LORA`.
        public var peft_type = "LORA"
        /// Always `CAUSAL_LM`.
        public var task_type = "CAUSAL_LM"
        /// Always `none` (no bias terms are trained).
        public var bias = "none"
        /// Weights are [out, in] (false).
        public var fan_in_fan_out = false
        /// Saved for inference.
        public var inference_mode = true
        /// Plain alpha/r scaling.
        public var use_rslora = false
        /// No DoRA.
        public var use_dora = false
        /// Default initialisation was used.
        public var init_lora_weights = true
    }

    /// The PEFT tensor name of an adapter matrix.
    public static func tensorName(layer: Int, target: LoRATarget, matrix: String) -> String {
        "base_model.model.model.layers.\(layer).\(target.parentName).\(target.moduleName).lora_\(matrix).weight"
    }

    /// Adapter tensors in PEFT names and layout: name → (shape, values).
    public static func tensors(of model: LlamaTrainModel) throws -> [(name: String, shape: [Int], values: [Float])] {
        guard let lora = model.mode.lora else {
            throw TrainingError.invalidInput("peft export: the model has no adapters (full fine-tuning)")
        }
        let c = model.config
        var out: [(name: String, shape: [Int], values: [Float])] = []
        for l in 0..<c.layers {
            for target in LoRATarget.allCases.sorted() where lora.targets.contains(target) {
                guard let adapter = model.adapter(layer: l, target: target) else { continue }
                out.append((tensorName(layer: l, target: target, matrix: "A"), adapter.a.shape, adapter.a.array))
                var b = adapter.b.array
                if c.ropeStyle == .interleaved, target == .q || target == .k {
                    b = toHuggingFaceRows(b, heads: target == .q ? c.heads : c.kvHeads, headDim: c.headDim,
                                          columns: adapter.rank)
                }
                out.append((tensorName(layer: l, target: target, matrix: "B"), adapter.b.shape, b))
            }
        }
        return out
    }

    /// GGUF row (h, 2i + s) → Hugging Face row (h, s·hd/2 + i), for a [heads·hd, columns] matrix.
    public static func toHuggingFaceRows(_ m: [Float], heads: Int, headDim: Int, columns: Int) -> [Float] {
        permuteRoPERows(m, heads: heads, headDim: headDim, columns: columns, toHuggingFace: true)
    }

    /// Writes `adapter_model.safetensors` and `adapter_config.json` into `directory` (created if needed).
    public static func write(model: LlamaTrainModel, baseModel: String, to directory: URL) throws {
        guard let lora = model.mode.lora else {
            throw TrainingError.invalidInput("peft export: the model has no adapters (full fine-tuning)")
        }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.io("cannot create \(directory.path): \(error)")
        }
        let list = try tensors(of: model)
        let entries = list.map { (name: $0.name, shape: $0.shape, values: $0.values) }
        do {
            try SafeTensorsWriter.write(entries, metadata: ["format": "pt"],
                                        to: directory.appendingPathComponent("adapter_model.safetensors").path)
        } catch let e as SafeTensorsError {
            throw TrainingError.io("peft export: \(e.message)")
        }
        let config = AdapterConfig(
            r: lora.rank, lora_alpha: lora.alpha, lora_dropout: lora.dropout,
            target_modules: lora.targets.sorted().map(\.moduleName), base_model_name_or_path: baseModel)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(config).write(to: directory.appendingPathComponent("adapter_config.json"), options: .atomic)
        } catch {
            throw TrainingError.io("cannot write adapter_config.json: \(error)")
        }
    }
}

/// Moves q/k rows between llama.cpp's interleaved RoPE order, row (h, 2i + s), and Hugging Face's halves
/// order, row (h, s·hd/2 + i), for a [heads·hd, columns] matrix.
func permuteRoPERows(_ m: [Float], heads: Int, headDim: Int, columns: Int, toHuggingFace: Bool) -> [Float] {
    var out = m
    let half = headDim / 2
    for h in 0..<heads {
        for i in 0..<half {
            for s in 0..<2 {
                let interleaved = (h * headDim + 2 * i + s) * columns
                let halves = (h * headDim + s * half + i) * columns
                let (src, dst) = toHuggingFace ? (interleaved, halves) : (halves, interleaved)
                for j in 0..<columns { out[dst + j] = m[src + j] }
            }
        }
    }
    return out
}
