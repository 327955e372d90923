import Foundation
import Testing
@testable import Neural

struct WordPieceTests {
    private func modelTokenizer() throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabularyPath: EncoderReference.modelDirectory + "/vocab.txt", maxLength: 256)
    }

    @Test func idsEqualHuggingFaceOnEveryReferenceText() throws {
        let reference = try EncoderReference.load()
        let tokenizer = try modelTokenizer()
        #expect(reference.cases.count >= 20)
        for item in reference.cases {
            let ids = tokenizer.encode(item.text)
            #expect(ids == item.ids, "\(item.text.debugDescription): \(ids.map { tokenizer.tokens[Int($0)] })")
        }
    }

    @Test func issueExampleIds() throws {
        let ids = try modelTokenizer().encode("The cat sits outside waiting for a mouse.")
        #expect(ids == [101, 1996, 4937, 7719, 2648, 3403, 2005, 1037, 8000, 1012, 102])
    }

    @Test func longTextIsTruncatedToMaxLengthWithSep() throws {
        let tokenizer = try modelTokenizer()
        let ids = tokenizer.encode(String(repeating: "hello world, ", count: 400))
        #expect(ids.count == 256)
        #expect(ids.first == tokenizer.clsId && ids.last == tokenizer.sepId)
    }

    @Test func invalidUTF8IsReplacedNotFatal() throws {
        let tokenizer = try modelTokenizer()
        let bytes: [UInt8] = Array("caf".utf8) + [0xC3] + Array(" ok ".utf8) + [0xFF, 0xFE] + Array("done".utf8)
        // U+FFFD replacement characters are removed by BERT's text cleaning, so they split nothing.
        #expect(tokenizer.encode(utf8: bytes) == tokenizer.encode("caf ok done"))
    }

    @Test func greedyLongestMatchWithContinuationPrefix() throws {
        let tokenizer = try WordPieceTokenizer(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "##a", "aff"])
        #expect(tokenizer.tokenize("unaffable") == ["un", "##aff", "##able"])
        #expect(tokenizer.tokenize("unx") == ["[UNK]"])
        #expect(tokenizer.encode("Un AFF") == [2, 4, 8, 3])
    }

    @Test func batchIsPaddedWithMask() throws {
        let tokenizer = try modelTokenizer()
        let batch = tokenizer.encodeBatch(["I am going swimming.", ""])
        #expect(batch.sequenceLength == 7)
        #expect(batch.lengths == [7, 2])
        #expect(Array(batch.ids[7..<14]) == [101, 102, 0, 0, 0, 0, 0])
        #expect(Array(batch.attentionMask[7..<14]) == [1, 1, 0, 0, 0, 0, 0])
    }

    @Test func missingOrIncompleteVocabularyIsAClearError() throws {
        #expect(throws: WordPieceError.self) { try WordPieceTokenizer(vocabularyPath: "/nonexistent/vocab.txt") }
        #expect(throws: WordPieceError.self) { try WordPieceTokenizer(tokens: ["hello", "world"]) }
    }
}
