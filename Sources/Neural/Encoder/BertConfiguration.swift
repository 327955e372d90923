import Foundation

/// The BERT hyper-parameters Neural needs, read from a Hugging Face `config.json`.
public struct BertConfiguration: Sendable, Equatable, Decodable {
    /// Width of every token vector (`hidden_size`).
    public var hiddenSize: Int
    /// Transformer layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Attention heads per layer (`num_attention_heads`).
    public var headCount: Int
    /// Feed-forward width (`intermediate_size`).
    public var intermediateSize: Int
    /// Rows of the token embedding (`vocab_size`).
    public var vocabularySize: Int
    /// Longest sequence the position embedding covers.
    public var maxPositions: Int
    /// Segment types (`type_vocab_size`).
    public var typeVocabularySize: Int
    /// LayerNorm epsilon (`layer_norm_eps`).
    public var layerNormEpsilon: Float
    /// Activation of the feed-forward block; only the exact `gelu` is supported.
    public var hiddenActivation: String

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", layerCount = "num_hidden_layers", headCount = "num_attention_heads"
        case intermediateSize = "intermediate_size", vocabularySize = "vocab_size"
        case maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEpsilon = "layer_norm_eps", hiddenActivation = "hidden_act"
    }

    /// A configuration given field by field (tests build tiny models with it).
    public init(
        hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int, vocabularySize: Int,
        maxPositions: Int = 512, typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12, hiddenActivation: String = "gelu"
    ) {
        self.hiddenSize = hiddenSize; self.layerCount = layerCount; self.headCount = headCount
        self.intermediateSize = intermediateSize; self.vocabularySize = vocabularySize; self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize; self.layerNormEpsilon = layerNormEpsilon
        self.hiddenActivation = hiddenActivation
    }

    /// Reads and validates `config.json`.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw EncoderError("\(path): cannot read") }
        let decoded: BertConfiguration
        do {
            decoded = try JSONDecoder().decode(BertConfiguration.self, from: data)
        } catch {
            throw EncoderError("\(path): not a BERT config.json (\(error))")
        }
        try decoded.validate(path: path)
        self = decoded
    }

    /// Size of one attention head.
    public var headSize: Int { hiddenSize / headCount }

    func validate(path: String) throws {
        guard hiddenSize > 0, layerCount > 0, headCount > 0, hiddenSize % headCount == 0, intermediateSize > 0,
              vocabularySize > 0, maxPositions > 0, typeVocabularySize > 0 else {
            throw EncoderError("\(path): inconsistent BERT dimensions")
        }
        guard hiddenActivation == "gelu" else {
            throw EncoderError("\(path): hidden_act '\(hiddenActivation)' is not supported (only gelu)")
        }
    }
}

/// Why an encoder model could not be loaded or run; names the file involved.
public struct EncoderError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in words a user can act on.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
