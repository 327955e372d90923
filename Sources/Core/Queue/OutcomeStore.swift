/// Writes final job outcomes into `platform.jobs`: one statement for a whole group, keyed by job id.
///
/// A row that is already final is never overwritten, so a duplicate run (a job re-run after its worker
/// was presumed dead) cannot replace the first committed result.
enum OutcomeStore {
    static let upsert = """
        INSERT INTO platform.jobs AS j (id, namespace, kind, queue, payload, priority, state, attempts, max_attempts, result, error,
            lease_token, idempotency_key, batch_id, tenant, crashes, created_at, started_at, finished_at,
            pipeline_run, step, step_child)
        SELECT x.id, $2, x.kind, x.queue, x.payload, x.priority, x.state, x.attempts, x.max_attempts, x.result, x.error,
            x.lease_token, nullif(x.idem, ''), nullif(x.batch, '')::uuid, nullif(x.tenant, ''), x.crashes,
            to_timestamp(x.created_us / 1000000.0), to_timestamp(nullif(x.started_us, 0) / 1000000.0),
            to_timestamp(x.finished_us / 1000000.0),
            nullif(split_part(x.pipeline, '|', 1), '')::uuid, nullif(split_part(x.pipeline, '|', 2), ''),
            nullif(split_part(x.pipeline, '|', 3), '')::int
        FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, kind text, queue text, payload jsonb, priority int, state text,
            attempts int, max_attempts int, result jsonb, error text, lease_token bigint, idem text, batch text,
            tenant text, crashes int, created_us bigint, started_us bigint, finished_us bigint, pipeline text)
        ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts, result = EXCLUDED.result,
            error = EXCLUDED.error, lease_token = EXCLUDED.lease_token, crashes = EXCLUDED.crashes,
            started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, payload = EXCLUDED.payload,
            max_attempts = EXCLUDED.max_attempts, updated_at = now()
        WHERE j.state NOT IN ('succeeded', 'dead', 'cancelled')
        RETURNING j.id
        """

    /// Writes the outcomes; returns the ids written (those not already final).
    static func write(_ outcomes: [JobOutcome], namespace: String, on pg: PGConnection) throws -> [String] {
        var json = "["
        json.reserveCapacity(outcomes.count * 320)
        for (i, o) in outcomes.enumerated() {
            if i > 0 { json += "," }
            let j = o.job
            json += "{\"id\":\"\(j.id)\",\"kind\":\(jsonQuote(j.kind)),\"queue\":\(jsonQuote(j.queue)),"
            json += "\"payload\":\(j.payload),\"priority\":\(j.priority),\"state\":\"\(o.state.rawValue)\","
            json += "\"attempts\":\(j.attempt),\"max_attempts\":\(j.maxAttempts),"
            json += "\"result\":\(o.result ?? "null"),\"error\":\(o.error.map(jsonQuote) ?? "null"),"
            json += "\"lease_token\":\(Int(j.token) ?? 0),\"idem\":\(jsonQuote(j.idempotencyKey)),"
            json += "\"batch\":\(jsonQuote(j.batch)),\"tenant\":\(jsonQuote(j.tenant)),\"crashes\":\(j.crashes),"
            json += "\"created_us\":\(j.createdMicros),\"started_us\":\(j.startedMicros),\"finished_us\":\(o.finishedMicros),"
            json += "\"pipeline\":\(jsonQuote(j.pipeline))}"
        }
        json += "]"
        return try pg.query(upsert, [json, namespace]).cells.compactMap { $0.first ?? nil }
    }

    /// Whether the job already has a final row.
    static func finalState(of id: String, namespace: String, on pg: PGConnection) throws -> JobState? {
        let rows = try pg.query("SELECT state FROM platform.jobs WHERE id = $1 AND namespace = $2", [id, namespace])
        guard let s = try rows.first?.string("state"), let state = JobState(rawValue: s), state.isFinal else { return nil }
        return state
    }
}
