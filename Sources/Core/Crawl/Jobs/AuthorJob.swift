/// Job kind `warehouse.author`: gets or creates the author `{"user_full_name": "First Last"}`.
/// Result `{id, full_name, first_name, last_name}`.
public struct AuthorJob: JobHandler {
    public static let kind = "warehouse.author"

    public struct Payload: Decodable, Sendable {
        public var user_full_name: String
    }

    public struct Output: Encodable, Sendable, Equatable {
        public var id: String
        public var full_name: String
        public var first_name: String
        public var last_name: String
    }

    public let store: WarehouseStore

    public init(store: WarehouseStore) { self.store = store }

    public func handle(_ payload: Payload, context: JobContext) async throws -> Output {
        let author: WarehouseAuthor
        do { author = try await store.author(fullName: payload.user_full_name) } catch let error as TwinError where error.isInvalidInput {
            throw JobFailure.permanent("warehouse.author: \(error.message)")
        }
        return Output(id: author.id.pgText, full_name: author.fullName, first_name: author.firstName, last_name: author.lastName)
    }
}
