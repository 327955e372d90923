import Foundation

/// Per-step progress (`platform.training_steps`) and checkpoint records (`platform.training_checkpoints`)
/// of `train` jobs. Steps are upserted by (job, step): a run resumed from a checkpoint overwrites the steps
/// it redoes, so the table always holds one trajectory.
public struct TrainingRunStore: Sendable {
    public let postgres: PostgresClient
    public let namespace: String

    public init(postgres: PostgresClient, namespace: String) {
        self.postgres = postgres
        self.namespace = namespace
    }

    /// One stored step.
    public struct Step: Sendable, Codable, Equatable {
        public var step: Int
        public var epoch: Int
        public var loss: Double
        public var learning_rate: Double
        public var grad_norm: Double
        public var tokens: Int
        public var tokens_per_second: Double
        public var eval_loss: Double?
        /// DPO rewards, margins and accuracies; ETA; evaluation metrics.
        public var metrics: JSONValue
        /// The job attempt that produced the row.
        public var attempt: Int
    }

    /// One stored checkpoint.
    public struct Checkpoint: Sendable, Codable, Equatable {
        public var step: Int
        public var uri: String
        public var sha256: String
        public var size_bytes: Int
    }

    /// Upserts a step row.
    public func record(jobID: String, _ s: Step) async throws {
        try await postgres.query("""
            INSERT INTO platform.training_steps (job_id, namespace, step, epoch, loss, learning_rate, grad_norm, tokens,
                                                 tokens_per_second, eval_loss, metrics, attempt)
            VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
            ON CONFLICT (job_id, step) DO UPDATE SET epoch = EXCLUDED.epoch, loss = EXCLUDED.loss,
                learning_rate = EXCLUDED.learning_rate, grad_norm = EXCLUDED.grad_norm, tokens = EXCLUDED.tokens,
                tokens_per_second = EXCLUDED.tokens_per_second, eval_loss = EXCLUDED.eval_loss, metrics = EXCLUDED.metrics,
                attempt = EXCLUDED.attempt, created_at = now()
            """, [jobID, namespace, s.step, s.epoch, s.loss, s.learning_rate, s.grad_norm, s.tokens, s.tokens_per_second,
                  s.eval_loss, s.metrics.jsonText, s.attempt])
    }

    /// The job's steps in order.
    public func steps(jobID: String) async throws -> [Step] {
        let rows = try await postgres.query("""
            SELECT step, epoch, loss, learning_rate, grad_norm, tokens, tokens_per_second, eval_loss, metrics::text AS metrics, attempt
            FROM platform.training_steps WHERE job_id = $1::uuid ORDER BY step
            """, [jobID])
        return try rows.rows.map { r in
            Step(step: try r.int("step"), epoch: try r.int("epoch"), loss: try r.optionalDouble("loss") ?? .nan,
                 learning_rate: try r.optionalDouble("learning_rate") ?? 0, grad_norm: try r.optionalDouble("grad_norm") ?? 0,
                 tokens: try r.int("tokens"), tokens_per_second: try r.optionalDouble("tokens_per_second") ?? 0,
                 eval_loss: try r.optionalDouble("eval_loss"), metrics: try JSONValue.parse(try r.string("metrics")),
                 attempt: try r.int("attempt"))
        }
    }

    /// Records a checkpoint stored in the object store.
    public func addCheckpoint(jobID: String, _ c: Checkpoint) async throws {
        try await postgres.query("""
            INSERT INTO platform.training_checkpoints (job_id, namespace, step, uri, sha256, size_bytes)
            VALUES ($1::uuid, $2, $3, $4, $5, $6)
            ON CONFLICT (job_id, step) DO UPDATE SET uri = EXCLUDED.uri, sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes
            """, [jobID, namespace, c.step, c.uri, c.sha256, c.size_bytes])
    }

    /// The job's checkpoints, oldest first.
    public func checkpoints(jobID: String) async throws -> [Checkpoint] {
        let rows = try await postgres.query("""
            SELECT step, uri, sha256, size_bytes FROM platform.training_checkpoints WHERE job_id = $1::uuid ORDER BY step
            """, [jobID])
        return try rows.rows.map {
            Checkpoint(step: try $0.int("step"), uri: try $0.string("uri"), sha256: try $0.string("sha256"), size_bytes: try $0.int("size_bytes"))
        }
    }
}
