import Foundation

/// An author of documents (the reference's `UserDocument`): `full_name` is unique.
public struct WarehouseAuthor: Sendable, Equatable, Codable {
    public var id: UUID
    public var firstName: String
    public var lastName: String
    /// `first last`, trimmed (just `first` when there is no last name).
    public var fullName: String

    public init(id: UUID, firstName: String, lastName: String) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        fullName = Self.fullName(first: firstName, last: lastName)
    }

    /// How the database derives `full_name` (kept identical to the generated column).
    static func fullName(first: String, last: String) -> String {
        (first + " " + last).trimmingCharacters(in: .whitespaces)
    }

    /// Splits "First Middle Last" into (`First Middle`, `Last`): the last word is the last name, as in the
    /// reference; a single word is a first name with an empty last name. Whitespace runs collapse.
    /// - Throws: ``TwinError/invalidInput(_:)`` for an empty name.
    public static func split(fullName: String) throws -> (first: String, last: String) {
        let words = fullName.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard let last = words.last else { throw TwinError.invalidInput("author name is empty") }
        if words.count == 1 { return (last, "") }
        return (words.dropLast().joined(separator: " "), last)
    }
}

/// What an upsert did to a document.
public enum UpsertStatus: String, Sendable, Codable, CaseIterable {
    /// A new document was stored.
    case created
    /// The content changed (a different content hash) and was replaced.
    case updated
    /// The stored content was already the same; only the fetch bookkeeping moved.
    case unchanged
}

/// The outcome of ``WarehouseStore/upsert(_:authorID:fetch:id:)``.
public struct UpsertResult: Sendable, Equatable {
    public var id: UUID
    public var status: UpsertStatus
}

/// Fetch bookkeeping stored with a crawled document: where it was asked for and its cache validators.
public struct FetchRecord: Sendable, Equatable {
    /// The address the crawl was asked for (the stored `link` is the canonical one).
    public var sourceLink: String?
    /// Validators for the next conditional GET.
    public var validators: CacheValidators
    /// When it was fetched; `nil` for imported documents (never fetched here).
    public var fetchedAt: Date?

    public init(sourceLink: String? = nil, validators: CacheValidators = CacheValidators(), fetchedAt: Date? = Date()) {
        self.sourceLink = sourceLink
        self.validators = validators
        self.fetchedAt = fetchedAt
    }

    /// A record for a document that was imported rather than fetched.
    public static let imported = FetchRecord(fetchedAt: nil)
}

/// A stored raw document (article, post or repository) with its author's name.
public struct WarehouseDocument: Sendable, Equatable {
    public var id: UUID
    public var kind: CrawledDocument.Kind
    public var authorID: UUID
    public var authorFullName: String
    public var platform: String
    public var link: String
    /// Repositories only: `owner/repo`.
    public var name: String?
    public var content: [String: String]
    public var contentHash: String
    public var etag: String?
    public var lastModified: String?
    public var sourceLink: String?
    public var fetchedAt: Date?
    public var updatedAt: Date

    /// The title for people: an article's `Title`, a repository's name, a post's first line.
    public var title: String? {
        switch kind {
        case .article: content["Title"].flatMap { $0.isEmpty ? nil : $0 }
        case .repository: name
        case .post: content["text"].flatMap { $0.split(separator: "\n").first.map { String($0.prefix(80)) } }
        }
    }
}

extension CrawledDocument.Kind {
    /// The warehouse table holding documents of this kind (a fixed identifier, never user input).
    var table: String {
        switch self {
        case .article: "warehouse.articles"
        case .post: "warehouse.posts"
        case .repository: "warehouse.repositories"
        }
    }
}
