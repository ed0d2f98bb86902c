import Foundation
import NIOPosix
import OnCallStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite cache behind `CacheStore`: `OnCallDatabase` (GRDB, one file, WAL), with its blocking
/// work done on SwiftNIO's blocking-I/O pool so that no caller's thread waits on the disk or on
/// another process's write lock (`serve` answers requests on SwiftNIO's event loops).
///
/// The file at the path is the cache, not the file opened at start: before each use the store
/// compares the path's device and inode with the open file's. A file replaced (`mv`, then a new
/// sync) is reopened; a deleted one is an error until a file is there again, so that nothing (an
/// audit record least of all) is written into a file nobody can see any more.
public final class SQLiteCacheStore: CacheStore {
    private struct Opened {
        var database: OnCallDatabase
        var identity: FileIdentity?
    }

    private let opened: Mutex<Opened>
    /// How often `waitForChange` looks: SQLite has no notifications, so the reloader polls.
    let pollInterval: TimeInterval
    /// How long an audit write waits for another process's write lock (a sync's snapshot, an
    /// operator's `sqlite3`): an approval's record then goes to the spool (an fsync, milliseconds)
    /// rather than waiting out a large snapshot's write; a queued refusal waits for the next flush.
    public let auditBusyTimeout: TimeInterval
    /// Told the path when the file was replaced and has been reopened (for the log).
    private let onReopen: @Sendable (String) -> Void

    public init(_ database: OnCallDatabase, pollInterval: TimeInterval = 1, auditBusyTimeout: TimeInterval = 0.1,
                onReopen: @escaping @Sendable (String) -> Void = { _ in }) {
        opened = Mutex(Opened(database: database, identity: FileIdentity(path: database.path)))
        self.pollInterval = pollInterval
        self.auditBusyTimeout = auditBusyTimeout
        self.onReopen = onReopen
    }

    /// The database open now (the file at the path when last looked at).
    public var database: OnCallDatabase { opened.withLock { $0.database } }

    public var location: String { database.path }

    /// The database at the path now: the one open, or the file that replaced it, opened. Throws
    /// when no file is at the path.
    func current() throws -> OnCallDatabase {
        let (database, identity) = opened.withLock { ($0.database, $0.identity) }
        guard let now = FileIdentity(path: database.path) else { throw SQLiteStoreError.gone(path: database.path) }
        if now == identity { return database }
        // Replaced: open the new file (migrating it if it is outdated); a second caller meanwhile
        // opens it too, and the last one kept is as good as the first.
        let reopened = try database.reopened()
        opened.withLock { $0 = Opened(database: reopened, identity: now) }
        onReopen(database.path)
        return reopened
    }

    /// Runs `work` on the blocking pool, on the file at the path now.
    private func blocking<T: Sendable>(_ work: @escaping @Sendable (OnCallDatabase) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { [self] in try work(current()) }
    }

    /// A thread of the durable audit writes' own, started at their first: on the shared blocking
    /// pool (two threads here) a commit an approval waits for could queue behind a snapshot's
    /// reload (40 ms at 10,000 users) or a checkpoint.
    private let auditThread = Mutex<NIOThreadPool?>(nil)

    /// Runs `work` on the audit thread, on the file at the path now.
    private func auditing<T: Sendable>(_ work: @escaping @Sendable (OnCallDatabase) throws -> T) async throws -> T {
        let pool = auditThread.withLock { pool -> NIOThreadPool in
            if let pool { return pool }
            let started = NIOThreadPool(numberOfThreads: 1)
            started.start()
            pool = started
            return started
        }
        return try await pool.runIfActive { [self] in try work(current()) }
    }

    /// Seconds until `deadline`, nil when there is none.
    private static func timeout(_ deadline: Date?) -> TimeInterval? {
        deadline.map { max(0, $0.timeIntervalSinceNow) }
    }

    public func writeSnapshot(_ contents: SnapshotContents, keep: Int, deadline: Date?) async throws -> SnapshotInfo {
        try await blocking { try $0.writeSnapshot(contents, keep: keep, busyTimeout: Self.timeout(deadline)) }
    }

    public func recordFailure(at date: Date, reason: String, deadline: Date?) async throws {
        try await blocking { try $0.recordFailure(at: date, reason: reason, busyTimeout: Self.timeout(deadline)) }
    }

    public func appendDecisions(_ records: [DecisionRecord]) async throws {
        let wait = auditBusyTimeout
        try await blocking { try $0.appendDecisions(records, busyTimeout: wait) }
    }

    public func appendDurableDecisions(_ records: [DurableDecision], deadline: Date?) async throws {
        let wait = Self.timeout(deadline) ?? auditBusyTimeout
        try await auditing { try $0.appendDurableDecisions(records, busyTimeout: wait) }
    }

    public func checkAuditWritable(deadline: Date?) async throws {
        let wait = Self.timeout(deadline) ?? auditBusyTimeout
        try await blocking { try $0.checkWritable(busyTimeout: wait) }
    }

    /// Checkpoints the WAL off the commit path (see `OnCallDatabase.checkpointInBackground`).
    public func maintain() async {
        try? await blocking { try $0.checkpointInBackground() }
    }

    public func syncState() async throws -> SyncState {
        try await blocking { try $0.syncState() }
    }

    public func currentSnapshotId() async throws -> Int64? {
        try await blocking { try $0.currentSnapshotId() }
    }

    public func currentSnapshotInfo() async throws -> SnapshotInfo? {
        try await blocking { try $0.currentSnapshotInfo() }
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        try await blocking { try $0.snapshots() }
    }

    public func snapshot(id: Int64) async throws -> SnapshotContents? {
        try await blocking { try $0.snapshot(id: id) }
    }

    public func currentSnapshot() async throws -> SnapshotContents? {
        try await blocking { try $0.currentSnapshot() }
    }

    public func decisions(since: Date, limit: Int) async throws -> [DecisionRecord] {
        try await blocking { try $0.decisions(since: since, limit: limit) }
    }

    /// `PATH.sync-lock` beside the file (`flock`).
    public func takeSyncLock() async throws -> (any SyncLockHolder)? {
        try SyncLock.acquire(databasePath: database.path)
    }

    /// The cache at `path` opened for a sync that holds the sync lock, or nil when another sync
    /// holds it. The lock is taken before the file is opened: opening a new or outdated file
    /// migrates it, which would wait for the other sync's write.
    public static func openForSync(path: String, busyTimeout: TimeInterval) throws -> (store: SQLiteCacheStore, lock: any SyncLockHolder)? {
        guard let lock = try SyncLock.acquire(databasePath: path) else { return nil }
        do {
            return (SQLiteCacheStore(try OnCallDatabase(path: path, busyTimeout: busyTimeout)), lock)
        } catch {
            lock.unlock()
            throw error
        }
    }

    public func waitForChange(timeout: TimeInterval) async {
        try? await Task.sleep(nanoseconds: UInt64(max(0, min(timeout, pollInterval)) * 1e9))
    }

    public func close() async {
        if let pool = auditThread.withLock({ $0.take() }) { try? await pool.shutdownGracefully() }
    }
}

/// A file's device and inode: which file a path names now.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64

    /// Nil when nothing is at `path`.
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
