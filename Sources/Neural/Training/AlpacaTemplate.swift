/// The Alpaca prompt template shared by training (SFT, DPO) and inference, so both see the same text.
///
/// `prompt(instruction:)` is what inference sends; training appends the response and the EOS token.
public enum AlpacaTemplate {
    /// The fixed preamble.
    public static let preamble =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request."

    /// The prompt up to and including `### Response:\n`, ready for the model to continue.
    public static func prompt(instruction: String) -> String {
        preamble + "\n\n### Instruction:\n" + instruction + "\n\n### Response:\n"
    }

    /// The full training text without EOS (add the tokenizer's EOS id after tokenising).
    public static func text(instruction: String, response: String) -> String {
        prompt(instruction: instruction) + response
    }
}
