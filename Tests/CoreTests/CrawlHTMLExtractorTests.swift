import Foundation
import Testing

@testable import Core

@Suite("Crawl: HTML extractor")
struct CrawlHTMLExtractorTests {
    let extractor = HTMLExtractor()

    @Test func blogMetadataAndContent() throws {
        let article = try extractor.extract(
            html: CrawlHTMLFixtures.blog, url: URL(string: "https://notes.example.org/posts/vector-databases?ref=x"))
        #expect(article.title == "Understanding Vector Databases")
        #expect(article.subtitle == "How vector search works and when to use it.")
        #expect(article.author == "Ada Lovelace")
        #expect(article.published == "2024-03-05T10:00:00Z")
        #expect(article.language == "en")
        #expect(article.canonicalURL == "https://notes.example.org/posts/vector-databases")
        let content = article.content
        #expect(content.contains("Vector databases store embeddings"))
        #expect(content.contains("## Why not a normal index?"))
        #expect(content.contains("- HNSW graphs trade memory for speed.\n- IVF indexes cluster vectors into buckets."))
        #expect(content.contains("Choosing between them depends on recall targets"))
        for boilerplate in ["cookies", "Home", "Share on", "Popular posts", "Great post", "Copyright", "SHOULD NOT", "color"] {
            #expect(!content.contains(boilerplate), "boilerplate \(boilerplate) leaked into the content")
        }
    }

    @Test func codeBlocksKeepTheirLayout() throws {
        let article = try extractor.extract(html: CrawlHTMLFixtures.blog)
        let code = try #require(article.blocks.first { $0.kind == .code })
        #expect(code.text.contains("for hit in results {\n    print(hit.id, hit.score)\n}"))
        #expect(article.content.contains("```\nlet results = try index.search(query, k: 10)"))
    }

    @Test func mediumStory() throws {
        let article = try extractor.extract(
            html: CrawlHTMLFixtures.medium, url: URL(string: "https://medium.com/decodingml/building-an-llm-twin-123"))
        #expect(article.title == "Building an LLM Twin")
        #expect(article.subtitle == "An end-to-end framework for production-ready LLM systems.")
        #expect(article.author == "Paul Iusztin")
        #expect(article.language == "en")
        #expect(article.content.hasPrefix("An LLM twin is an AI character"))
        #expect(article.content.contains("four pipelines"))
        #expect(!article.content.contains("Sign in"))
        #expect(!article.content.contains("Careers"))
    }

    @Test func mediumOnACustomDomainIsRecognisedByMarkup() throws {
        let article = try extractor.extract(html: CrawlHTMLFixtures.medium, url: URL(string: "https://blog.example.com/x"))
        #expect(article.content.hasPrefix("An LLM twin is an AI character"))
    }

    @Test func substackPost() throws {
        let article = try extractor.extract(
            html: CrawlHTMLFixtures.substack, url: URL(string: "https://decodingml.substack.com/p/weekly"))
        #expect(article.title == "Decoding ML Weekly")
        #expect(article.author == "Decoding ML")
        #expect(article.content.hasPrefix("This week we fine-tune a small model"))
        #expect(article.content.contains("evaluating the result honestly"))
        #expect(!article.content.contains("Subscribe"))
    }

    @Test func linkedInPublicPost() throws {
        let article = try extractor.extract(
            html: CrawlHTMLFixtures.linkedIn, url: URL(string: "https://www.linkedin.com/posts/paul_rag-activity-1"))
        #expect(article.content.hasPrefix("RAG is not dead."))
        #expect(!article.content.contains("reactions"))
        #expect(!article.content.contains("Another post"))
        #expect(!article.content.contains("Jobs"))
    }

    @Test func malformedHTMLIsRepairedNotRejected() throws {
        let article = try extractor.extract(html: CrawlHTMLFixtures.malformed)
        #expect(article.content.contains("First paragraph is here"))
        #expect(article.content.contains("bold italic continues"))
    }

    @Test func hostileInputsNeverCrash() throws {
        let deep = String(repeating: "<div>", count: 5000) + "<p>deep text, with, commas, and more words here</p>"
        let samples = [
            "<", "<<<>>>", "<p>", "</p></div></body>", "<html><body></body></html>", deep,
            "<p>" + String(repeating: "x", count: 200_000), "<script>never closed", "<html>\u{FFFD}\u{1F600}<p>émoji</p>",
            "<meta charset=\"no-such-charset\"><p>text in an unknown charset</p>",
        ]
        for sample in samples {
            _ = try extractor.extract(html: sample)
        }
        let random = (0..<20_000).map { _ in UInt8.random(in: 1...255) } + Array("<p>tail</p>".utf8)
        _ = try? extractor.extract(html: random)
    }

    @Test func notHTMLGivesAClearError() {
        #expect(throws: TwinError.invalidInput("not HTML: the input is empty")) { try extractor.extract(html: [UInt8]()) }
        #expect(throws: TwinError.invalidInput("not HTML: the input is binary data")) {
            try extractor.extract(html: [0x89, 0x50, 0x4E, 0x47, 0x00, 0x00, 0x3C])
        }
        #expect(throws: TwinError.invalidInput("not HTML: no markup found in the input")) {
            try extractor.extract(html: "just some plain words")
        }
    }

    @Test func jsonLDFillsMetadataAndScriptOnlyBodies() throws {
        let html = """
            <html><head><script type="application/ld+json">
            {"@context":"https://schema.org","@graph":[{"@type":"WebPage","name":"x"},
             {"@type":"NewsArticle","headline":"Rates rise again","datePublished":"2023-01-02",
              "author":[{"@type":"Person","name":"Jane Roe"},{"@type":"Person","name":"John Doe"}],
              "articleBody":"The central bank raised rates again.\\nMarkets fell, then recovered by the close."}]}
            </script></head><body><div id="root"></div></body></html>
            """
        let article = try extractor.extract(html: html)
        #expect(article.title == "Rates rise again")
        #expect(article.published == "2023-01-02")
        #expect(article.author == "Jane Roe, John Doe")
        #expect(article.blocks.map(\.text) == ["The central bank raised rates again.", "Markets fell, then recovered by the close."])
    }

    @Test func keepsEmbeddedQuotesDropsCaptionsAndAdLabels() throws {
        let html = """
            <html><body><div class="story">
            <p>The campaign drew attention online within hours, with many people, including reporters, reacting.</p>
            <figure><img src="a.jpg"><figcaption>A billboard of the campaign. Credit: Someone</figcaption></figure>
            <div class="ad-label">Advertisement</div>
            <div class="social-media-embed"><blockquote class="twitter-tweet"><p>Yes this is real, and the state paid for it.</p>
            &mdash; A Person (@someone) <a href="https://twitter.com/x">November 18, 2019</a></blockquote></div>
            <p>Officials defended the slogan, saying that it was meant to get people talking, and that it worked.</p>
            </div></body></html>
            """
        let content = try extractor.extract(html: html).content
        #expect(content.contains("> Yes this is real, and the state paid for it."))
        #expect(!content.contains("billboard"))
        #expect(!content.contains("Advertisement"))
        #expect(content.contains("Officials defended the slogan"))
    }

    @Test func siteNameIsDroppedFromTitleTags() throws {
        let article = try extractor.extract(html: "<html><head><title>How we ship Swift on Linux | Example Blog</title></head><body><p>x</p></body></html>")
        #expect(article.title == "How we ship Swift on Linux")
        let short = try extractor.extract(html: "<html><head><title>Home - Example</title></head><body><p>x</p></body></html>")
        #expect(short.title == "Home - Example")
    }

    @Test func declaredCharsetIsHonoured() throws {
        // "café" in ISO-8859-1 is 63 61 66 E9.
        var bytes = Array("<html><head><meta charset=\"iso-8859-1\"></head><body><p>Un caf".utf8)
        bytes.append(0xE9)
        bytes += Array(" noir, s'il vous pla\u{EE}t, avec du sucre et du lait, merci beaucoup.</p></body></html>".utf8)
        let article = try extractor.extract(html: bytes)
        #expect(article.content.hasPrefix("Un café noir"))
    }
}
