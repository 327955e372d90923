import Foundation
import Testing
@testable import Neural

struct BPETests {
    struct TokenCase: Decodable {
        var text: String
        var special: Bool
        var ids: [Int]
    }

    static let tokenizer: BPETokenizer? = try? BPETokenizer(gguf: GGUFFile(path: TestModels.smolLMPath))

    private func tokenizer() throws -> BPETokenizer {
        try #require(Self.tokenizer, "model file missing at \(TestModels.smolLMPath)")
    }

    @Test func idsMatchLlamaCpp() throws {
        let tok = try tokenizer()
        let cases = try TestModels.fixture("tokens.json", as: [TokenCase].self)
        #expect(cases.count >= 15)
        for c in cases {
            #expect(tok.encode(c.text, parseSpecial: c.special) == c.ids, "\(c.text.debugDescription)")
        }
    }

    @Test func specialTokensAndIds() throws {
        let tok = try tokenizer()
        #expect(tok.bosId == 1 && tok.eosId == 2 && tok.padId == 2 && tok.unknownId == 0)
        #expect(tok.encode("<|im_start|>", parseSpecial: true) == [1])
        #expect(tok.encode("<|im_end|>", parseSpecial: true) == [2])
        #expect(tok.encode("<|im_start|>").count > 1)
        #expect(tok.decode([1, 2]) == "")
        #expect(tok.decode([1, 2], includeSpecial: true) == "<|im_start|><|im_end|>")
    }

    @Test func roundTripsArbitraryUTF8() throws {
        let tok = try tokenizer()
        var rng = SystemRandomNumberGenerator()
        let pools: [ClosedRange<UInt32>] = [0x20...0x7e, 0xa0...0x24f, 0x370...0x3ff, 0x4e00...0x4fff, 0x1f300...0x1f6ff]
        for _ in 0..<200 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                let pool = pools.randomElement(using: &rng)!
                if let u = Unicode.Scalar(UInt32.random(in: pool, using: &rng)) { s.append(u) }
                if Int.random(in: 0..<8, using: &rng) == 0 { s.append(["\n", "\t", " ", "\r"].randomElement(using: &rng)!) }
            }
            let text = String(s)
            #expect(tok.decode(tok.encode(text)) == text)
        }
        // Bytes the vocabulary lacks are dropped, as llama.cpp drops them: six ASCII controls, lead bytes of
        // planes 4–12 (0xF1, 0xF2) and bytes that never occur in valid UTF-8.
        let expectedMissing: [UInt8] = [4, 6, 19, 20, 22, 29, 0xc0, 0xc1, 0xf1, 0xf2] + Array(0xf5...0xff)
        #expect(tok.unrepresentableBytes == expectedMissing)
        #expect(tok.decode(tok.encode("a\u{4}b")) == "ab")
    }

    @Test func streamDecoderNeverSplitsCharacters() throws {
        let tok = try tokenizer()
        let text = "emoji 🤖🚀 and 東京 and café"
        let ids = tok.encode(text)
        var decoder = BPEStreamDecoder(tokenizer: tok)
        var pieces: [String] = []
        for id in ids { pieces.append(decoder.append(id)) }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == text)
        #expect(!pieces.contains { $0.contains("\u{FFFD}") })
    }

    @Test func rejectsNonBPETokenizer() throws {
        var b = GGUFBuilder()
        b.metadata = [("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", .strings(["a"]))]
        let path = try GGUFBuilder.write(b.bytes())
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect {
            _ = try BPETokenizer(gguf: GGUFFile(path: path))
        } throws: { error in
            (error as? GGUFError)?.message.contains("tokenizer model \"llama\" is not supported") == true
        }
    }

    @Test func tinyVocabularyMergesByRank() throws {
        // Bytes as GPT-2 maps them: "a", "b", "Ġ" (space); merges: "a b" (rank 0), "Ġ ab" (rank 1).
        let byteTokens = (0..<256).map { String(Character(BPEByteMapping.byteToScalar[$0])) }
        let tokens = ["<|endoftext|>"] + byteTokens + ["ab", "Ġab"]
        let kinds: [BPETokenizer.TokenKind] = [.control] + Array(repeating: .normal, count: 258)
        let tok = try BPETokenizer(tokens: tokens, kinds: kinds, merges: ["a b", "Ġ ab"], bosId: 0, eosId: 0, padId: 0, unknownId: 0)
        #expect(tok.encode("ab ab") == [257, 258])
        #expect(tok.encode("ba") == [1 + 98, 1 + 97])
        #expect(tok.decode([257, 258]) == "ab ab")
        #expect(tok.encode("<|endoftext|>", parseSpecial: true) == [0])
    }
}
