import Foundation

/// BERT's WordPiece tokenizer: text → token ids equal to Hugging Face's `BertTokenizerFast` output.
///
/// Special tokens written in the input (`[SEP]`, `[MASK]`…) are matched verbatim before normalisation, as
/// the Hugging Face added-token pass does; each remaining word is split greedily into the longest
/// vocabulary pieces, continuation pieces carrying `##`. A word with no split becomes `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    /// Vocabulary keyed by UTF-8 bytes, not `String`: Swift compares strings by canonical equivalence,
    /// which would let a decomposed Hangul word match a precomposed vocabulary entry that BERT does not.
    private let vocabulary: [[UInt8]: Int32]
    /// Token strings by id.
    public let tokens: [String]
    /// Normalisation and pre-tokenisation settings.
    public let normalizer: BertTextNormalizer
    /// Longest sequence produced by `encode`, special tokens included.
    public let maxLength: Int
    /// Words longer than this many characters become `[UNK]` without being split.
    public let maxCharactersPerWord = 100

    public let clsId: Int32
    public let sepId: Int32
    public let padId: Int32
    public let unkId: Int32
    /// Special tokens matched verbatim in the input, longest first.
    private let specials: [(scalars: [Unicode.Scalar], id: Int32)]

    /// A tokenizer over `tokens` (id = index), e.g. the lines of `vocab.txt`.
    public init(tokens: [String], normalizer: BertTextNormalizer = BertTextNormalizer(), maxLength: Int = 512) throws {
        var vocabulary: [[UInt8]: Int32] = [:]
        vocabulary.reserveCapacity(tokens.count)
        for (index, token) in tokens.enumerated() where vocabulary[Array(token.utf8)] == nil {
            vocabulary[Array(token.utf8)] = Int32(index)
        }
        func id(_ token: String) throws -> Int32 {
            guard let id = vocabulary[Array(token.utf8)] else {
                throw WordPieceError("vocabulary has no \(token) token")
            }
            return id
        }
        guard maxLength >= 2 else { throw WordPieceError("maxLength \(maxLength) leaves no room for [CLS] and [SEP]") }
        self.vocabulary = vocabulary
        self.tokens = tokens
        self.normalizer = normalizer
        self.maxLength = maxLength
        self.clsId = try id("[CLS]")
        self.sepId = try id("[SEP]")
        self.padId = try id("[PAD]")
        self.unkId = try id("[UNK]")
        self.specials = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"]
            .compactMap { name in vocabulary[Array(name.utf8)].map { (Array(name.unicodeScalars), $0) } }
    }

    /// Loads `vocab.txt` (one token per line, id = line number).
    public init(vocabularyPath: String, normalizer: BertTextNormalizer = BertTextNormalizer(), maxLength: Int = 512) throws {
        guard let data = FileManager.default.contents(atPath: vocabularyPath) else {
            throw WordPieceError("\(vocabularyPath): cannot read the vocabulary")
        }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let tokens = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard !tokens.isEmpty else { throw WordPieceError("\(vocabularyPath): the vocabulary is empty") }
        do {
            try self.init(tokens: tokens, normalizer: normalizer, maxLength: maxLength)
        } catch let error as WordPieceError {
            throw WordPieceError("\(vocabularyPath): \(error.message)")
        }
    }

    /// Token ids for `text`: `[CLS]`, the pieces (truncated to `maxLength - 2`), `[SEP]`.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = [clsId]
        appendPieces(of: text, to: &ids, limit: maxLength - 2)
        ids.append(sepId)
        return ids
    }

    /// Token ids for raw bytes; invalid UTF-8 is replaced (U+FFFD, which normalisation then drops).
    public func encode(utf8 bytes: some Collection<UInt8>) -> [Int32] {
        encode(String(decoding: bytes, as: UTF8.self))
    }

    /// Word pieces of `text` as strings, without special tokens or truncation (for inspection and tests).
    public func tokenize(_ text: String) -> [String] {
        var ids: [Int32] = []
        appendPieces(of: text, to: &ids, limit: Int.max)
        return ids.map { tokens[Int($0)] }
    }

    /// Encodes every text and pads the batch to its longest sequence.
    public func encodeBatch(_ texts: [String]) -> WordPieceBatch {
        WordPieceBatch(sequences: texts.map(encode), padId: padId)
    }

    private func appendPieces(of text: String, to ids: inout [Int32], limit: Int) {
        let start = ids.count
        for segment in splitOnSpecials(text) {
            if ids.count - start >= limit { break }
            switch segment {
            case .special(let id):
                ids.append(id)
            case .text(let part):
                for word in normalizer.words(part) {
                    if ids.count - start >= limit { break }
                    appendWordPieces(word, to: &ids)
                }
            }
        }
        if ids.count - start > limit { ids.removeLast(ids.count - start - limit) }
    }

    private enum Segment { case text(Substring), special(Int32) }

    /// Splits out special tokens written verbatim (case-sensitive, leftmost, longest).
    private func splitOnSpecials(_ text: String) -> [Segment] {
        guard text.utf8.contains(UInt8(ascii: "[")) else { return [.text(text[...])] }
        var segments: [Segment] = []
        let scalars = text.unicodeScalars
        var segmentStart = scalars.startIndex
        var index = scalars.startIndex
        while index < scalars.endIndex {
            if scalars[index] == "[", let (id, end) = matchSpecial(in: scalars, at: index) {
                if segmentStart < index { segments.append(.text(Substring(scalars[segmentStart..<index]))) }
                segments.append(.special(id))
                index = end
                segmentStart = end
            } else {
                index = scalars.index(after: index)
            }
        }
        if segmentStart < scalars.endIndex { segments.append(.text(Substring(scalars[segmentStart...]))) }
        return segments
    }

    private func matchSpecial(in scalars: String.UnicodeScalarView, at index: String.Index) -> (Int32, String.Index)? {
        var best: (Int32, String.Index, Int)?
        for special in specials {
            var position = index
            var matched = true
            for scalar in special.scalars {
                guard position < scalars.endIndex, scalars[position] == scalar else { matched = false; break }
                position = scalars.index(after: position)
            }
            if matched && special.scalars.count > (best?.2 ?? 0) { best = (special.id, position, special.scalars.count) }
        }
        return best.map { ($0.0, $0.1) }
    }

    /// Greedy longest-match-first split of one word; `[UNK]` when any part has no vocabulary piece.
    private func appendWordPieces(_ word: String, to ids: inout [Int32]) {
        let scalars = Array(word.unicodeScalars)
        guard scalars.count <= maxCharactersPerWord else { ids.append(unkId); return }
        var pieces: [Int32] = []
        var start = 0
        var key: [UInt8] = []
        while start < scalars.count {
            var end = scalars.count
            var found: Int32?
            while start < end {
                key.removeAll(keepingCapacity: true)
                if start > 0 { key.append(UInt8(ascii: "#")); key.append(UInt8(ascii: "#")) }
                for scalar in scalars[start..<end] { key.append(contentsOf: UTF8.encode(scalar)!) }
                if let id = vocabulary[key] { found = id; break }
                end -= 1
            }
            guard let id = found else { ids.append(unkId); return }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}

/// A padded batch of token sequences, row-major `[count, sequenceLength]`.
public struct WordPieceBatch: Sendable, Equatable {
    /// Token ids, padded with `[PAD]`.
    public let ids: [Int32]
    /// 1 for real tokens, 0 for padding.
    public let attentionMask: [Int32]
    /// Real length of each sequence.
    public let lengths: [Int]
    /// Length of every padded row (the longest sequence).
    public let sequenceLength: Int

    /// Pads `sequences` to the longest one.
    public init(sequences: [[Int32]], padId: Int32) {
        let width = sequences.map(\.count).max() ?? 0
        var ids: [Int32] = []
        var mask: [Int32] = []
        ids.reserveCapacity(width * sequences.count)
        mask.reserveCapacity(width * sequences.count)
        for sequence in sequences {
            ids += sequence + [Int32](repeating: padId, count: width - sequence.count)
            mask += [Int32](repeating: 1, count: sequence.count) + [Int32](repeating: 0, count: width - sequence.count)
        }
        self.ids = ids
        self.attentionMask = mask
        self.lengths = sequences.map(\.count)
        self.sequenceLength = width
    }

    /// Number of sequences.
    public var count: Int { lengths.count }
}

/// Why a WordPiece vocabulary could not be loaded.
public struct WordPieceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong; names the file when there is one.
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
