import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// Errors opening or reading the cache, in words an operator can act on.
public enum OnCallStoreError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case cannotCreate(path: String, reason: String)
    case readOnly(path: String)

    public var description: String {
        switch self {
        case .missing(let path):
            "no cache at \(path): run `shiftgate sync` first (or pass --database / SHIFTGATE_DATABASE)"
        case .cannotCreate(let path, let reason):
            "cannot create the cache at \(path): \(reason)"
        case .readOnly(let path):
            "the cache at \(path) was opened for reading only"
        }
    }
}

/// The SQLite cache, in WAL mode so that `serve` reads while `sync` writes. Opening it migrates it
/// when needed; it offers named writes that keep snapshots whole and focused reads.
///
/// Reads go through a read-only `DatabasePool` and writes through one `DatabaseQueue` connection.
/// A read-write `DatabasePool` would do too, but opening one always writes when the `-wal` file is
/// empty or absent (GRDB's `setUpWALMode` creates and drops a table so that its readers find a WAL),
/// which waits for any other process's write lock; an external `sqlite3` session or backup holding
/// the lock would then stop `status` or a restarting `serve`. With this split, opening a cache that
/// is already in WAL mode and migrated only reads, and in WAL mode reads never wait for a writer.
public final class OnCallDatabase: Sendable {
    public let path: String
    /// The readers (read-only connections).
    let pool: DatabasePool
    /// The one write connection, nil when opened `readOnly`.
    let writer: DatabaseQueue?
    /// How long a write waits for another process's write lock unless told otherwise.
    let busyTimeout: TimeInterval

    /// Opens (and, unless `mustExist`, creates with mode 0600) the cache at `path`.
    ///
    /// Opening a cache in WAL mode whose migrations have all run never waits for another process's
    /// write lock. A new or outdated file is first switched to WAL and migrated, which takes the
    /// write lock and so may wait, for at most `busyTimeout` in all. Writes wait up to `busyTimeout`
    /// too, unless given their own. `readOnly` opens no write connection; writes then throw.
    public init(path: String, mustExist: Bool = false, readOnly: Bool = false, busyTimeout: TimeInterval = 10) throws {
        self.path = path
        self.busyTimeout = busyTimeout
        if !FileManager.default.fileExists(atPath: path) {
            if mustExist { throw OnCallStoreError.missing(path: path) }
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if descriptor < 0, errno != EEXIST {
                throw OnCallStoreError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
            }
            if descriptor >= 0 { close(descriptor) }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.label = "shiftgate"

        var readerConfiguration = configuration
        readerConfiguration.readonly = true
        var readers = try DatabasePool(path: path, configuration: readerConfiguration)
        if try !readers.read(Self.isReady) {
            try Self.prepare(path: path, configuration: configuration, busyTimeout: busyTimeout)
            // Connections opened before the switch to WAL are not reused.
            readers = try DatabasePool(path: path, configuration: readerConfiguration)
        }
        pool = readers

        if readOnly {
            writer = nil
        } else {
            var writerConfiguration = configuration
            // A killed process never corrupts a WAL file at any sync level; FULL also keeps the last
            // snapshot and audit records through an OS crash or power loss, for little cost at one
            // write per snapshot. Setting it takes no lock.
            writerConfiguration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // The file is in WAL mode already (WAL is persistent), so the queue leaves the journal
            // mode alone (`.default`) and opening it writes nothing.
            writer = try DatabaseQueue(path: path, configuration: writerConfiguration)
        }
    }

    /// True when the file is in WAL mode and every migration has run: it can be used as it is.
    private static func isReady(_ db: Database) throws -> Bool {
        try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal" && Schema.migrator.hasCompletedMigrations(db)
    }

    /// Switches a new or outdated file to WAL and migrates it. Both take the write lock; together
    /// they wait at most `busyTimeout` for another process's.
    private static func prepare(path: String, configuration: Configuration, busyTimeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(busyTimeout)
        var configuration = configuration
        configuration.journalMode = .wal
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.writeWithoutTransaction { db in try setBusyTimeout(db, deadline.timeIntervalSinceNow) }
        try Schema.migrator.migrate(queue)
    }

    /// Sets how long statements on `db` wait for another connection's lock (0: not at all).
    private static func setBusyTimeout(_ db: Database, _ seconds: TimeInterval) throws {
        try db.execute(sql: "PRAGMA busy_timeout = \(Int((max(0, seconds) * 1000).rounded(.up)))")
    }

    /// Runs `updates` in one transaction on the write connection, waiting at most `busyTimeout`
    /// (or the default) for another process's write lock.
    private func write<T>(busyTimeout: TimeInterval?, _ updates: (Database) throws -> T) throws -> T {
        guard let writer else { throw OnCallStoreError.readOnly(path: path) }
        return try writer.writeWithoutTransaction { db in
            // Set before GRDB's `BEGIN IMMEDIATE`, which is where the wait for the lock happens.
            try Self.setBusyTimeout(db, busyTimeout ?? self.busyTimeout)
            var result: T?
            try db.inTransaction {
                result = try updates(db)
                return .commit
            }
            // inTransaction returns only after `updates` returned and the commit succeeded.
            return result!
        }
    }

    // MARK: Writes

    /// Writes `contents` as a new snapshot, makes it current and prunes all but the newest `keep`,
    /// in one transaction: readers see the old roster or the new one, never part of either.
    /// `busyTimeout` bounds the wait for another process's write lock (default: the one given at
    /// opening); when it runs out the write throws ("database is locked") and nothing changes.
    @discardableResult
    public func writeSnapshot(_ contents: SnapshotContents, keep: Int, busyTimeout: TimeInterval? = nil) throws -> SnapshotInfo {
        try write(busyTimeout: busyTimeout) { db in
            var info = contents.info
            info.userCount = contents.users.count
            info.scheduleCount = contents.schedules.count
            info.shiftBasedScheduleCount = contents.schedules.count { $0.kind == .shiftBased }
            info.shiftCount = contents.shifts.count
            info.policyCount = contents.policies.count
            info.onCallCount = contents.onCalls.count
            try db.execute(sql: """
                INSERT INTO snapshot (started_at, finished_at, window_start, window_end, user_count, schedule_count,
                    shift_based_schedule_count, shift_count, policy_count, oncall_count, api_requests, rate_limited)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [
                    info.startedAt.unixSeconds, info.finishedAt.unixSeconds, info.windowStart.unixSeconds,
                    info.windowEnd.unixSeconds, info.userCount, info.scheduleCount, info.shiftBasedScheduleCount, info.shiftCount,
                    info.policyCount, info.onCallCount, info.apiRequests, info.rateLimited,
                ])
            let id = db.lastInsertedRowID
            info.id = id

            let insertUser = try db.cachedStatement(sql: "INSERT OR REPLACE INTO user (snapshot_id, id, name, email, email_lower, time_zone) VALUES (?, ?, ?, ?, ?, ?)")
            for user in contents.users {
                try insertUser.execute(arguments: [id, user.id, user.name, user.email, user.email.emailMatchKey, user.timeZone])
            }
            let insertSchedule = try db.cachedStatement(sql: "INSERT OR REPLACE INTO schedule (snapshot_id, id, name, time_zone, description, kind) VALUES (?, ?, ?, ?, ?, ?)")
            for schedule in contents.schedules {
                try insertSchedule.execute(arguments: [id, schedule.id, schedule.name, schedule.timeZone, schedule.description, schedule.kind.rawValue])
            }
            let insertMember = try db.cachedStatement(sql: "INSERT OR IGNORE INTO schedule_member (snapshot_id, schedule_id, user_id) VALUES (?, ?, ?)")
            for member in contents.members {
                try insertMember.execute(arguments: [id, member.scheduleId, member.userId])
            }
            let insertShift = try db.cachedStatement(sql: "INSERT INTO shift (snapshot_id, schedule_id, user_id, start, \"end\") VALUES (?, ?, ?, ?, ?)")
            for shift in contents.shifts {
                try insertShift.execute(arguments: [id, shift.scheduleId, shift.userId, shift.start.unixSeconds, shift.end.unixSeconds])
            }
            let insertOverride = try db.cachedStatement(sql: "INSERT INTO override (snapshot_id, schedule_id, user_id, start, \"end\") VALUES (?, ?, ?, ?, ?)")
            for override in contents.overrides {
                try insertOverride.execute(arguments: [id, override.scheduleId, override.userId, override.start.unixSeconds, override.end.unixSeconds])
            }
            let insertPolicy = try db.cachedStatement(sql: "INSERT OR REPLACE INTO escalation_policy (snapshot_id, id, name, num_loops) VALUES (?, ?, ?, ?)")
            for policy in contents.policies {
                try insertPolicy.execute(arguments: [id, policy.id, policy.name, policy.numLoops])
            }
            let insertTarget = try db.cachedStatement(sql: "INSERT INTO escalation_target (snapshot_id, policy_id, level, rule_id, delay_minutes, target_type, target_id) VALUES (?, ?, ?, ?, ?, ?, ?)")
            for target in contents.targets {
                try insertTarget.execute(arguments: [id, target.policyId, target.level, target.ruleId, target.delayMinutes, target.kind.rawValue, target.targetId])
            }
            let insertOnCall = try db.cachedStatement(sql: "INSERT INTO oncall (snapshot_id, policy_id, level, schedule_id, user_id, start, \"end\") VALUES (?, ?, ?, ?, ?, ?, ?)")
            for onCall in contents.onCalls {
                try insertOnCall.execute(arguments: [id, onCall.policyId, onCall.level, onCall.scheduleId, onCall.userId, onCall.start?.unixSeconds, onCall.end?.unixSeconds])
            }

            try db.execute(sql: """
                UPDATE sync_state SET current_snapshot_id = ?, last_success_at = ?, last_attempt_at = ? WHERE id = 1
                """, arguments: [id, info.finishedAt.unixSeconds, info.startedAt.unixSeconds])
            try db.execute(sql: """
                DELETE FROM snapshot WHERE id NOT IN (SELECT id FROM snapshot ORDER BY id DESC LIMIT ?)
                """, arguments: [max(1, keep)])
            return info
        }
    }

    /// Notes a failed sync; the current snapshot stays as it was. `busyTimeout` as for `writeSnapshot`.
    public func recordFailure(at date: Date, reason: String, busyTimeout: TimeInterval? = nil) throws {
        try write(busyTimeout: busyTimeout) { db in
            try db.execute(sql: "UPDATE sync_state SET last_failure_at = ?, last_failure_reason = ?, last_attempt_at = ? WHERE id = 1",
                           arguments: [date.unixSeconds, reason, date.unixSeconds])
        }
    }

    /// Appends audit records in one transaction.
    public func appendDecisions(_ records: [DecisionRecord]) throws {
        guard !records.isEmpty else { return }
        try write(busyTimeout: nil) { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for record in records {
                try insert.execute(arguments: [
                    record.decidedAt.timeIntervalSince1970, record.requestId, record.requester, record.resources,
                    record.outcome, record.reason, record.snapshotId, record.scheduleId, record.grantedSeconds,
                ])
            }
        }
    }

    // MARK: Reads

    public func syncState() throws -> SyncState {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sync_state WHERE id = 1") else { return SyncState() }
            return SyncState(
                currentSnapshotId: row["current_snapshot_id"],
                lastSuccessAt: (row["last_success_at"] as Int64?).map(Date.init(unixSeconds:)),
                lastAttemptAt: (row["last_attempt_at"] as Int64?).map(Date.init(unixSeconds:)),
                lastFailureAt: (row["last_failure_at"] as Int64?).map(Date.init(unixSeconds:)),
                lastFailureReason: row["last_failure_reason"]
            )
        }
    }

    /// The current snapshot's id, cheaply (the server polls it).
    public func currentSnapshotId() throws -> Int64? {
        try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT current_snapshot_id FROM sync_state WHERE id = 1")
        }
    }

    public func currentSnapshotInfo() throws -> SnapshotInfo? {
        try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT snapshot.* FROM snapshot JOIN sync_state ON sync_state.current_snapshot_id = snapshot.id")
                .map(SnapshotInfo.init(row:))
        }
    }

    /// Every kept snapshot, oldest first.
    public func snapshots() throws -> [SnapshotInfo] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM snapshot ORDER BY id").map(SnapshotInfo.init(row:))
        }
    }

    /// The current snapshot in full, or nil when no sync has completed.
    public func currentSnapshot() throws -> SnapshotContents? {
        try pool.read { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT current_snapshot_id FROM sync_state WHERE id = 1") else { return nil }
            return try Self.contents(db, id: id)
        }
    }

    /// One snapshot in full, read in one transaction.
    public func snapshot(id: Int64) throws -> SnapshotContents? {
        try pool.read { db in try Self.contents(db, id: id) }
    }

    static func contents(_ db: Database, id: Int64) throws -> SnapshotContents? {
        guard let infoRow = try Row.fetchOne(db, sql: "SELECT * FROM snapshot WHERE id = ?", arguments: [id]) else { return nil }
        let arguments: StatementArguments = [id]
        let users = try Row.fetchAll(db, sql: "SELECT id, name, email, time_zone FROM user WHERE snapshot_id = ? ORDER BY id", arguments: arguments).map {
            User(id: $0[0], name: $0[1], email: $0[2], timeZone: $0[3])
        }
        let schedules = try Row.fetchAll(db, sql: "SELECT id, name, time_zone, description, kind FROM schedule WHERE snapshot_id = ? ORDER BY id", arguments: arguments).map {
            Schedule(id: $0[0], name: $0[1], timeZone: $0[2], description: $0[3], kind: ScheduleKind(rawValue: $0[4]) ?? .layerBased)
        }
        let members = try Row.fetchAll(db, sql: "SELECT schedule_id, user_id FROM schedule_member WHERE snapshot_id = ? ORDER BY schedule_id, user_id", arguments: arguments).map {
            ScheduleMember(scheduleId: $0[0], userId: $0[1])
        }
        let shifts = try Row.fetchAll(db, sql: "SELECT schedule_id, user_id, start, \"end\" FROM shift WHERE snapshot_id = ? ORDER BY schedule_id, start", arguments: arguments).map {
            Shift(scheduleId: $0[0], userId: $0[1], start: Date(unixSeconds: $0[2]), end: Date(unixSeconds: $0[3]))
        }
        let overrides = try Row.fetchAll(db, sql: "SELECT schedule_id, user_id, start, \"end\" FROM override WHERE snapshot_id = ? ORDER BY schedule_id, start", arguments: arguments).map {
            Override(scheduleId: $0[0], userId: $0[1], start: Date(unixSeconds: $0[2]), end: Date(unixSeconds: $0[3]))
        }
        let policies = try Row.fetchAll(db, sql: "SELECT id, name, num_loops FROM escalation_policy WHERE snapshot_id = ? ORDER BY id", arguments: arguments).map {
            EscalationPolicy(id: $0[0], name: $0[1], numLoops: $0[2])
        }
        let targets = try Row.fetchAll(db, sql: "SELECT policy_id, level, rule_id, delay_minutes, target_type, target_id FROM escalation_target WHERE snapshot_id = ? ORDER BY policy_id, level, target_type, target_id", arguments: arguments).map {
            EscalationTarget(policyId: $0[0], level: $0[1], ruleId: $0[2], delayMinutes: $0[3], kind: EscalationTarget.Kind(rawValue: $0[4]) ?? .user, targetId: $0[5])
        }
        let onCalls = try Row.fetchAll(db, sql: "SELECT policy_id, level, schedule_id, user_id, start, \"end\" FROM oncall WHERE snapshot_id = ? ORDER BY policy_id, level, start", arguments: arguments).map {
            OnCall(policyId: $0[0], level: $0[1], scheduleId: $0[2], userId: $0[3],
                   start: ($0[4] as Int64?).map(Date.init(unixSeconds:)), end: ($0[5] as Int64?).map(Date.init(unixSeconds:)))
        }
        return SnapshotContents(info: SnapshotInfo(row: infoRow), users: users, schedules: schedules, members: members, shifts: shifts,
                                overrides: overrides, policies: policies, targets: targets, onCalls: onCalls)
    }

    /// Audit records decided at or after `since`, oldest first.
    public func decisions(since: Date, limit: Int = 10_000) throws -> [DecisionRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM decision WHERE decided_at >= ? ORDER BY decided_at, id LIMIT ?
                """, arguments: [since.timeIntervalSince1970, limit]).map { row in
                DecisionRecord(
                    id: row["id"], decidedAt: Date(timeIntervalSince1970: row["decided_at"]), requestId: row["request_id"],
                    requester: row["requester"], resources: row["resources"], outcome: row["outcome"], reason: row["reason"],
                    snapshotId: row["snapshot_id"], scheduleId: row["schedule_id"], grantedSeconds: row["granted_seconds"])
            }
        }
    }

    /// `PRAGMA integrity_check`'s answer: "ok" for a sound file.
    public func integrityCheck() throws -> String {
        try pool.read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }
}

extension SnapshotInfo {
    init(row: Row) {
        self.init(
            id: row["id"], startedAt: Date(unixSeconds: row["started_at"]), finishedAt: Date(unixSeconds: row["finished_at"]),
            windowStart: Date(unixSeconds: row["window_start"]), windowEnd: Date(unixSeconds: row["window_end"]),
            userCount: row["user_count"], scheduleCount: row["schedule_count"],
            shiftBasedScheduleCount: row["shift_based_schedule_count"], shiftCount: row["shift_count"],
            policyCount: row["policy_count"], onCallCount: row["oncall_count"], apiRequests: row["api_requests"],
            rateLimited: row["rate_limited"])
    }
}

extension Date {
    /// Whole Unix seconds, as the cache stores times (PagerDuty's times are whole seconds).
    public var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }

    public init(unixSeconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixSeconds))
    }
}
