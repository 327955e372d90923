import Testing

@testable import Core

/// Expected numbers come from the Python peer (`Benchmarks/extract/trafilatura_peer.py`), run once.
@Suite("Crawl: extraction score")
struct CrawlExtractionScoreTests {
    @Test func tokensFollowPythonWordRules() {
        #expect(ExtractionScore.tokens("naïve café_au-lait x²₃ देवनागरी 42٫5")
            == ["naïve", "café_au", "lait", "x²₃", "द", "वन", "गर", "42", "5"])
    }

    @Test func perPageCountsMatchThePeer() {
        let cases: [(String, String, [Double])] = [
            ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over a lazy dog", [1.0 / 3, 1.0 / 3, 1.0 / 3]),
            ("Ça va très bien, merci à vous tous ici", "Ça va très bien merci", [1.0 / 3, 0, 2.0 / 3]),
            ("one two", "one two three", [0, 0.5, 0.5]),
            ("", "something here", [0, 1, 0]),
            ("a b c d e", "", [0, 0, 1]),
        ]
        var pages: [ExtractionScore.Page] = []
        for (truth, predicted, expected) in cases {
            let page = ExtractionScore.page(truth: truth, predicted: predicted)
            #expect(abs(page.truePositive - expected[0]) < 1e-12)
            #expect(abs(page.falsePositive - expected[1]) < 1e-12)
            #expect(abs(page.falseNegative - expected[2]) < 1e-12)
            pages.append(page)
        }
        let score = ExtractionScore(pages: pages)
        #expect(abs(score.f1 - 0.2678571428571429) < 1e-12)
        #expect(abs(score.precision - 0.375) < 1e-12)
        #expect(abs(score.recall - 0.20833333333333331) < 1e-12)
    }

    @Test func identicalTextScoresOne() {
        let page = ExtractionScore.page(truth: "same words on both sides", predicted: "same, words on both sides!")
        #expect(ExtractionScore(pages: [page]).f1 == 1)
        #expect(ExtractionScore(pages: [ExtractionScore.page(truth: "", predicted: "")]).f1 == 1)
    }
}
