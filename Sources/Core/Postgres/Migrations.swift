/// Versioned SQL migrations, applied in order by ``Migrator``. Never edit a released migration: add one.
public enum Migrations {
    /// One migration: a version, a name, and its SQL.
    public struct Migration: Sendable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Every migration, oldest first.
    public static let all: [Migration] = [
        Migration(version: 1, name: "platform jobs and schedules", sql: """
            CREATE SCHEMA IF NOT EXISTS platform;
            CREATE TABLE platform.jobs (
                id              uuid PRIMARY KEY,
                namespace       text NOT NULL,
                kind            text NOT NULL,
                queue           text NOT NULL,
                payload         jsonb NOT NULL,
                priority        int NOT NULL DEFAULT 0,
                state           text NOT NULL,
                attempts        int NOT NULL DEFAULT 0,
                max_attempts    int NOT NULL,
                result          jsonb,
                error           text,
                lease_token     bigint,
                idempotency_key text,
                batch_id        uuid,
                tenant          text,
                crashes         int NOT NULL DEFAULT 0,
                pipeline_run    uuid,
                step            text,
                step_child      int,
                created_at      timestamptz NOT NULL,
                started_at      timestamptz,
                finished_at     timestamptz,
                updated_at      timestamptz NOT NULL DEFAULT now(),
                CONSTRAINT jobs_state_check CHECK (state IN ('queued','scheduled','running','retrying','succeeded','dead','cancelled'))
            );
            CREATE INDEX jobs_state_finished ON platform.jobs (namespace, state, finished_at DESC);
            CREATE INDEX jobs_kind_finished ON platform.jobs (namespace, kind, finished_at DESC);
            CREATE INDEX jobs_tenant ON platform.jobs (tenant) WHERE tenant IS NOT NULL;
            CREATE INDEX jobs_pipeline ON platform.jobs (pipeline_run, step) WHERE pipeline_run IS NOT NULL;
            CREATE TABLE platform.schedules (
                namespace   text NOT NULL,
                name        text NOT NULL,
                cron        text NOT NULL,
                timezone    text NOT NULL DEFAULT 'UTC',
                kind        text NOT NULL,
                queue       text NOT NULL DEFAULT 'default',
                payload     jsonb NOT NULL DEFAULT '{}',
                misfire     text NOT NULL DEFAULT 'skip',
                backfill    int NOT NULL DEFAULT 0,
                enabled     boolean NOT NULL DEFAULT true,
                source      text NOT NULL DEFAULT 'cli',
                last_tick   timestamptz,
                fence       bigint NOT NULL DEFAULT 0,
                created_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (namespace, name)
            );
            """),
        Migration(version: 2, name: "pipelines, artifacts and the job outbox", sql: """
            CREATE TABLE platform.pipeline_runs (
                id            uuid PRIMARY KEY,
                namespace     text NOT NULL,
                name          text NOT NULL,
                pipeline      text NOT NULL,
                definition    jsonb NOT NULL,
                params        jsonb NOT NULL,
                state         text NOT NULL,
                no_cache      boolean NOT NULL DEFAULT false,
                code_version  text NOT NULL,
                triggered_by  text NOT NULL,
                trigger       text NOT NULL,
                error         text,
                created_at    timestamptz NOT NULL DEFAULT now(),
                finished_at   timestamptz,
                CONSTRAINT runs_state_check CHECK (state IN ('running','succeeded','failed','cancelled'))
            );
            CREATE INDEX pipeline_runs_recent ON platform.pipeline_runs (namespace, created_at DESC);
            CREATE TABLE platform.step_runs (
                run_id        uuid NOT NULL REFERENCES platform.pipeline_runs(id) ON DELETE CASCADE,
                step          text NOT NULL,
                kind          text NOT NULL,
                state         text NOT NULL,
                params        jsonb,
                cache_key     text,
                cached        boolean NOT NULL DEFAULT false,
                fan_total     int NOT NULL DEFAULT 0,
                fan_succeeded int NOT NULL DEFAULT 0,
                fan_failed    int NOT NULL DEFAULT 0,
                job_ids       uuid[] NOT NULL DEFAULT '{}',
                artifact_id   uuid,
                error         text,
                started_at    timestamptz,
                finished_at   timestamptz,
                PRIMARY KEY (run_id, step),
                CONSTRAINT steps_state_check CHECK (state IN ('pending','queued','succeeded','failed','cancelled','skipped'))
            );
            CREATE INDEX step_runs_cache ON platform.step_runs (cache_key) WHERE state = 'succeeded';
            CREATE TABLE platform.artifacts (
                id          uuid PRIMARY KEY,
                namespace   text NOT NULL,
                name        text NOT NULL,
                version     int NOT NULL,
                type        text NOT NULL,
                metadata    jsonb NOT NULL DEFAULT '{}',
                tags        text[] NOT NULL DEFAULT '{}',
                payload     jsonb,
                uri         text,
                size_bytes  bigint NOT NULL,
                sha256      text NOT NULL,
                run_id      uuid,
                step        text,
                inputs      uuid[] NOT NULL DEFAULT '{}',
                created_at  timestamptz NOT NULL DEFAULT now(),
                UNIQUE (namespace, name, version)
            );
            CREATE TABLE platform.outbox (
                job_id        uuid PRIMARY KEY,
                namespace     text NOT NULL,
                spec          jsonb NOT NULL,
                created_at    timestamptz NOT NULL DEFAULT now(),
                dispatched_at timestamptz
            );
            CREATE INDEX outbox_pending ON platform.outbox (created_at) WHERE dispatched_at IS NULL;
            """),
        Migration(version: 3, name: "warehouse: authors and raw documents", sql: """
            CREATE SCHEMA IF NOT EXISTS warehouse;
            CREATE TABLE warehouse.authors (
                id          uuid PRIMARY KEY,
                first_name  text NOT NULL,
                last_name   text NOT NULL,
                full_name   text GENERATED ALWAYS AS (btrim(first_name || ' ' || last_name)) STORED UNIQUE,
                created_at  timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE warehouse.articles (
                id            uuid PRIMARY KEY,
                author_id     uuid NOT NULL REFERENCES warehouse.authors(id),
                platform      text NOT NULL,
                link          text NOT NULL UNIQUE,
                source_link   text,
                content       jsonb NOT NULL,
                content_hash  text NOT NULL,
                etag          text,
                last_modified text,
                fetched_at    timestamptz,
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX articles_author ON warehouse.articles (author_id);
            CREATE INDEX articles_source_link ON warehouse.articles (source_link) WHERE source_link IS NOT NULL;
            CREATE TABLE warehouse.posts (
                id            uuid PRIMARY KEY,
                author_id     uuid NOT NULL REFERENCES warehouse.authors(id),
                platform      text NOT NULL,
                link          text NOT NULL UNIQUE,
                source_link   text,
                content       jsonb NOT NULL,
                content_hash  text NOT NULL,
                etag          text,
                last_modified text,
                fetched_at    timestamptz,
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX posts_author ON warehouse.posts (author_id);
            CREATE INDEX posts_source_link ON warehouse.posts (source_link) WHERE source_link IS NOT NULL;
            CREATE TABLE warehouse.repositories (
                id            uuid PRIMARY KEY,
                author_id     uuid NOT NULL REFERENCES warehouse.authors(id),
                platform      text NOT NULL,
                link          text NOT NULL UNIQUE,
                name          text NOT NULL,
                source_link   text,
                content       jsonb NOT NULL,
                content_hash  text NOT NULL,
                etag          text,
                last_modified text,
                fetched_at    timestamptz,
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX repositories_author ON warehouse.repositories (author_id);
            CREATE INDEX repositories_source_link ON warehouse.repositories (source_link) WHERE source_link IS NOT NULL;
            """),
        Migration(version: 4, name: "training steps, checkpoints and the model registry", sql: """
            CREATE TABLE platform.training_steps (
                job_id            uuid NOT NULL,
                namespace         text NOT NULL,
                step              int NOT NULL,
                epoch             int NOT NULL,
                loss              double precision NOT NULL,
                learning_rate     double precision NOT NULL,
                grad_norm         double precision NOT NULL,
                tokens            int NOT NULL,
                tokens_per_second double precision NOT NULL,
                eval_loss         double precision,
                metrics           jsonb NOT NULL DEFAULT '{}',
                attempt           int NOT NULL,
                created_at        timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (job_id, step)
            );
            CREATE TABLE platform.training_checkpoints (
                job_id      uuid NOT NULL,
                namespace   text NOT NULL,
                step        int NOT NULL,
                uri         text NOT NULL,
                sha256      text NOT NULL,
                size_bytes  bigint NOT NULL,
                created_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (job_id, step)
            );
            CREATE TABLE platform.models (
                id            uuid PRIMARY KEY,
                namespace     text NOT NULL,
                name          text NOT NULL,
                version       int NOT NULL,
                stage         text NOT NULL DEFAULT 'candidate',
                base_model    text NOT NULL,
                dataset       text NOT NULL,
                dataset_id    uuid,
                config_hash   text NOT NULL,
                code_version  text NOT NULL,
                job_id        uuid,
                config        jsonb NOT NULL,
                metrics       jsonb NOT NULL DEFAULT '{}',
                artifacts     jsonb NOT NULL DEFAULT '{}',
                created_at    timestamptz NOT NULL DEFAULT now(),
                updated_at    timestamptz NOT NULL DEFAULT now(),
                UNIQUE (namespace, name, version),
                UNIQUE (namespace, job_id),
                CONSTRAINT models_stage_check CHECK (stage IN ('candidate','staging','production','archived'))
            );
            CREATE UNIQUE INDEX models_one_production ON platform.models (namespace, name) WHERE stage = 'production';
            CREATE TABLE platform.model_stage_events (
                id          bigserial PRIMARY KEY,
                model_id    uuid NOT NULL REFERENCES platform.models(id),
                from_stage  text NOT NULL,
                to_stage    text NOT NULL,
                reason      text NOT NULL,
                created_at  timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX model_stage_events_model ON platform.model_stage_events (model_id, id);
            """),
    ]
}

/// Applies pending migrations under an advisory lock, so concurrent starters cannot race.
public enum Migrator {
    /// An arbitrary constant: the advisory lock key that serialises migrators.
    static let lockKey = 7_245_019_311

    /// Applies every migration not yet recorded; returns the versions applied now.
    @discardableResult
    public static func migrate(_ client: PostgresClient) async throws -> [Int] {
        try await client.withConnection { conn in try migrate(conn) }
    }

    /// Synchronous form, on a connection the caller owns.
    public static func migrate(_ conn: PGConnection) throws -> [Int] {
        try conn.transaction { conn in
            try conn.query("SELECT pg_advisory_xact_lock($1)", [lockKey])
            try conn.execute("""
                CREATE SCHEMA IF NOT EXISTS platform;
                CREATE TABLE IF NOT EXISTS platform.schema_migrations (
                    version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
                """)
            let done = Set(try conn.query("SELECT version FROM platform.schema_migrations").rows.map { try $0.int("version") })
            var applied: [Int] = []
            for m in Migrations.all where !done.contains(m.version) {
                do { try conn.execute(m.sql) } catch let e as TwinError {
                    throw TwinError.postgres("migration \(m.version) (\(m.name)) failed: \(e.message)", sqlState: e.sqlState)
                }
                try conn.query("INSERT INTO platform.schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name])
                applied.append(m.version)
            }
            return applied
        }
    }

    /// The highest applied version (0 when none).
    public static func currentVersion(_ client: PostgresClient) async throws -> Int {
        let rows = try await client.query("""
            SELECT coalesce(max(version), 0) AS v FROM platform.schema_migrations
            """)
        return try rows.first?.int("v") ?? 0
    }
}
