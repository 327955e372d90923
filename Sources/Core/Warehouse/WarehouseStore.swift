import Foundation

/// The data warehouse (schema `warehouse`): authors and the raw documents crawled for them.
///
/// Every write is an idempotent upsert keyed by the document's link; a document's content is replaced
/// only when its content hash changed, and each upsert runs in one transaction, so a reader never sees a
/// half-written document. A re-crawl with the same content moves only `fetched_at` and the validators;
/// `updated_at` moves only when the content did: a row whose `updated_at` equals its `fetched_at` was
/// written by that fetch (a CDC consumer can skip the other updates: they are fetch bookkeeping).
public struct WarehouseStore: Sendable {
    public let postgres: PostgresClient

    public init(postgres: PostgresClient) {
        self.postgres = postgres
    }

    // MARK: Authors

    /// The author called `fullName`, created when unknown ("First Last": see ``WarehouseAuthor/split(fullName:)``).
    public func author(fullName: String) async throws -> WarehouseAuthor {
        let (first, last) = try WarehouseAuthor.split(fullName: fullName)
        return try await postgres.withConnection { pg in try Self.getOrCreateAuthor(first: first, last: last, id: UUID(), on: pg) }
    }

    /// The author with `id`, or `nil`.
    public func author(id: UUID) async throws -> WarehouseAuthor? {
        try await postgres.query("SELECT id, first_name, last_name FROM warehouse.authors WHERE id = $1", [id])
            .first.map(Self.author(from:))
    }

    /// Authors, by full name; only those with `ids` when given.
    public func authors(ids: [UUID]? = nil) async throws -> [WarehouseAuthor] {
        let rows = try await postgres.query("""
            SELECT id, first_name, last_name FROM warehouse.authors
            WHERE $1::uuid[] IS NULL OR id = ANY($1::uuid[]) ORDER BY full_name
            """, [ids.map(Self.uuidArray)])
        return try rows.rows.map(Self.author(from:))
    }

    /// Get-or-create on one connection; `id` is used only when the author is created.
    static func getOrCreateAuthor(first: String, last: String, id: UUID, on pg: PGConnection) throws -> WarehouseAuthor {
        let full = WarehouseAuthor.fullName(first: first, last: last)
        let select = "SELECT id, first_name, last_name FROM warehouse.authors WHERE full_name = $1"
        if let row = try pg.query(select, [full]).first { return try author(from: row) }
        // A concurrent creator may win the race: then DO NOTHING returns no row and the second read finds it.
        if let row = try pg.query("""
            INSERT INTO warehouse.authors (id, first_name, last_name) VALUES ($1, $2, $3)
            ON CONFLICT (full_name) DO NOTHING RETURNING id, first_name, last_name
            """, [id, first, last]).first {
            return try author(from: row)
        }
        guard let row = try pg.query(select, [full]).first else {
            throw TwinError.postgres("warehouse: author \"\(full)\" was neither created nor found")
        }
        return try author(from: row)
    }

    static func author(from row: PGRow) throws -> WarehouseAuthor {
        guard let id = UUID(uuidString: try row.string("id")) else {
            throw TwinError.postgres("warehouse: author id is not a UUID")
        }
        return WarehouseAuthor(id: id, firstName: try row.string("first_name"), lastName: try row.string("last_name"))
    }

    // MARK: Documents

    /// Stores `document` for `authorID`: created, updated (its content hash changed) or unchanged.
    ///
    /// - Parameters:
    ///   - fetch: fetch bookkeeping; `fetchedAt` and the validators are recorded even when nothing changed.
    ///   - id: the id of a new document (imports keep theirs); ignored when the link already exists.
    ///   - replacingOtherKinds: also delete a document with the same link stored as another kind (a page
    ///     first stored as an article whose markup now makes it a post), in the same transaction.
    public func upsert(_ document: CrawledDocument, authorID: UUID, fetch: FetchRecord = FetchRecord(),
                       id: UUID = UUID(), replacingOtherKinds: Bool = false) async throws -> UpsertResult {
        try await postgres.withTransaction { pg in
            let result = try Self.upsert(document, authorID: authorID, fetch: fetch, id: id, on: pg)
            if replacingOtherKinds {
                for kind in [CrawledDocument.Kind.article, .post, .repository] where kind != document.kind {
                    _ = try pg.query("DELETE FROM \(kind.table) WHERE link = $1", [document.link])
                }
            }
            return result
        }
    }

    /// Records a conditional GET answered 304: the content is unchanged; the fetch time and validators move.
    /// - Throws: ``TwinError/notFound(_:)`` when no document has that link.
    public func touch(kind: CrawledDocument.Kind, link: String, fetch: FetchRecord) async throws -> UUID {
        let row = try await postgres.query("""
            UPDATE \(kind.table) SET fetched_at = coalesce($2::timestamptz, fetched_at), etag = $3, last_modified = $4
            WHERE link = $1 RETURNING id
            """, [link, fetch.fetchedAt, fetch.validators.etag, fetch.validators.lastModified]).first
        guard let text = try row?.string("id"), let id = UUID(uuidString: text) else {
            throw TwinError.notFound("warehouse: no \(kind.rawValue) with link \(link)")
        }
        return id
    }

    static func upsert(_ document: CrawledDocument, authorID: UUID, fetch: FetchRecord, id: UUID,
                       on pg: PGConnection) throws -> UpsertResult {
        let table = document.kind.table
        let isRepository = document.kind == .repository
        let content = JSONValue.object(document.content.mapValues { .string($0) }).jsonText
        let hash = contentHash(document)
        let nameColumn = isRepository ? ", name" : ""
        let nameValue = isRepository ? ", $11" : ""
        let nameUpdate = isRepository ? "name = EXCLUDED.name, " : ""
        var parameters: [(any PGEncodable & Sendable)?] = [
            id, authorID, document.platform, document.link, fetch.sourceLink, content, hash,
            fetch.validators.etag, fetch.validators.lastModified, fetch.fetchedAt,
        ]
        if isRepository { parameters.append(document.name ?? document.link) }
        // The WHERE makes the upsert a no-op for identical content: no new row version, no WAL, no CDC event.
        let changed = try pg.query("""
            INSERT INTO \(table) AS t (id, author_id, platform, link, source_link, content, content_hash, etag,
                                      last_modified, fetched_at, updated_at\(nameColumn))
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::timestamptz, coalesce($10::timestamptz, now())\(nameValue))
            ON CONFLICT (link) DO UPDATE SET author_id = EXCLUDED.author_id, platform = EXCLUDED.platform,
                \(nameUpdate)source_link = coalesce(EXCLUDED.source_link, t.source_link), content = EXCLUDED.content,
                content_hash = EXCLUDED.content_hash,
                etag = CASE WHEN EXCLUDED.fetched_at IS NULL THEN t.etag ELSE EXCLUDED.etag END,
                last_modified = CASE WHEN EXCLUDED.fetched_at IS NULL THEN t.last_modified ELSE EXCLUDED.last_modified END,
                fetched_at = coalesce(EXCLUDED.fetched_at, t.fetched_at), updated_at = EXCLUDED.updated_at
            WHERE t.content_hash IS DISTINCT FROM EXCLUDED.content_hash
            RETURNING id, (xmax = 0) AS created
            """, parameters).first
        if let changed {
            return UpsertResult(id: try uuid(changed, "id"), status: try changed.bool("created") ? .created : .updated)
        }
        // Same content: record this fetch (time and validators) unless it is an import.
        let row = try pg.query("""
            UPDATE \(table) SET fetched_at = coalesce($2::timestamptz, fetched_at),
                etag = CASE WHEN $2::timestamptz IS NULL THEN etag ELSE $3 END,
                last_modified = CASE WHEN $2::timestamptz IS NULL THEN last_modified ELSE $4 END,
                source_link = coalesce($5, source_link)
            WHERE link = $1 RETURNING id
            """, [document.link, fetch.fetchedAt, fetch.validators.etag, fetch.validators.lastModified, fetch.sourceLink]).first
        guard let row else { throw TwinError.postgres("warehouse: \(document.link) vanished during its upsert") }
        return UpsertResult(id: try uuid(row, "id"), status: .unchanged)
    }

    /// SHA-256 of the content as canonical JSON (sorted keys), plus the repository name.
    public static func contentHash(_ document: CrawledDocument) -> String {
        let content = JSONValue.object(document.content.mapValues { .string($0) }).jsonText
        return SHA256.hex((document.name ?? "") + "\u{1f}" + content)
    }

    /// The stored document whose canonical link or requested address is `link`, if any.
    public func document(link: String) async throws -> WarehouseDocument? {
        for kind in [CrawledDocument.Kind.article, .post, .repository] {
            if let found = try await documents(kind: kind, link: link).first { return found }
        }
        return nil
    }

    /// The stored document with `id`, if any.
    public func document(id: UUID) async throws -> WarehouseDocument? {
        for kind in [CrawledDocument.Kind.article, .post, .repository] {
            if let found = try await documents(kind: kind, id: id).first { return found }
        }
        return nil
    }

    /// Documents of `kind`, by link; only those of `authorIDs` when given.
    public func documents(kind: CrawledDocument.Kind, authorIDs: [UUID]? = nil) async throws -> [WarehouseDocument] {
        try await documents(kind: kind, authors: authorIDs)
    }

    /// Document counts per kind (all authors).
    public func counts() async throws -> [CrawledDocument.Kind: Int] {
        let row = try await postgres.query("""
            SELECT (SELECT count(*) FROM warehouse.articles) AS articles, (SELECT count(*) FROM warehouse.posts) AS posts,
                   (SELECT count(*) FROM warehouse.repositories) AS repositories
            """).first
        return [.article: try row?.int("articles") ?? 0, .post: try row?.int("posts") ?? 0,
                .repository: try row?.int("repositories") ?? 0]
    }

    private func documents(kind: CrawledDocument.Kind, authors: [UUID]? = nil, link: String? = nil,
                           id: UUID? = nil) async throws -> [WarehouseDocument] {
        let name = kind == .repository ? "d.name" : "NULL::text AS name"
        let rows = try await postgres.query("""
            SELECT d.id, d.author_id, a.full_name, d.platform, d.link, \(name), d.content::text AS content, d.content_hash,
                   d.etag, d.last_modified, d.source_link, d.fetched_at, d.updated_at
            FROM \(kind.table) d JOIN warehouse.authors a ON a.id = d.author_id
            WHERE ($1::uuid[] IS NULL OR d.author_id = ANY($1::uuid[]))
              AND ($2::text IS NULL OR d.link = $2 OR d.source_link = $2)
              AND ($3::uuid IS NULL OR d.id = $3)
            ORDER BY (d.link = $2) DESC NULLS LAST, d.link
            """, [authors.map(Self.uuidArray), link, id])
        return try rows.rows.map { row in
            let content = try JSONValue.parse(try row.string("content"))
            guard case .object(let fields) = content else { throw TwinError.postgres("warehouse: content of \(try row.string("link")) is not an object") }
            return WarehouseDocument(
                id: try Self.uuid(row, "id"), kind: kind, authorID: try Self.uuid(row, "author_id"),
                authorFullName: try row.string("full_name"), platform: try row.string("platform"), link: try row.string("link"),
                name: try row.optionalString("name"), content: fields.compactMapValues(\.stringValue),
                contentHash: try row.string("content_hash"), etag: try row.optionalString("etag"),
                lastModified: try row.optionalString("last_modified"), sourceLink: try row.optionalString("source_link"),
                fetchedAt: try row.optionalDate("fetched_at"), updatedAt: try row.date("updated_at"))
        }
    }

    static func uuid(_ row: PGRow, _ column: String) throws -> UUID {
        let text = try row.string(column)
        guard let id = UUID(uuidString: text) else { throw TwinError.postgres("warehouse: \(column) \(text) is not a UUID") }
        return id
    }

    /// A PostgreSQL array literal of UUIDs (UUIDs need no quoting).
    static func uuidArray(_ ids: [UUID]) -> String {
        "{" + ids.map(\.pgText).joined(separator: ",") + "}"
    }
}
