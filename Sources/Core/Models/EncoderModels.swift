import Foundation
import Neural

/// Finds and loads sentence-encoder model folders under the configured models directory.
///
/// A missing or incomplete folder is a `TwinError.model` naming the path and the command that fetches it.
public enum EncoderModels {
    /// The encoder used when none is named.
    public static let defaultName = "all-MiniLM-L6-v2"
    /// The command that downloads the model files.
    public static let fetchCommand = "ops/models"

    /// `<modelsDirectory>/<name>`.
    public static func directory(named name: String, configuration: TwinConfiguration) -> String {
        (configuration.modelsDirectory as NSString).appendingPathComponent(name)
    }

    /// Loads the encoder `name` once; callers keep the result and reuse it for every call.
    public static func load(named name: String = defaultName, configuration: TwinConfiguration) throws -> SentenceEncoder {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw TwinError.invalidInput("model name \"\(name)\" must be a folder name under TWIN_MODELS_DIR")
        }
        let path = directory(named: name, configuration: configuration)
        let missing = SentenceEncoder.requiredFiles.filter { !FileManager.default.fileExists(atPath: path + "/" + $0) }
        guard missing.isEmpty else {
            let what = missing.count == SentenceEncoder.requiredFiles.count ? "model folder \(path) is missing or empty"
                : "model folder \(path) is incomplete (missing \(missing.joined(separator: ", ")))"
            throw TwinError.model("\(what); run \(fetchCommand) to fetch it (TWIN_MODELS_DIR=\(configuration.modelsDirectory))")
        }
        do {
            return try SentenceEncoder(directory: path)
        } catch {
            throw TwinError.model("cannot load \(path): \(error); run \(fetchCommand) to fetch a fresh copy")
        }
    }
}
