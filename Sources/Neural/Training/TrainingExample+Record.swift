extension SFTExample {
    /// Builds an example from a dataset row (`instruction`, `output`; Alpaca's optional `input` is
    /// appended to the instruction after a blank line), naming the row and column when one is missing.
    public init(record: [String: String], index: Int) throws {
        guard let instruction = record["instruction"] else {
            throw TrainingError.invalidInput("sft example \(index): missing column 'instruction'")
        }
        guard let output = record["output"] else {
            throw TrainingError.invalidInput("sft example \(index): missing column 'output'")
        }
        let input = record["input"] ?? ""
        self.init(instruction: input.isEmpty ? instruction : instruction + "\n\n" + input, output: output)
    }
}

extension DPOExample {
    /// Builds a preference example from a dataset row (`prompt`, `chosen`, `rejected`), naming the row
    /// and column when one is missing.
    public init(record: [String: String], index: Int) throws {
        var values: [String] = []
        for key in ["prompt", "chosen", "rejected"] {
            guard let v = record[key] else { throw TrainingError.invalidInput("dpo example \(index): missing column '\(key)'") }
            values.append(v)
        }
        self.init(prompt: values[0], chosen: values[1], rejected: values[2])
    }
}
