import Logging
import PostgresNIO

/// The PostgreSQL cache's schema: the SQLite cache's tables, columns, indexes and views after all of
/// its migrations, so that an operator who knows one knows the other and both engines give back the
/// same values in the same order. Where PostgreSQL differs, the schema says so:
///
/// - Times are BIGINT Unix seconds (UTC), as in SQLite; the views show them as UTC timestamps.
/// - Snapshot and decision ids are identity columns, which, like SQLite's AUTOINCREMENT, never hand
///   out an id twice.
/// - `user` is a reserved word here: it is always written `"user"`.
/// - Identifier columns sort with `COLLATE "C"`, byte by byte, as SQLite's BINARY collation does;
///   the database's own locale would order "PU10" and "pu2" differently on another server.
/// - `shift`, `override`, `escalation_target` and `oncall` have an `ordinal` column: the row's place
///   in the list the sync wrote. SQLite gives rows that tie on the read's ORDER BY back in the order
///   they were inserted (its implicit rowid); PostgreSQL has no such order, so it is stored.
///
/// Migrations are append-only: never edit one that has shipped. Each runs in its own transaction,
/// and `migrate` holds an advisory lock while it runs them, so two processes starting against an
/// empty database at once create the schema once.
enum PostgresSchema {
    struct Migration {
        var version: Int64
        var description: String
        /// One statement per element: the extended query protocol runs one statement at a time.
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, description: "snapshots, roster, sync state, decisions, views", statements: [
            """
            CREATE TABLE snapshot (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                started_at BIGINT NOT NULL,
                finished_at BIGINT NOT NULL,
                window_start BIGINT NOT NULL,
                window_end BIGINT NOT NULL,
                user_count BIGINT NOT NULL,
                schedule_count BIGINT NOT NULL,
                shift_based_schedule_count BIGINT NOT NULL DEFAULT 0,
                shift_count BIGINT NOT NULL,
                policy_count BIGINT NOT NULL,
                oncall_count BIGINT NOT NULL,
                api_requests BIGINT NOT NULL,
                rate_limited BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE "user" (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                id TEXT COLLATE "C" NOT NULL,
                name TEXT NOT NULL,
                email TEXT NOT NULL,
                email_lower TEXT COLLATE "C" NOT NULL,
                time_zone TEXT NOT NULL,
                PRIMARY KEY (snapshot_id, id)
            )
            """,
            #"CREATE INDEX user_by_email ON "user"(snapshot_id, email_lower)"#,
            """
            CREATE TABLE schedule (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                id TEXT COLLATE "C" NOT NULL,
                name TEXT NOT NULL,
                time_zone TEXT NOT NULL,
                description TEXT NOT NULL,
                kind TEXT NOT NULL DEFAULT 'layer_based' CHECK (kind IN ('layer_based', 'shift_based')),
                PRIMARY KEY (snapshot_id, id)
            )
            """,
            """
            CREATE TABLE schedule_member (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                schedule_id TEXT COLLATE "C" NOT NULL,
                user_id TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (snapshot_id, schedule_id, user_id)
            )
            """,
            """
            CREATE TABLE shift (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                ordinal BIGINT NOT NULL,
                schedule_id TEXT COLLATE "C" NOT NULL,
                user_id TEXT COLLATE "C" NOT NULL,
                start BIGINT NOT NULL,
                "end" BIGINT NOT NULL,
                CHECK ("end" > start)
            )
            """,
            "CREATE INDEX shift_by_snapshot ON shift(snapshot_id, schedule_id, start)",
            """
            CREATE TABLE override (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                ordinal BIGINT NOT NULL,
                schedule_id TEXT COLLATE "C" NOT NULL,
                user_id TEXT COLLATE "C" NOT NULL,
                start BIGINT NOT NULL,
                "end" BIGINT NOT NULL
            )
            """,
            "CREATE INDEX override_by_snapshot ON override(snapshot_id, schedule_id)",
            """
            CREATE TABLE escalation_policy (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                id TEXT COLLATE "C" NOT NULL,
                name TEXT NOT NULL,
                num_loops BIGINT NOT NULL,
                PRIMARY KEY (snapshot_id, id)
            )
            """,
            """
            CREATE TABLE escalation_target (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                ordinal BIGINT NOT NULL,
                policy_id TEXT COLLATE "C" NOT NULL,
                level BIGINT NOT NULL,
                rule_id TEXT COLLATE "C" NOT NULL,
                delay_minutes BIGINT NOT NULL,
                target_type TEXT COLLATE "C" NOT NULL CHECK (target_type IN ('schedule', 'user')),
                target_id TEXT COLLATE "C" NOT NULL
            )
            """,
            "CREATE INDEX escalation_target_by_snapshot ON escalation_target(snapshot_id, policy_id, level)",
            """
            CREATE TABLE oncall (
                snapshot_id BIGINT NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                ordinal BIGINT NOT NULL,
                policy_id TEXT COLLATE "C" NOT NULL,
                level BIGINT NOT NULL,
                schedule_id TEXT COLLATE "C",
                user_id TEXT COLLATE "C" NOT NULL,
                start BIGINT,
                "end" BIGINT
            )
            """,
            "CREATE INDEX oncall_by_snapshot ON oncall(snapshot_id, user_id)",
            """
            CREATE TABLE sync_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                current_snapshot_id BIGINT REFERENCES snapshot(id) ON DELETE SET NULL,
                last_success_at BIGINT,
                last_attempt_at BIGINT,
                last_failure_at BIGINT,
                last_failure_reason TEXT
            )
            """,
            "INSERT INTO sync_state (id) VALUES (1)",
            """
            CREATE TABLE decision (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                decided_at BIGINT NOT NULL,
                request_id TEXT NOT NULL,
                requester TEXT NOT NULL,
                resources TEXT NOT NULL,
                outcome TEXT NOT NULL,
                reason TEXT NOT NULL,
                snapshot_id BIGINT,
                schedule_id TEXT,
                granted_seconds BIGINT
            )
            """,
            "CREATE INDEX decision_by_time ON decision(decided_at)",
            // For people with psql: the current snapshot's shifts, readable. Several rows per
            // schedule at one moment are normal: a shift-based schedule can have several people on
            // call at once.
            """
            CREATE VIEW current_shifts AS
            SELECT s.name AS schedule, s.id AS schedule_id, u.name AS "user", u.email AS email,
                   to_timestamp(sh.start) AT TIME ZONE 'UTC' AS start_utc,
                   to_timestamp(sh."end") AT TIME ZONE 'UTC' AS end_utc,
                   s.time_zone AS schedule_time_zone, s.kind AS schedule_kind
            FROM shift sh
            JOIN sync_state st ON st.id = 1 AND sh.snapshot_id = st.current_snapshot_id
            JOIN schedule s ON s.snapshot_id = sh.snapshot_id AND s.id = sh.schedule_id
            LEFT JOIN "user" u ON u.snapshot_id = sh.snapshot_id AND u.id = sh.user_id
            ORDER BY sh.start, s.name, u.name
            """,
            """
            CREATE VIEW on_call_now AS
            SELECT schedule, schedule_id, "user", email, start_utc, end_utc, schedule_time_zone, schedule_kind
            FROM current_shifts
            WHERE start_utc <= (now() AT TIME ZONE 'UTC') AND end_utc > (now() AT TIME ZONE 'UTC')
            """,
        ]),
        Migration(version: 2, description: "how each snapshot was read (full or refresh)", statements: [
            "ALTER TABLE snapshot ADD COLUMN read_kind TEXT NOT NULL DEFAULT 'full' CHECK (read_kind IN ('full', 'refresh'))",
        ]),
        // NULL for the rows of older snapshots: not known, so the next sync reads everything.
        Migration(version: 3, description: "whether /oncalls describes each schedule", statements: [
            "ALTER TABLE schedule ADD COLUMN described_by_oncalls BOOLEAN",
        ]),
        // NULL: the whole window (a full read, a schedule read whole, and every older snapshot).
        Migration(version: 4, description: "the span over which a refresh confirmed each schedule's roster", statements: [
            "ALTER TABLE schedule ADD COLUMN confirmed_since BIGINT",
            "ALTER TABLE schedule ADD COLUMN confirmed_until BIGINT",
        ]),
        // NULL for records written without a key (refusals, older records); a spooled record moved
        // into the table twice is there once.
        Migration(version: 5, description: "audit record keys (durable audit and its spool)", statements: [
            "ALTER TABLE decision ADD COLUMN audit_key TEXT",
            "CREATE UNIQUE INDEX decision_by_audit_key ON decision(audit_key)",
        ]),
    ]

    /// The advisory lock key that `migrate` holds: "SHIFTG" in ASCII, then 2 (the sync lock is 1),
    /// unlikely to meet another application's advisory locks in the same database.
    static let migrationLockKey: Int64 = 0x5348_4946_5447_0002

    /// Which migrations have run; empty when the database has no Shiftgate schema at all.
    static func appliedVersions(_ connection: PostgresConnection, logger: Logger) async throws -> Set<Int64> {
        var exists = false
        for try await answer in try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger).decode(Bool.self) {
            exists = answer
        }
        guard exists else { return [] }
        var versions = Set<Int64>()
        for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int64.self) {
            versions.insert(version)
        }
        return versions
    }

    /// True when every migration this build knows has run. Versions a newer build added are left
    /// alone, as GRDB's migrator leaves them in SQLite.
    static func isReady(_ applied: Set<Int64>) -> Bool {
        migrations.allSatisfy { applied.contains($0.version) }
    }

    /// Runs the migrations that have not run, in order, each in its own transaction, holding the
    /// migration lock meanwhile; a second process calling this at the same time waits, then finds
    /// nothing left to do. The lock is a session lock: it goes with the connection if this process
    /// dies halfway.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.perform("SELECT pg_advisory_lock(\(migrationLockKey))", logger: logger)
        do {
            try await connection.perform("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    description TEXT NOT NULL,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            let applied = try await appliedVersions(connection, logger: logger)
            for migration in migrations where !applied.contains(migration.version) {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in migration.statements {
                        try await connection.perform(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.perform(
                        "INSERT INTO schema_migrations (version, description) VALUES (\(migration.version), \(migration.description))",
                        logger: logger)
                }
                logger.info("migrated the cache", metadata: ["version": "\(migration.version)", "migration": "\(migration.description)"])
            }
        } catch {
            try? await connection.perform("SELECT pg_advisory_unlock(\(migrationLockKey))", logger: logger)
            throw error
        }
        try await connection.perform("SELECT pg_advisory_unlock(\(migrationLockKey))", logger: logger)
    }
}
