import Foundation

/// The sentence-transformers configuration files of a model folder, decoded.
struct SentenceEncoderFiles {
    /// How token vectors become one sentence vector (`1_Pooling/config.json`).
    enum Pooling: String, Sendable { case mean, cls, max }

    var maxSequenceLength = 512
    var lowercaseInput = false
    var tokenizerLowercase = true
    var stripAccents: Bool?
    var chineseCharacters = true
    var pooling = Pooling.mean
    var normalize = false

    /// Reads the optional files; a file that exists but cannot be parsed is an error naming it.
    init(directory: String) throws {
        if let object = try Self.jsonObject(directory + "/sentence_bert_config.json") {
            if let length = object["max_seq_length"] as? Int { maxSequenceLength = length }
            if let lower = object["do_lower_case"] as? Bool { lowercaseInput = lower }
        }
        if let object = try Self.jsonObject(directory + "/tokenizer_config.json") {
            if let lower = object["do_lower_case"] as? Bool { tokenizerLowercase = lower }
            stripAccents = object["strip_accents"] as? Bool
            if let chinese = object["tokenize_chinese_chars"] as? Bool { chineseCharacters = chinese }
        }
        var poolingPath = "1_Pooling"
        let modulesPath = directory + "/modules.json"
        if let data = FileManager.default.contents(atPath: modulesPath) {
            guard let modules = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
                throw EncoderError("\(modulesPath): not a list of modules")
            }
            for module in modules {
                let type = module["type"] as? String ?? ""
                if type.hasSuffix(".Normalize") { normalize = true }
                if type.hasSuffix(".Pooling"), let path = module["path"] as? String { poolingPath = path }
            }
        }
        if let object = try Self.jsonObject("\(directory)/\(poolingPath)/config.json") {
            let modes = [("pooling_mode_mean_tokens", Pooling.mean), ("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max)]
                .filter { object[$0.0] as? Bool == true }
            let unsupported = ["pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
                .filter { object[$0] as? Bool == true }
            guard modes.count == 1, unsupported.isEmpty else {
                throw EncoderError("\(directory)/\(poolingPath)/config.json: exactly one of mean, cls or max pooling is supported")
            }
            pooling = modes[0].1
        }
    }

    private static func jsonObject(_ path: String) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EncoderError("\(path): not a JSON object")
        }
        return object
    }
}
