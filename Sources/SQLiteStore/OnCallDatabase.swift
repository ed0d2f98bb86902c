import Foundation
import GRDB
import OnCallStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif


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
    /// The connection `checkpointInBackground` uses, once it has been called.
    private let checkpointing = Mutex<DatabaseQueue?>(nil)

    /// Opens (and, unless `mustExist`, creates with mode 0600) the cache at `path`.
    ///
    /// Opening a cache in WAL mode whose migrations have all run never waits for another process's
    /// write lock. A new or outdated file is first switched to WAL and migrated, which takes the
    /// write lock and so may wait, for at most `busyTimeout` in all. Writes wait up to `busyTimeout`
    /// too, unless given their own. `readOnly` opens no write connection; writes then throw.
    public init(path: String, mustExist: Bool = false, readOnly: Bool = false, busyTimeout: TimeInterval = 10) throws {
        self.path = path
        self.busyTimeout = busyTimeout
        do {
            (pool, writer) = try Self.openConnections(path: path, mustExist: mustExist, readOnly: readOnly, busyTimeout: busyTimeout)
        } catch let error as DatabaseError {
            throw Self.explained(error, path: path)
        }
    }

    /// SQLite's errors on opening, as what is wrong with the file and what to do.
    static func explained(_ error: DatabaseError, path: String) -> any Error {
        let reason = error.message ?? "\(error.resultCode)"
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return SQLiteStoreError.notACache(path: path, reason: reason)
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            return SQLiteStoreError.notWritable(path: path, reason: reason)
        case .SQLITE_CANTOPEN, .SQLITE_IOERR:
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                return SQLiteStoreError.isDirectory(path: path)
            }
            let directory = (path as NSString).deletingLastPathComponent
            if access(path, R_OK | W_OK) != 0 || access(directory.isEmpty ? "." : directory, W_OK) != 0 {
                return SQLiteStoreError.notWritable(path: path, reason: reason)
            }
            return error
        default:
            return error
        }
    }

    private static func openConnections(path: String, mustExist: Bool, readOnly: Bool, busyTimeout: TimeInterval) throws -> (DatabasePool, DatabaseQueue?) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw SQLiteStoreError.isDirectory(path: path)
        }
        if !FileManager.default.fileExists(atPath: path) {
            if mustExist { throw SQLiteStoreError.missing(path: path) }
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            if descriptor < 0, errno != EEXIST {
                throw SQLiteStoreError.cannotCreate(path: path, reason: String(cString: strerror(errno)))
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

        if readOnly {
            return (readers, nil)
        } else {
            var writerConfiguration = configuration
            // A killed process never corrupts a WAL file at any sync level; FULL also keeps the last
            // snapshot and audit records through an OS crash or power loss, for little cost at one
            // write per snapshot. Setting it takes no lock.
            writerConfiguration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            // The file is in WAL mode already (WAL is persistent), so the queue leaves the journal
            // mode alone (`.default`) and opening it writes nothing.
            return (readers, try DatabaseQueue(path: path, configuration: writerConfiguration))
        }
    }

    /// The file now at `path`, opened as this one was (it must exist): after the file was replaced.
    public func reopened() throws -> OnCallDatabase {
        try OnCallDatabase(path: path, mustExist: true, readOnly: writer == nil, busyTimeout: busyTimeout)
    }

    /// Checkpoints the WAL into the file without blocking anyone (PASSIVE), on a connection of its
    /// own. `serve` calls this from its audit writer's loop, so that the automatic checkpoint inside
    /// the commit that crosses 1,000 pages (the one an approval then waits on) finds most pages
    /// already copied. The automatic one stays: only a checkpoint that holds the write lock
    /// finishes while writes keep coming, and lets the next commit start the WAL from its beginning
    /// (with PASSIVE checkpoints alone, under steady approvals the WAL grew to 878 MB in 3 minutes).
    public func checkpointInBackground() throws {
        guard writer != nil else { return }
        let connection = try checkpointing.withLock { state -> DatabaseQueue in
            if let connection = state { return connection }
            var configuration = Configuration()
            configuration.busyMode = .timeout(0)
            configuration.label = "shiftgate checkpoint"
            let connection = try DatabaseQueue(path: path, configuration: configuration)
            state = connection
            return connection
        }
        try connection.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)") }
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
        // GRDB reads which migrations ran before it takes the lock for the first one, and switching a
        // new file to WAL does not wait for a lock, so two processes preparing one new file at once
        // (a sync creating it while `serve` reopens the path) can fail where only one may go on
        // ("duplicate column name", "database is locked"). The one that fails reads the file again
        // and runs what is still missing, if anything, until the busy timeout has passed.
        var attempt = 0
        while true {
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                try queue.writeWithoutTransaction { db in try setBusyTimeout(db, deadline.timeIntervalSinceNow) }
                try Schema.migrator.migrate(queue)
                return
            } catch {
                attempt += 1
                if let queue = try? DatabaseQueue(path: path, configuration: configuration),
                   (try? queue.read(isReady)) == true { return }
                if attempt >= 20 || Date() >= deadline { throw error }
                Thread.sleep(forTimeInterval: min(0.05, max(0, deadline.timeIntervalSinceNow)))
            }
        }
    }

    /// Sets how long statements on `db` wait for another connection's lock (0: not at all).
    private static func setBusyTimeout(_ db: Database, _ seconds: TimeInterval) throws {
        try db.execute(sql: "PRAGMA busy_timeout = \(Int((max(0, seconds) * 1000).rounded(.up)))")
    }

    /// Runs `updates` in one transaction on the write connection, waiting at most `busyTimeout`
    /// (or the default) for another process's write lock.
    @discardableResult
    private func write<T>(busyTimeout: TimeInterval?, _ updates: (Database) throws -> T) throws -> T {
        guard let writer else { throw SQLiteStoreError.readOnly(path: path) }
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
            var snapshot = SnapshotRow(info)
            try snapshot.insert(db)
            info = snapshot.info
            let id = info.id

            for user in contents.users { try UserRow(snapshotId: id, user).insert(db) }
            for schedule in contents.schedules { try ScheduleRow(snapshotId: id, schedule).insert(db) }
            for member in contents.members { try ScheduleMemberRow(snapshotId: id, member).insert(db) }
            for shift in contents.shifts { try ShiftRow(snapshotId: id, shift).insert(db) }
            for override in contents.overrides { try OverrideRow(snapshotId: id, override).insert(db) }
            for policy in contents.policies { try EscalationPolicyRow(snapshotId: id, policy).insert(db) }
            for target in contents.targets { try EscalationTargetRow(snapshotId: id, target).insert(db) }
            for onCall in contents.onCalls { try OnCallRow(snapshotId: id, onCall).insert(db) }

            try SyncStateRow.updateAll(db) { [
                $0.currentSnapshotId.set(to: id),
                $0.lastSuccessAt.set(to: info.finishedAt.unixSeconds),
                $0.lastAttemptAt.set(to: info.startedAt.unixSeconds),
            ] }
            // Deleting a snapshot deletes its rows in every roster table (ON DELETE CASCADE). The
            // newest full read stays too: the refreshes after it build on it.
            let kept = SnapshotRow.select(\.id).order(\.id.desc).limit(max(1, keep))
            let newestFull = SnapshotRow.select(\.id).filter(SnapshotRow.Columns.read == SnapshotRead.full.rawValue).order(\.id.desc).limit(1)
            try SnapshotRow.filter { !kept.contains($0.id) && !newestFull.contains($0.id) }.deleteAll(db)
            return info
        }
    }

    /// Notes a failed sync; the current snapshot stays as it was. `busyTimeout` as for `writeSnapshot`.
    public func recordFailure(at date: Date, reason: String, busyTimeout: TimeInterval? = nil) throws {
        try write(busyTimeout: busyTimeout) { db in
            try SyncStateRow.updateAll(db) { [
                $0.lastFailureAt.set(to: date.unixSeconds),
                $0.lastFailureReason.set(to: reason),
                $0.lastAttemptAt.set(to: date.unixSeconds),
            ] }
        }
    }

    /// Appends audit records in one transaction. `busyTimeout` as for `writeSnapshot`.
    public func appendDecisions(_ records: [DecisionRecord], busyTimeout: TimeInterval? = nil) throws {
        guard !records.isEmpty else { return }
        try write(busyTimeout: busyTimeout) { db in
            for record in records { try DecisionRow(record).insert(db) }
        }
    }

    /// Appends keyed audit records in one transaction, in order, skipping keys already present.
    /// The write connection runs `synchronous = FULL`, so in WAL mode the commit is synced to disk
    /// when this returns. `busyTimeout` bounds the wait for another process's write lock.
    public func appendDurableDecisions(_ records: [DurableDecision], busyTimeout: TimeInterval? = nil) throws {
        guard !records.isEmpty else { return }
        try write(busyTimeout: busyTimeout) { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason, snapshot_id,
                                      schedule_id, granted_seconds, audit_key)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (audit_key) DO NOTHING
                """)
            for item in records {
                let record = item.record
                try statement.execute(arguments: [
                    record.decidedAt.unixSeconds, record.requestId, record.requester, record.resources, record.outcome,
                    record.reason, record.snapshotId, record.scheduleId, record.grantedSeconds, item.key,
                ])
            }
        }
    }

    /// Throws when the write connection cannot write the file now: opened read-only (the file or its
    /// folder not writable, a read-only file system), or another process's write lock held past
    /// `busyTimeout`. Inserts a row and rolls it back: in WAL mode `BEGIN IMMEDIATE` succeeds on a
    /// connection SQLite opened read-only (the file not writable), and only a write says so.
    public func checkWritable(busyTimeout: TimeInterval) throws {
        guard let writer else { throw SQLiteStoreError.readOnly(path: path) }
        try writer.writeWithoutTransaction { db in
            try Self.setBusyTimeout(db, busyTimeout)
            try db.execute(sql: "BEGIN IMMEDIATE")
            do {
                try db.execute(sql: "INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason) VALUES (0, '', '', '', '', '')")
            } catch {
                try? db.execute(sql: "ROLLBACK")
                throw error
            }
            try db.execute(sql: "ROLLBACK")
        }
    }

    // MARK: Reads

    public func syncState() throws -> SyncState {
        try pool.read { db in try SyncStateRow.fetchOne(db)?.state ?? SyncState() }
    }

    /// The current snapshot's id, cheaply (the server polls it).
    public func currentSnapshotId() throws -> Int64? {
        try pool.read(Self.currentSnapshotId)
    }

    private static func currentSnapshotId(_ db: Database) throws -> Int64? {
        try SyncStateRow.select(\.currentSnapshotId, as: Int64.self).fetchOne(db)
    }

    public func currentSnapshotInfo() throws -> SnapshotInfo? {
        try pool.read { db in
            guard let id = try Self.currentSnapshotId(db) else { return nil }
            return try SnapshotRow.fetchOne(db, key: id)?.info
        }
    }

    /// Every kept snapshot, oldest first.
    public func snapshots() throws -> [SnapshotInfo] {
        try pool.read { db in
            try SnapshotRow.order(\.id).fetchAll(db).map(\.info)
        }
    }

    /// The current snapshot in full, or nil when no sync has completed.
    public func currentSnapshot() throws -> SnapshotContents? {
        try pool.read { db in
            guard let id = try Self.currentSnapshotId(db) else { return nil }
            return try Self.contents(db, id: id)
        }
    }

    /// One snapshot in full, read in one transaction.
    public func snapshot(id: Int64) throws -> SnapshotContents? {
        try pool.read { db in try Self.contents(db, id: id) }
    }

    static func contents(_ db: Database, id: Int64) throws -> SnapshotContents? {
        guard let snapshot = try SnapshotRow.fetchOne(db, key: id) else { return nil }
        let users = try UserRow.filter { $0.snapshotId == id }.order(\.id).fetchAll(db)
        let schedules = try ScheduleRow.filter { $0.snapshotId == id }.order(\.id).fetchAll(db)
        let members = try ScheduleMemberRow.filter { $0.snapshotId == id }.order { [$0.scheduleId, $0.userId] }.fetchAll(db)
        let shifts = try ShiftRow.filter { $0.snapshotId == id }.order { [$0.scheduleId, $0.start] }.fetchAll(db)
        let overrides = try OverrideRow.filter { $0.snapshotId == id }.order { [$0.scheduleId, $0.start] }.fetchAll(db)
        let policies = try EscalationPolicyRow.filter { $0.snapshotId == id }.order(\.id).fetchAll(db)
        let targets = try EscalationTargetRow.filter { $0.snapshotId == id }
            .order { [$0.policyId, $0.level, $0.targetType, $0.targetId] }.fetchAll(db)
        let onCalls = try OnCallRow.filter { $0.snapshotId == id }.order { [$0.policyId, $0.level, $0.start] }.fetchAll(db)
        return SnapshotContents(
            info: snapshot.info, users: users.map(\.user), schedules: schedules.map(\.schedule), members: members.map(\.member),
            shifts: shifts.map(\.value), overrides: overrides.map(\.value), policies: policies.map(\.policy),
            targets: targets.map(\.target), onCalls: onCalls.map(\.onCall))
    }

    /// Audit records decided at or after `since`, oldest first. Times are whole seconds, so `since`
    /// is too (rounded down): a record of the same second is included.
    public func decisions(since: Date, limit: Int = 10_000) throws -> [DecisionRecord] {
        try pool.read { db in
            try DecisionRow.filter { $0.decidedAt >= since.unixSeconds }.order { [$0.decidedAt, $0.id] }.limit(limit)
                .fetchAll(db).map(\.record)
        }
    }

    /// `PRAGMA integrity_check`'s answer: "ok" for a sound file.
    public func integrityCheck() throws -> String {
        try pool.read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ")
        }
    }
}
