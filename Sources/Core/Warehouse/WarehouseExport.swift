import Foundation

/// The reference's JSON backup of the warehouse: one file per class in a folder — `UserDocument.json`,
/// `ArticleDocument.json`, `PostDocument.json`, `RepositoryDocument.json` — each a list of documents.
public enum WarehouseExport {
    /// One author: `{_id, first_name, last_name}`.
    public struct User: Codable, Sendable, Equatable {
        public var _id: String
        public var first_name: String
        public var last_name: String
    }

    /// One article, post or repository: `{_id, content, platform, author_id, author_full_name, link}` plus
    /// `name` (repositories) and `image` (posts that have one).
    public struct Document: Codable, Sendable, Equatable {
        public var _id: String
        public var content: [String: JSONValue]
        public var platform: String
        public var author_id: String
        public var author_full_name: String
        public var link: String?
        public var name: String?
        public var image: String?
    }

    /// Files by class, in the order they are imported (authors first).
    public static let files: [(name: String, kind: CrawledDocument.Kind?)] = [
        ("UserDocument.json", nil), ("ArticleDocument.json", .article), ("PostDocument.json", .post),
        ("RepositoryDocument.json", .repository),
    ]

    /// What an export or import touched, per file.
    public struct Report: Sendable, Equatable, Codable {
        /// File name → number of entries written or read.
        public var files: [String: Int] = [:]
        /// Import only: file name → status → count (`created`, `updated`, `unchanged`).
        public var statuses: [String: [String: Int]] = [:]
    }
}

extension WarehouseStore {
    /// Writes the reference export into `directory` (created if missing); only `authorIDs`' data when given.
    public func export(to directory: String, authorIDs: [UUID]? = nil) async throws -> WarehouseExport.Report {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TwinError.io("cannot create \(directory): \(error.localizedDescription)")
        }
        var report = WarehouseExport.Report()
        let users = try await authors(ids: authorIDs).map {
            WarehouseExport.User(_id: $0.id.pgText, first_name: $0.firstName, last_name: $0.lastName)
        }
        try Self.write(users, to: directory, file: "UserDocument.json")
        report.files["UserDocument.json"] = users.count
        for (file, kind) in WarehouseExport.files {
            guard let kind else { continue }
            let documents = try await documents(kind: kind, authorIDs: authorIDs).map { d in
                WarehouseExport.Document(
                    _id: d.id.pgText, content: d.content.mapValues { .string($0) }, platform: d.platform,
                    author_id: d.authorID.pgText, author_full_name: d.authorFullName, link: d.link, name: d.name,
                    image: kind == .post ? d.content["image"] : nil)
            }
            try Self.write(documents, to: directory, file: file)
            report.files[file] = documents.count
        }
        return report
    }

    /// Reads a reference export from `directory` and upserts it; re-importing the same files changes nothing.
    ///
    /// Every file present is parsed and every author reference resolved before anything is written, so a
    /// malformed file fails the import without a partial write. Authors are matched by full name (the
    /// file's `_id` is kept for new ones), documents by link (new ones keep their `_id`).
    public func importExport(from directory: String) async throws -> WarehouseExport.Report {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw TwinError.notFound("export folder \(directory) not found")
        }
        let present = WarehouseExport.files.filter {
            FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0.name))
        }
        guard !present.isEmpty else {
            throw TwinError.invalidInput("\(directory) holds none of \(WarehouseExport.files.map(\.name).joined(separator: ", "))")
        }
        let users: [WarehouseExport.User] = present.contains { $0.kind == nil }
            ? try Self.read(directory, "UserDocument.json") : []
        var batches: [(file: String, kind: CrawledDocument.Kind, documents: [WarehouseExport.Document])] = []
        for (file, kind) in present {
            guard let kind else { continue }
            batches.append((file, kind, try Self.read(directory, file)))
        }
        for (file, _, documents) in batches {
            for (index, d) in documents.enumerated() {
                guard UUID(uuidString: d._id) != nil else { throw TwinError.invalidInput("\(file)[\(index)]: _id \"\(d._id)\" is not a UUID") }
                guard d.link?.isEmpty == false else { throw TwinError.invalidInput("\(file)[\(index)]: no link") }
            }
        }
        var report = WarehouseExport.Report()
        report.files["UserDocument.json"] = users.count
        let userStatuses = try await postgres.withTransaction { pg -> ([String: UUID], [String: Int]) in
            var ids: [String: UUID] = [:]
            var statuses: [String: Int] = [:]
            for (index, user) in users.enumerated() {
                guard let fileID = UUID(uuidString: user._id) else {
                    throw TwinError.invalidInput("UserDocument.json[\(index)]: _id \"\(user._id)\" is not a UUID")
                }
                let author = try Self.getOrCreateAuthor(
                    first: user.first_name.trimmingCharacters(in: .whitespaces),
                    last: user.last_name.trimmingCharacters(in: .whitespaces), id: fileID, on: pg)
                ids[user._id.lowercased()] = author.id
                statuses[author.id == fileID ? "stored" : "matched", default: 0] += 1
            }
            return (ids, statuses)
        }
        var authorIDs = userStatuses.0
        report.statuses["UserDocument.json"] = userStatuses.1
        for (file, kind, documents) in batches {
            report.files[file] = documents.count
            var statuses: [String: Int] = [:]
            for (index, d) in documents.enumerated() {
                let authorID = try await resolveAuthor(d, file: file, index: index, known: &authorIDs)
                let result = try await upsert(Self.crawled(d, kind: kind), authorID: authorID, fetch: .imported,
                                              id: UUID(uuidString: d._id)!)
                statuses[result.status.rawValue, default: 0] += 1
            }
            report.statuses[file] = statuses
        }
        return report
    }

    /// The stored author for a document: from this import's users, else an author already stored with that id.
    private func resolveAuthor(_ d: WarehouseExport.Document, file: String, index: Int,
                               known: inout [String: UUID]) async throws -> UUID {
        if let id = known[d.author_id.lowercased()] { return id }
        guard let id = UUID(uuidString: d.author_id) else {
            throw TwinError.invalidInput("\(file)[\(index)]: author_id \"\(d.author_id)\" is not a UUID")
        }
        if try await author(id: id) != nil { known[d.author_id.lowercased()] = id; return id }
        // No such user in the export or the warehouse: fall back to the full name the document carries.
        guard !d.author_full_name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw TwinError.invalidInput("\(file)[\(index)]: author_id \(d.author_id) is unknown and author_full_name is empty")
        }
        let author = try await author(fullName: d.author_full_name)
        known[d.author_id.lowercased()] = author.id
        return author.id
    }

    static func crawled(_ d: WarehouseExport.Document, kind: CrawledDocument.Kind) -> CrawledDocument {
        // Content values are text in the reference; a null (e.g. no language) is dropped, anything else kept as JSON.
        var content: [String: String] = d.content.compactMapValues { value in
            if case .null = value { return nil }
            return value.stringValue ?? value.jsonText
        }
        if kind == .post, content["image"] == nil, let image = d.image { content["image"] = image }
        return CrawledDocument(kind: kind, platform: d.platform, link: d.link ?? "", name: kind == .repository ? d.name : nil,
                               content: content)
    }

    static func write<T: Encodable>(_ value: T, to directory: String, file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = (directory as NSString).appendingPathComponent(file)
        do {
            try encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TwinError.io("cannot write \(path): \(error.localizedDescription)")
        }
    }

    static func read<T: Decodable>(_ directory: String, _ file: String) throws -> [T] {
        let path = (directory as NSString).appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: path) else { throw TwinError.io("cannot read \(path)") }
        do {
            return try JSONDecoder().decode([T].self, from: data)
        } catch let error as DecodingError {
            throw TwinError.invalidInput("\(path): \(JobRegistry.explain(error))")
        }
    }
}
