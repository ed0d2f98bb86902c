import GRDB
import OnCallStore

/// The cache's schema. Migrations are append-only: never edit one that has shipped.
///
/// Times are INTEGER Unix seconds (UTC); `sqlite3` shows them with `datetime(col, 'unixepoch')`, and
/// the `current_shifts` view does that already. Every roster table is keyed by `snapshot_id`, so a
/// snapshot is written and pruned as a unit and readers never see half of one.
///
/// Schedules are of two kinds (`schedule.kind`): `layer_based` (PagerDuty's legacy `/schedules`, one
/// person on call at a time) and `shift_based` (`/v3/schedules`, where rotations, every-member
/// events and custom shifts put several people on call at once). Both store their final schedule
/// as `shift` rows, one per person and stretch, so rows of one schedule may overlap: who is on call
/// is always the set of rows covering the moment. A shift-based schedule's empty slots have no rows.
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: snapshots, roster, sync state, decisions") { db in
            try db.execute(sql: """
                CREATE TABLE snapshot (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    started_at INTEGER NOT NULL,
                    finished_at INTEGER NOT NULL,
                    window_start INTEGER NOT NULL,
                    window_end INTEGER NOT NULL,
                    user_count INTEGER NOT NULL,
                    schedule_count INTEGER NOT NULL,
                    shift_count INTEGER NOT NULL,
                    policy_count INTEGER NOT NULL,
                    oncall_count INTEGER NOT NULL,
                    api_requests INTEGER NOT NULL,
                    rate_limited INTEGER NOT NULL
                );
                CREATE TABLE user (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    email TEXT NOT NULL,
                    email_lower TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    PRIMARY KEY (snapshot_id, id)
                ) WITHOUT ROWID;
                CREATE INDEX user_by_email ON user(snapshot_id, email_lower);
                CREATE TABLE schedule (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    time_zone TEXT NOT NULL,
                    description TEXT NOT NULL,
                    PRIMARY KEY (snapshot_id, id)
                ) WITHOUT ROWID;
                CREATE TABLE schedule_member (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    schedule_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    PRIMARY KEY (snapshot_id, schedule_id, user_id)
                ) WITHOUT ROWID;
                CREATE TABLE shift (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    schedule_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    start INTEGER NOT NULL,
                    "end" INTEGER NOT NULL,
                    CHECK ("end" > start)
                );
                CREATE INDEX shift_by_snapshot ON shift(snapshot_id, schedule_id, start);
                CREATE TABLE override (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    schedule_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    start INTEGER NOT NULL,
                    "end" INTEGER NOT NULL
                );
                CREATE INDEX override_by_snapshot ON override(snapshot_id, schedule_id);
                CREATE TABLE escalation_policy (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    num_loops INTEGER NOT NULL,
                    PRIMARY KEY (snapshot_id, id)
                ) WITHOUT ROWID;
                CREATE TABLE escalation_target (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    policy_id TEXT NOT NULL,
                    level INTEGER NOT NULL,
                    rule_id TEXT NOT NULL,
                    delay_minutes INTEGER NOT NULL,
                    target_type TEXT NOT NULL CHECK (target_type IN ('schedule', 'user')),
                    target_id TEXT NOT NULL
                );
                CREATE INDEX escalation_target_by_snapshot ON escalation_target(snapshot_id, policy_id, level);
                CREATE TABLE oncall (
                    snapshot_id INTEGER NOT NULL REFERENCES snapshot(id) ON DELETE CASCADE,
                    policy_id TEXT NOT NULL,
                    level INTEGER NOT NULL,
                    schedule_id TEXT,
                    user_id TEXT NOT NULL,
                    start INTEGER,
                    "end" INTEGER
                );
                CREATE INDEX oncall_by_snapshot ON oncall(snapshot_id, user_id);
                CREATE TABLE sync_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    current_snapshot_id INTEGER REFERENCES snapshot(id) ON DELETE SET NULL,
                    last_success_at INTEGER,
                    last_attempt_at INTEGER,
                    last_failure_at INTEGER,
                    last_failure_reason TEXT
                );
                INSERT INTO sync_state (id) VALUES (1);
                CREATE TABLE decision (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    decided_at REAL NOT NULL,
                    request_id TEXT NOT NULL,
                    requester TEXT NOT NULL,
                    resources TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    snapshot_id INTEGER,
                    schedule_id TEXT,
                    granted_seconds INTEGER
                );
                CREATE INDEX decision_by_time ON decision(decided_at);

                -- For people with sqlite3: the current snapshot's shifts, readable.
                CREATE VIEW current_shifts AS
                SELECT s.name AS schedule, s.id AS schedule_id, u.name AS user, u.email AS email,
                       datetime(sh.start, 'unixepoch') AS start_utc, datetime(sh."end", 'unixepoch') AS end_utc,
                       s.time_zone AS schedule_time_zone
                FROM shift sh
                JOIN sync_state st ON st.id = 1 AND sh.snapshot_id = st.current_snapshot_id
                JOIN schedule s ON s.snapshot_id = sh.snapshot_id AND s.id = sh.schedule_id
                LEFT JOIN user u ON u.snapshot_id = sh.snapshot_id AND u.id = sh.user_id
                ORDER BY sh.start, s.name;

                CREATE VIEW on_call_now AS
                SELECT schedule, schedule_id, user, email, start_utc, end_utc, schedule_time_zone
                FROM current_shifts
                WHERE start_utc <= datetime('now') AND end_utc > datetime('now');
                """)
        }
        migrator.registerMigration("v2: schedule kinds (layer-based and shift-based)") { db in
            try db.execute(sql: """
                ALTER TABLE schedule ADD COLUMN kind TEXT NOT NULL DEFAULT 'layer_based'
                    CHECK (kind IN ('layer_based', 'shift_based'));
                ALTER TABLE snapshot ADD COLUMN shift_based_schedule_count INTEGER NOT NULL DEFAULT 0;

                -- The views gain the schedule's kind. Several rows per schedule at one moment are
                -- normal: a shift-based schedule can have several people on call at once.
                DROP VIEW on_call_now;
                DROP VIEW current_shifts;
                CREATE VIEW current_shifts AS
                SELECT s.name AS schedule, s.id AS schedule_id, u.name AS user, u.email AS email,
                       datetime(sh.start, 'unixepoch') AS start_utc, datetime(sh."end", 'unixepoch') AS end_utc,
                       s.time_zone AS schedule_time_zone, s.kind AS schedule_kind
                FROM shift sh
                JOIN sync_state st ON st.id = 1 AND sh.snapshot_id = st.current_snapshot_id
                JOIN schedule s ON s.snapshot_id = sh.snapshot_id AND s.id = sh.schedule_id
                LEFT JOIN user u ON u.snapshot_id = sh.snapshot_id AND u.id = sh.user_id
                ORDER BY sh.start, s.name, u.name;

                CREATE VIEW on_call_now AS
                SELECT schedule, schedule_id, user, email, start_utc, end_utc, schedule_time_zone, schedule_kind
                FROM current_shifts
                WHERE start_utc <= datetime('now') AND end_utc > datetime('now');
                """)
        }
        migrator.registerMigration("v3: decision times in whole seconds") { db in
            // v1 made `decided_at` REAL (fractional seconds), against the rule above. SQLite cannot
            // change a column's type, so the table is rebuilt as GRDB's migration guide (and
            // SQLite's own) lays out: create, copy, drop, rename, recreate the index. Every decision
            // was made after 1970, where CAST's truncation is the rounding down of `unixSeconds`.
            // Ids are copied as they are and the AUTOINCREMENT counter carried over, so ids are
            // never reused.
            try db.execute(sql: """
                CREATE TABLE new_decision (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    decided_at INTEGER NOT NULL,
                    request_id TEXT NOT NULL,
                    requester TEXT NOT NULL,
                    resources TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    snapshot_id INTEGER,
                    schedule_id TEXT,
                    granted_seconds INTEGER
                );
                INSERT INTO new_decision (id, decided_at, request_id, requester, resources, outcome, reason,
                                          snapshot_id, schedule_id, granted_seconds)
                SELECT id, CAST(decided_at AS INTEGER), request_id, requester, resources, outcome, reason,
                       snapshot_id, schedule_id, granted_seconds
                FROM decision;
                DELETE FROM sqlite_sequence WHERE name = 'new_decision';
                INSERT INTO sqlite_sequence (name, seq) SELECT 'new_decision', seq FROM sqlite_sequence WHERE name = 'decision';
                DROP TABLE decision;
                ALTER TABLE new_decision RENAME TO decision;
                CREATE INDEX decision_by_time ON decision(decided_at);
                """)
        }
        migrator.registerMigration("v4: how each snapshot was read (full or refresh)") { db in
            try db.execute(sql: """
                ALTER TABLE snapshot ADD COLUMN read_kind TEXT NOT NULL DEFAULT 'full' CHECK (read_kind IN ('full', 'refresh'));
                """)
        }
        migrator.registerMigration("v5: whether /oncalls describes each schedule") { db in
            // NULL for the rows of older snapshots: not known, so the next sync reads everything.
            try db.execute(sql: """
                ALTER TABLE schedule ADD COLUMN described_by_oncalls INTEGER CHECK (described_by_oncalls IN (0, 1));
                """)
        }
        migrator.registerMigration("v6: the span over which a refresh confirmed each schedule's roster") { db in
            // NULL: the whole window (a full read, a schedule read whole, and every older snapshot).
            try db.execute(sql: """
                ALTER TABLE schedule ADD COLUMN confirmed_since INTEGER;
                ALTER TABLE schedule ADD COLUMN confirmed_until INTEGER;
                """)
        }
        migrator.registerMigration("v7: audit record keys (durable audit and its spool)") { db in
            // NULL for records written without a key (refusals, and every record before v7); a key
            // is unique, so a spooled record moved into the table twice is there once.
            try db.execute(sql: """
                ALTER TABLE decision ADD COLUMN audit_key TEXT;
                CREATE UNIQUE INDEX decision_by_audit_key ON decision(audit_key);
                """)
        }
        return migrator
    }
}
