/// A byte-level BPE tokenizer (GPT-2 style) built from GGUF `tokenizer.ggml.*` metadata.
///
/// Encoding: special tokens are cut out first (control tokens only when `parseSpecial`), the rest is
/// pre-tokenized (`BPEPreTokenizer`), each piece's UTF-8 bytes are mapped to scalars and merged by rank.
/// Token ids match llama.cpp's `llama_tokenize` on the same text. Decoding is byte-exact.
public final class BPETokenizer: Sendable {
    /// Token kinds from `tokenizer.ggml.token_type` (llama.cpp's numbering).
    public enum TokenKind: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// Token strings as stored in the vocabulary (mapped scalars for normal tokens).
    public let tokens: [String]
    /// The kind of each token.
    public let kinds: [TokenKind]
    /// Beginning-of-sequence token id.
    public let bosId: Int
    /// End-of-sequence token id.
    public let eosId: Int
    /// Padding token id.
    public let padId: Int
    /// Unknown token id.
    public let unknownId: Int
    /// Whether llama.cpp would put `bosId` in front of an encoded prompt (`tokenizer.ggml.add_bos_token`).
    public let addsBos: Bool

    private let vocab: [String: Int32]
    private let byteTokens: [Int32]  // id of the single-byte token for each byte value
    /// Bytes the vocabulary has no token for; `encode` drops them (as llama.cpp does).
    public let unrepresentableBytes: [UInt8]
    private let merges: [UInt64: (rank: Int32, result: Int32)]
    private let tokenBytes: [[UInt8]]
    /// Texts that are cut out before BPE, longest first: (text as UTF-8 scalars, id, needs parseSpecial).
    private let specials: [(scalars: [Unicode.Scalar], id: Int32, control: Bool)]

    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { tokens.count }

    /// Builds a tokenizer from vocabulary, token kinds and merges ("left right", rank = index).
    public init(
        tokens: [String], kinds: [TokenKind], merges mergeLines: [String],
        bosId: Int, eosId: Int, padId: Int, unknownId: Int, addsBos: Bool = false
    ) throws(GGUFError) {
        guard tokens.count == kinds.count, !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw .corrupt("tokenizer: \(tokens.count) tokens but \(kinds.count) token types")
        }
        for (name, id) in [("bos", bosId), ("eos", eosId), ("pad", padId), ("unknown", unknownId)]
        where !(0..<tokens.count).contains(id) {
            throw .corrupt("tokenizer: \(name) token id \(id) is outside the vocabulary of \(tokens.count)")
        }
        self.tokens = tokens
        self.kinds = kinds
        self.bosId = bosId
        self.eosId = eosId
        self.padId = padId
        self.unknownId = unknownId
        self.addsBos = addsBos

        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where vocab[t] == nil { vocab[t] = Int32(i) }
        self.vocab = vocab

        // Some vocabularies (SmolLM2's among them) lack a few control-byte tokens (0x04, 0x06, 0x13, …).
        // Such bytes get a placeholder id past the vocabulary and are dropped from the output, as llama.cpp
        // drops symbols it cannot find.
        var byteTokens = [Int32](repeating: -1, count: 256)
        var missing: [UInt8] = []
        for b in 0..<256 {
            if let id = vocab[String(Character(BPEByteMapping.byteToScalar[b]))] {
                byteTokens[b] = id
            } else {
                byteTokens[b] = Int32(tokens.count + b)
                missing.append(UInt8(b))
            }
        }
        self.byteTokens = byteTokens
        unrepresentableBytes = missing

        var merges: [UInt64: (rank: Int32, result: Int32)] = [:]
        merges.reserveCapacity(mergeLines.count)
        for (rank, line) in mergeLines.enumerated() {
            // The separator is the first space after the first character (a token may itself be " ").
            let scalars = Array(line.unicodeScalars)
            guard scalars.count >= 3, let sep = scalars[1...].firstIndex(of: " ") else {
                throw .corrupt("tokenizer: merge #\(rank) \"\(line)\" is not of the form \"left right\"")
            }
            var left = String.UnicodeScalarView(), right = String.UnicodeScalarView()
            left.append(contentsOf: scalars[..<sep])
            right.append(contentsOf: scalars[(sep + 1)...])
            let l = String(left), r = String(right)
            // A merge whose parts or result are not tokens can never apply to token ids; skip it.
            guard let li = vocab[l], let ri = vocab[r], let result = vocab[l + r] else { continue }
            let key = UInt64(UInt32(li)) << 32 | UInt64(UInt32(ri))
            if merges[key] == nil { merges[key] = (Int32(rank), result) }
        }
        self.merges = merges

        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(tokens.count)
        for (t, kind) in zip(tokens, kinds) {
            if kind == .normal || kind == .unknown || kind == .undefined {
                var out: [UInt8] = []
                for s in t.unicodeScalars {
                    if let b = BPEByteMapping.byte(for: s) { out.append(b) } else { out.append(contentsOf: Array(String(s).utf8)) }
                }
                bytes.append(out)
            } else {
                bytes.append(Array(t.utf8))
            }
        }
        tokenBytes = bytes

        var specials: [(scalars: [Unicode.Scalar], id: Int32, control: Bool)] = []
        for (i, (t, kind)) in zip(tokens, kinds).enumerated() where (kind == .control || kind == .userDefined) && !t.isEmpty {
            specials.append((Array(t.unicodeScalars), Int32(i), kind == .control))
        }
        specials.sort { $0.scalars.count > $1.scalars.count }
        self.specials = specials
    }

    /// Reads the tokenizer of a GGUF file; only `tokenizer.ggml.model = gpt2` (byte-level BPE) is supported.
    public convenience init(gguf: GGUFFile) throws(GGUFError) {
        let model = try gguf.requireString("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw .unsupportedType("\(gguf.path): tokenizer model \"\(model)\" is not supported (only gpt2 byte-level BPE)")
        }
        if let pre = gguf.metadata["tokenizer.ggml.pre"]?.stringValue,
            !["smollm", "starcoder", "refact", "codeshell"].contains(pre) {
            throw .unsupportedType("\(gguf.path): pre-tokenizer \"\(pre)\" is not supported (only smollm-style)")
        }
        let tokens = try gguf.requireStrings("tokenizer.ggml.tokens")
        var kinds = [TokenKind](repeating: .normal, count: tokens.count)
        if let types = gguf.metadata["tokenizer.ggml.token_type"]?.arrayValue {
            guard types.count == tokens.count else {
                throw .corrupt("\(gguf.path): \(types.count) token types for \(tokens.count) tokens")
            }
            for (i, t) in types.enumerated() { kinds[i] = TokenKind(rawValue: Int32(t.intValue ?? 1)) ?? .normal }
        }
        let merges = try gguf.requireStrings("tokenizer.ggml.merges")
        let eos = try gguf.requireInt("tokenizer.ggml.eos_token_id")
        try self.init(
            tokens: tokens, kinds: kinds, merges: merges,
            bosId: gguf.metadata["tokenizer.ggml.bos_token_id"]?.intValue ?? eos, eosId: eos,
            padId: gguf.metadata["tokenizer.ggml.padding_token_id"]?.intValue ?? eos,
            unknownId: gguf.metadata["tokenizer.ggml.unknown_token_id"]?.intValue ?? 0,
            addsBos: gguf.metadata["tokenizer.ggml.add_bos_token"]?.boolValue ?? false)
    }

    /// The id of a token string (as stored in the vocabulary), or nil.
    public func id(of token: String) -> Int? { vocab[token].map(Int.init) }

    /// Whether `id` is a control token (chat markers, end of text).
    public func isControl(_ id: Int) -> Bool { kinds[id] == .control }

    /// Token ids for `text`. With `parseSpecial`, control-token texts such as `<|im_start|>` become their
    /// ids; without it they are tokenized as plain text. No BOS is added.
    public func encode(_ text: String, parseSpecial: Bool = false) -> [Int] {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        ids.reserveCapacity(scalars.count / 3 + 4)
        var start = 0
        var i = 0
        while i < scalars.count {
            if let (len, id) = special(at: i, in: scalars, parseSpecial: parseSpecial) {
                if start < i { encodeText(scalars[start..<i], into: &ids) }
                ids.append(Int(id))
                i += len
                start = i
            } else {
                i += 1
            }
        }
        if start < scalars.count { encodeText(scalars[start..<scalars.count], into: &ids) }
        return ids
    }

    private func special(at i: Int, in scalars: [Unicode.Scalar], parseSpecial: Bool) -> (Int, Int32)? {
        for s in specials where (parseSpecial || !s.control) && s.scalars.count <= scalars.count - i {
            if s.scalars[0] == scalars[i] && scalars[i..<(i + s.scalars.count)].elementsEqual(s.scalars) {
                return (s.scalars.count, s.id)
            }
        }
        return nil
    }

    private func encodeText(_ slice: ArraySlice<Unicode.Scalar>, into ids: inout [Int]) {
        let scalars = Array(slice)
        var symbols: [Int32] = []
        for piece in BPEPreTokenizer.split(scalars) {
            symbols.removeAll(keepingCapacity: true)
            for s in scalars[piece] {
                for b in String(s).utf8 { symbols.append(byteTokens[Int(b)]) }
            }
            mergeSymbols(&symbols)
            for s in symbols where Int(s) < tokens.count { ids.append(Int(s)) }
        }
    }

    /// Applies merges lowest rank first (leftmost on ties) until none applies.
    private func mergeSymbols(_ symbols: inout [Int32]) {
        while symbols.count > 1 {
            var bestRank = Int32.max, bestAt = -1, bestResult: Int32 = 0
            for j in 0..<(symbols.count - 1) {
                let key = UInt64(UInt32(symbols[j])) << 32 | UInt64(UInt32(symbols[j + 1]))
                if let m = merges[key], m.rank < bestRank {
                    bestRank = m.rank
                    bestAt = j
                    bestResult = m.result
                }
            }
            if bestAt < 0 { return }
            symbols[bestAt] = bestResult
            symbols.remove(at: bestAt + 1)
        }
    }

    /// The bytes a token stands for; control tokens give their text only when `includeSpecial`.
    public func bytes(of id: Int, includeSpecial: Bool = false) -> [UInt8] {
        guard id >= 0, id < tokens.count else { return [] }
        if kinds[id] == .control && !includeSpecial { return [] }
        return tokenBytes[id]
    }

    /// The text of `ids`, byte-exact; invalid UTF-8 (a cut multi-byte character) is repaired with U+FFFD.
    public func decode(_ ids: [Int], includeSpecial: Bool = false) -> String {
        var out: [UInt8] = []
        for id in ids { out.append(contentsOf: bytes(of: id, includeSpecial: includeSpecial)) }
        return String(decoding: out, as: UTF8.self)
    }
}
