import Foundation
import NIOPosix
import OnCallStore

/// The SQLite cache behind `CacheStore`: `OnCallDatabase` (GRDB, one file, WAL), with its blocking
/// work done on SwiftNIO's blocking-I/O pool so that no caller's thread waits on the disk or on
/// another process's write lock (`serve` answers requests on SwiftNIO's event loops).
public final class SQLiteCacheStore: CacheStore {
    public let database: OnCallDatabase
    /// How often `waitForChange` looks: SQLite has no notifications, so the reloader polls.
    let pollInterval: TimeInterval

    public init(_ database: OnCallDatabase, pollInterval: TimeInterval = 1) {
        self.database = database
        self.pollInterval = pollInterval
    }

    public var location: String { database.path }

    /// Runs `work` on the blocking pool.
    private func blocking<T: Sendable>(_ work: @escaping @Sendable (OnCallDatabase) throws -> T) async throws -> T {
        let database = database
        return try await NIOThreadPool.singleton.runIfActive { try work(database) }
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
        try await blocking { try $0.appendDecisions(records) }
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

    public func close() async {}
}
