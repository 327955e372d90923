import Foundation
import Neural

/// Finds and loads the local decoder model (`SmolLM2-135M-Instruct.Q4_1.gguf` by default).
public enum DecoderModelResolver {
    /// The file name of the default decoder model inside the models directory.
    public static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The path for `model`: nil means the default file in `modelsDirectory`; a value that names an
    /// existing file is used as is; otherwise it is a name inside `modelsDirectory` (with or without
    /// `.gguf`). Throws `TwinError.model` naming the path tried and how to fetch the model.
    public static func path(for model: String?, modelsDirectory: String) throws -> String {
        let fm = FileManager.default
        guard let model, !model.isEmpty else {
            let path = (modelsDirectory as NSString).appendingPathComponent(defaultFileName)
            guard fm.fileExists(atPath: path) else { throw missing(path) }
            return path
        }
        if fm.fileExists(atPath: model) { return model }
        let inDir = (modelsDirectory as NSString).appendingPathComponent(model)
        for candidate in [inDir, inDir + ".gguf"] where fm.fileExists(atPath: candidate) { return candidate }
        throw missing(model.contains("/") ? model : inDir)
    }

    private static func missing(_ path: String) -> TwinError {
        .model("decoder model not found at \(path); run ops/models to fetch it, or set TWIN_MODELS_DIR")
    }

    /// Loads the model at `path`, turning file format errors into `TwinError.model`.
    public static func load(path: String) throws -> LlamaModel {
        do {
            return try LlamaModel(path: path)
        } catch {
            throw TwinError.model("cannot load decoder model: \(error.message)")
        }
    }
}
