import Dispatch

/// A serial thread for one blocking C handle (a hiredis or libpq connection).
///
/// Swift's cooperative pool is as wide as the core count (2 here); a blocking C call on it would stall
/// every task in the process. Each lane owns its resource and touches it only on its own serial queue, so
/// the resource needs no lock and the `async` caller only suspends.
public final class BlockingLane<Resource>: @unchecked Sendable {
    // @unchecked: `resource` is only ever accessed on `queue`, which serialises every use.
    private let queue: DispatchQueue
    private let resource: Resource

    public init(label: String, resource: Resource) {
        self.queue = DispatchQueue(label: label)
        self.resource = resource
    }

    /// Runs `body` with the resource on the lane's thread and returns its result.
    public func run<T>(_ body: @escaping @Sendable (Resource) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UncheckedBox<T>, any Error>) in
            queue.async {
                do { continuation.resume(returning: UncheckedBox(try body(self.resource))) } catch {
                    continuation.resume(throwing: error)
                }
            }
        }.value
    }

    /// Runs `body` synchronously on the lane's thread (for non-async callers such as deinit paths and tests).
    public func runSync<T>(_ body: (Resource) throws -> T) rethrows -> T {
        try queue.sync { try body(resource) }
    }
}

/// Carries a value across the lane boundary. The value is produced on the lane and consumed by the single
/// awaiting caller, never shared, so it need not be Sendable.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
