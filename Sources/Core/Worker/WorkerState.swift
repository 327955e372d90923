/// Why a running job's task was stopped from outside.
enum StopReason: Sendable {
    /// A user cancelled it (`twin cancel`): it ends as cancelled.
    case cancelRequested
    /// Its lease was taken over (this worker stalled past the lease): its outcome is dropped.
    case leaseLost
    /// Graceful shutdown ran out of grace: it goes back to its queue, attempt not counted.
    case shutdown
}

/// The worker's mutable state, kept behind one `Mutex` in ``WorkerService``. A plain struct so the
/// transitions are easy to follow; every method is O(1) or O(changes).
struct WorkerState {
    struct Running {
        var job: LeasedJob
        var task: Task<String, any Error>?
        var stopReason: StopReason?
    }

    var running: [String: Running] = [:]
    var outcomes: [JobOutcome] = []
    var retries: [(job: LeasedJob, error: String)] = []
    var releases: [LeasedJob] = []
    var stopping = false
    var finished = false

    /// Work the committer has to do, taken all at once.
    mutating func takeCommitWork() -> (outcomes: [JobOutcome], retries: [(job: LeasedJob, error: String)], releases: [LeasedJob]) {
        defer { outcomes.removeAll(keepingCapacity: true); retries.removeAll(); releases.removeAll() }
        return (outcomes, retries, releases)
    }

    var pendingCommitCount: Int { outcomes.count + retries.count + releases.count }

    /// Marks a job for stopping and returns its task to cancel (outside the lock).
    mutating func stop(_ id: String, reason: StopReason) -> Task<String, any Error>? {
        guard var r = running[id], r.stopReason == nil else { return nil }
        r.stopReason = reason
        running[id] = r
        return r.task
    }
}
