import Foundation
import Testing

@testable import Core

@Suite("Warehouse: export and import", .serialized)
struct WarehouseExportTests {
    func store() async throws -> WarehouseStore { try await warehouseStore() }

    func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("twin-warehouse-\(UUID().uuidString)").path
    }

    /// Deletes an author and their documents, so an import has to recreate them.
    func forget(_ author: UUID, _ store: WarehouseStore) async throws {
        try await store.postgres.withTransaction { pg in
            for table in ["warehouse.articles", "warehouse.posts", "warehouse.repositories"] {
                try pg.query("DELETE FROM \(table) WHERE author_id = $1", [author])
            }
            try pg.query("DELETE FROM warehouse.authors WHERE id = $1", [author])
        }
    }

    func json(_ dir: String, _ file: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent(file))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
    }

    @Test func roundTripsTheReferenceFormatAndReimportsIdempotently() async throws {
        let store = try await store()
        let author = try await store.author(fullName: uniqueAuthorName("Ada"))
        let tag = UUIDv7.make()
        let article = CrawledDocument(kind: .article, platform: "medium", link: "https://medium.com/@ada/\(tag)",
                                      content: ["Title": "Vector search", "Subtitle": "HNSW in practice", "Content": "Graphs.", "language": "en"])
        let post = CrawledDocument(kind: .post, platform: "linkedin", link: "https://www.linkedin.com/posts/ada-\(tag)",
                                   content: ["text": "Evaluate first.", "image": "https://img.example/x.png"])
        let repo = CrawledDocument(kind: .repository, platform: "github", link: "https://github.com/ada/\(tag)", name: "ada/\(tag)",
                                   content: ["README.md": "# Notes\n"])
        var ids: [UUID] = []
        for d in [article, post, repo] { ids.append(try await store.upsert(d, authorID: author.id).id) }

        let dir = folder()
        let exported = try await store.export(to: dir, authorIDs: [author.id])
        #expect(exported.files == ["UserDocument.json": 1, "ArticleDocument.json": 1, "PostDocument.json": 1,
                                   "RepositoryDocument.json": 1])
        let users = try json(dir, "UserDocument.json")
        #expect(Set(users[0].keys) == ["_id", "first_name", "last_name"])
        #expect(users[0]["_id"] as? String == author.id.pgText && users[0]["first_name"] as? String == "Ada")
        let articles = try json(dir, "ArticleDocument.json")
        #expect(Set(articles[0].keys) == ["_id", "content", "platform", "author_id", "author_full_name", "link"])
        #expect((articles[0]["content"] as? [String: String]) == article.content)
        #expect(articles[0]["author_full_name"] as? String == author.fullName)
        #expect(Set(try json(dir, "PostDocument.json")[0].keys) == ["_id", "content", "platform", "author_id", "author_full_name", "link", "image"])
        let repos = try json(dir, "RepositoryDocument.json")
        #expect(Set(repos[0].keys) == ["_id", "content", "platform", "author_id", "author_full_name", "link", "name"])
        #expect(repos[0]["name"] as? String == "ada/\(tag)")

        try await forget(author.id, store)
        #expect(try await store.author(id: author.id) == nil)
        let imported = try await store.importExport(from: dir)
        #expect(imported.statuses["ArticleDocument.json"] == ["created": 1])
        #expect(imported.statuses["PostDocument.json"] == ["created": 1])
        #expect(imported.statuses["RepositoryDocument.json"] == ["created": 1])
        #expect(imported.statuses["UserDocument.json"] == ["stored": 1])
        #expect(try await store.author(id: author.id) == author, "ids survive the round trip")
        for (id, original) in zip(ids, [article, post, repo]) {
            let d = try #require(try await store.document(id: id))
            #expect(d.content == original.content && d.link == original.link && d.platform == original.platform)
            #expect(d.name == original.name && d.authorID == author.id && d.fetchedAt == nil)
        }
        let again = try await store.importExport(from: dir)
        #expect(again.statuses["ArticleDocument.json"] == ["unchanged": 1])
        #expect(again.statuses["PostDocument.json"] == ["unchanged": 1])
        #expect(again.statuses["RepositoryDocument.json"] == ["unchanged": 1])
        #expect(again.statuses["UserDocument.json"] == ["stored": 1])
        let count = try await store.postgres.query("SELECT count(*) AS n FROM warehouse.articles WHERE author_id = $1", [author.id])
        #expect(try count.first?.int("n") == 1)
    }

    @Test func importMatchesAuthorsByNameAndKeepsReferenceFiles() async throws {
        let store = try await store()
        let name = uniqueAuthorName("Paul")
        let existing = try await store.author(fullName: name)
        let (first, last) = try WarehouseAuthor.split(fullName: name)
        let dir = folder()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fileAuthor = UUID().uuidString.lowercased()
        let link = "https://decodingml.substack.com/p/\(UUIDv7.make())"
        // As the reference writes them: language may be null, no posts or repositories files.
        try Data("""
            [{"_id": "\(fileAuthor)", "first_name": "\(first)", "last_name": "\(last)"}]
            """.utf8).write(to: URL(fileURLWithPath: dir + "/UserDocument.json"))
        try Data("""
            [{"_id": "\(UUID().uuidString.lowercased())", "content": {"Title": "T", "Subtitle": null, "Content": "Body text.", "language": null},
              "platform": "decodingml.substack.com", "author_id": "\(fileAuthor)", "author_full_name": "\(name)", "link": "\(link)"}]
            """.utf8).write(to: URL(fileURLWithPath: dir + "/ArticleDocument.json"))
        let report = try await store.importExport(from: dir)
        #expect(report.statuses["UserDocument.json"] == ["matched": 1])
        let stored = try #require(try await store.document(link: link))
        #expect(stored.authorID == existing.id, "the author is matched by full name, not by the file's id")
        #expect(stored.content == ["Title": "T", "Content": "Body text."])
    }

    @Test func badImportsFailWithClearMessagesAndWriteNothing() async throws {
        let store = try await store()
        await #expect(throws: TwinError.notFound("export folder /nonexistent/twin-export not found")) {
            try await store.importExport(from: "/nonexistent/twin-export")
        }
        let empty = folder()
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = await #expect(throws: TwinError.self) { try await store.importExport(from: empty) }
        #expect(none?.message.contains("holds none of UserDocument.json") == true)

        let dir = folder()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let name = uniqueAuthorName("Broken")
        let (first, last) = try WarehouseAuthor.split(fullName: name)
        try Data("""
            [{"_id": "\(UUID().uuidString)", "first_name": "\(first)", "last_name": "\(last)"}]
            """.utf8).write(to: URL(fileURLWithPath: dir + "/UserDocument.json"))
        try Data("""
            [{"_id": "\(UUID().uuidString)", "content": {"text": "x"}, "platform": "linkedin"}]
            """.utf8).write(to: URL(fileURLWithPath: dir + "/PostDocument.json"))
        let error = await #expect(throws: TwinError.self) { try await store.importExport(from: dir) }
        #expect(error?.message.contains("PostDocument.json") == true && error?.message.contains("author_id") == true,
                "\(error?.message ?? "")")
        #expect(try await store.authors().contains { $0.fullName == name } == false, "nothing was written")
    }
}
