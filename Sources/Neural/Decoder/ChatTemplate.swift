/// One message of a chat.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// `system`, `user` or `assistant`.
    public var role: String
    /// The message text.
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Formats chats the way the model was trained: ChatML (`<|im_start|>role\n…<|im_end|>\n`), the template
/// SmolLM2's GGUF carries, with the default system prompt taken from that template.
public struct ChatTemplate: Sendable, Equatable {
    /// The system prompt inserted when a chat does not start with a system message (nil: none).
    public var defaultSystem: String?

    /// A ChatML template with the given default system prompt.
    public init(defaultSystem: String?) {
        self.defaultSystem = defaultSystem
    }

    /// Recognises a ChatML Jinja template (as in `tokenizer.chat_template`) and reads its default system
    /// prompt; throws for templates of another style, which this code does not render.
    public init(jinja: String) throws(GenerationError) {
        guard jinja.contains("<|im_start|>"), jinja.contains("<|im_end|>") else {
            throw .unsupportedTemplate("the model's chat template is not ChatML; only ChatML templates are supported")
        }
        let marker = "<|im_start|>system\n"
        if let start = jinja.firstRange(of: marker), let end = jinja[start.upperBound...].firstRange(of: "<|im_end|>") {
            defaultSystem = String(jinja[start.upperBound..<end.lowerBound])
        } else {
            defaultSystem = nil
        }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends with the assistant header so the
    /// model writes the next assistant turn. Parse it with `parseSpecial: true`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        if messages.first?.role != "system", let system = defaultSystem {
            out += "<|im_start|>system\n\(system)<|im_end|>\n"
        }
        for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
        if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        return out
    }
}

/// The Alpaca instruction format used by the training pipeline (SFT, DPO, evaluation); training and
/// inference must format prompts with the same function.
public enum AlpacaTemplate {
    /// The fixed preamble.
    public static let preamble =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."

    /// The prompt for `instruction` with the response still empty (what generation continues from).
    public static func prompt(instruction: String) -> String {
        "\(preamble)\n\n### Instruction:\n\(instruction)\n\n### Response:\n"
    }

    /// A full training sample: prompt plus response; the caller appends the EOS token after tokenizing.
    public static func sample(instruction: String, response: String) -> String {
        prompt(instruction: instruction) + response
    }
}
