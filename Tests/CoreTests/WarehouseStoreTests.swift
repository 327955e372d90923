import Foundation
import Testing

@testable import Core

/// A store on the test database, migrated (the warehouse is shared: tests use unique authors and links).
func warehouseStore() async throws -> WarehouseStore {
    try await TestEnvironment.migrated.value
    let configuration = try TwinConfiguration.load(environment: ProcessInfo.processInfo.environment)
    return WarehouseStore(postgres: PostgresClient(endpoint: configuration.postgres, connections: 2))
}

@Suite("Warehouse: store", .serialized)
struct WarehouseStoreTests {
    func store() async throws -> WarehouseStore { try await warehouseStore() }

    func article(_ link: String, title: String, text: String) -> CrawledDocument {
        CrawledDocument(kind: .article, platform: "example.org", link: link,
                        content: ["Title": title, "Subtitle": "", "Content": text, "language": "en"])
    }

    @Test func splitsFullNamesLikeTheReference() throws {
        #expect(try WarehouseAuthor.split(fullName: "Paul Iusztin") == ("Paul", "Iusztin"))
        #expect(try WarehouseAuthor.split(fullName: "  Maxime   de la  Labonne ") == ("Maxime de la", "Labonne"))
        #expect(try WarehouseAuthor.split(fullName: "Plato") == ("Plato", ""))
        #expect(throws: TwinError.invalidInput("author name is empty")) { try WarehouseAuthor.split(fullName: "   ") }
    }

    @Test func aPageThatChangesKindReplacesItsOldRow() async throws {
        let store = try await store()
        let author = try await store.author(fullName: uniqueAuthorName("Kind"))
        let link = "https://example.org/\(UUIDv7.make())/post.html"
        _ = try await store.upsert(article(link, title: "First seen as an article", text: "Some text."), authorID: author.id)
        let post = CrawledDocument(kind: .post, platform: "linkedin", link: link, content: ["text": "Now a post."])
        let result = try await store.upsert(post, authorID: author.id, replacingOtherKinds: true)
        #expect(result.status == .created)
        #expect(try await store.documents(kind: .article, authorIDs: [author.id]).isEmpty)
        let found = try #require(try await store.document(link: link))
        #expect(found.kind == .post && found.platform == "linkedin")
        // Without the flag (imports), other kinds are left alone.
        let other = "https://example.org/\(UUIDv7.make())/keep.html"
        _ = try await store.upsert(article(other, title: "Kept", text: "Text."), authorID: author.id)
        _ = try await store.upsert(CrawledDocument(kind: .post, platform: "web", link: other, content: ["text": "t"]), authorID: author.id)
        #expect(try await store.documents(kind: .article, authorIDs: [author.id]).map(\.link) == [other])
    }

    @Test func getOrCreateReturnsTheSameAuthorEveryTime() async throws {
        let store = try await store()
        let name = uniqueAuthorName("Grace")
        let first = try await store.author(fullName: name)
        let again = try await store.author(fullName: "  " + name.replacingOccurrences(of: " ", with: "   ") + " ")
        #expect(first == again)
        #expect(first.firstName == "Grace" && first.fullName == name)
        // Concurrent callers race on the unique full name and still agree.
        let racing = uniqueAuthorName("Race")
        let ids = try await withThrowingTaskGroup(of: UUID.self) { group in
            for _ in 0..<6 { group.addTask { try await store.author(fullName: racing).id } }
            return try await group.reduce(into: Set<UUID>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        let single = try await store.author(fullName: "Mononym\(UUIDv7.make().suffix(8))")
        #expect(single.lastName.isEmpty && single.fullName == single.firstName)
        #expect(try await store.author(id: first.id) == first)
        #expect(try await store.author(id: UUID()) == nil)
    }

    @Test func upsertsAreIdempotentAndReplaceOnlyChangedContent() async throws {
        let store = try await store()
        let author = try await store.author(fullName: uniqueAuthorName())
        let link = "https://example.org/posts/\(UUIDv7.make())"
        let v1 = article(link, title: "Point-in-time joins", text: "Use only values written before the label's timestamp.")
        let created = try await store.upsert(v1, authorID: author.id,
                                             fetch: FetchRecord(validators: CacheValidators(etag: "\"a\"")))
        #expect(created.status == .created)
        let stored = try #require(try await store.document(id: created.id))
        let again = try await store.upsert(v1, authorID: author.id, fetch: FetchRecord(validators: CacheValidators(etag: "\"b\"")))
        #expect(again == UpsertResult(id: created.id, status: .unchanged))
        let unchanged = try #require(try await store.document(id: created.id))
        #expect(unchanged.updatedAt == stored.updatedAt)
        #expect(unchanged.etag == "\"b\"", "validators are recorded even when the content is the same")
        #expect(try #require(unchanged.fetchedAt) > stored.fetchedAt!)
        var v2 = v1
        v2.content["Content"] = "Use only values written before the label's timestamp, or the model sees the future."
        let updated = try await store.upsert(v2, authorID: author.id)
        #expect(updated == UpsertResult(id: created.id, status: .updated))
        let replaced = try #require(try await store.document(id: created.id))
        #expect(replaced.content == v2.content && replaced.contentHash == WarehouseStore.contentHash(v2))
        #expect(replaced.updatedAt > stored.updatedAt)
        // Concurrent identical upserts: one row, one creation at most.
        let link2 = "https://example.org/posts/\(UUIDv7.make())"
        let doc = article(link2, title: "Races", text: "Two workers crawl the same link at the same moment.")
        let results = try await withThrowingTaskGroup(of: UpsertStatus.self) { group in
            for _ in 0..<4 { group.addTask { try await store.upsert(doc, authorID: author.id).status } }
            return try await group.reduce(into: [UpsertStatus]()) { $0.append($1) }
        }
        #expect(results.filter { $0 == .created }.count == 1)
        #expect(results.filter { $0 == .unchanged }.count == 3)
        let rows = try await store.postgres.query("SELECT count(*) AS n FROM warehouse.articles WHERE link = $1", [link2])
        #expect(try rows.first?.int("n") == 1)
        let mine = try await store.documents(kind: .article, authorIDs: [author.id])
        #expect(mine.map(\.link).sorted() == [link, link2].sorted())
    }

    @Test func repositoriesAndPostsKeepTheirShapes() async throws {
        let store = try await store()
        let author = try await store.author(fullName: uniqueAuthorName())
        let repo = CrawledDocument(kind: .repository, platform: "github", link: "https://github.com/ex/\(UUIDv7.make())",
                                   name: "ex/repo", content: ["README.md": "# Repo\n", "src/main.py": "print('hi')\n"])
        let post = CrawledDocument(kind: .post, platform: "linkedin", link: "https://www.linkedin.com/posts/\(UUIDv7.make())",
                                   content: ["text": "Chunking is a retrieval decision.\nTreat it like one.", "image": "https://img/x.png"])
        let r = try await store.upsert(repo, authorID: author.id)
        let p = try await store.upsert(post, authorID: author.id)
        let storedRepo = try #require(try await store.document(id: r.id))
        #expect(storedRepo.kind == .repository && storedRepo.name == "ex/repo" && storedRepo.content == repo.content)
        #expect(storedRepo.title == "ex/repo")
        let storedPost = try #require(try await store.document(link: post.link))
        #expect(storedPost.id == p.id && storedPost.kind == .post && storedPost.title == "Chunking is a retrieval decision.")
        var renamed = repo
        renamed.name = "ex/renamed"
        #expect(try await store.upsert(renamed, authorID: author.id).status == .updated, "the name is part of the hash")
    }
}
