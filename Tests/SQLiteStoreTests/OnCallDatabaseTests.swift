import Foundation
import Synchronization
import GRDB
import Testing
import TestSupport
import OnCallStore
@testable import SQLiteStore

/// What `sql` answers on `database`'s file, read as text.
func answers(_ database: OnCallDatabase, _ sql: String) throws -> [String] {
    try database.pool.read { db in try String.fetchAll(db, sql: sql) }
}

@Suite struct OnCallDatabaseTests {
    @Test func createsTheFileOwnerOnlyAndMigrates() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try database.currentSnapshotId() == nil)
        #expect(try database.integrityCheck() == "ok")
        try database.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            let walMode = try FileManager.default.attributesOfItem(atPath: path + suffix)[.posixPermissions] as? Int
            #expect(walMode == 0o600, "\(suffix) is \(String(walMode ?? 0, radix: 8))")
        }
    }

    /// A sync creating the file while `serve` reopens the path (#26 item 10) prepares one new file
    /// from two connections at once: both end with a migrated cache, neither fails.
    @Test func severalOpenersOfOneNewFileAllSucceed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        for round in 0..<25 {
            let path = directory.path("race-\(round).sqlite")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do { _ = try OnCallDatabase(path: path) } catch { failures.withLock { $0.append("\(error)") } }
            }
            #expect(failures.withLock { $0 }.isEmpty, "round \(round)")
            #expect(try OnCallDatabase(path: path, mustExist: true, readOnly: true).currentSnapshotId() == nil)
        }
    }

    @Test func refusesToInventACacheThatMustExist() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        #expect(throws: SQLiteStoreError.self) { try OnCallDatabase(path: directory.path("absent.sqlite"), mustExist: true) }
        #expect(!FileManager.default.fileExists(atPath: directory.path("absent.sqlite")))
    }

    /// What the file holds behind the values that StoreContractTests reads back: integer seconds,
    /// the folded email, the NULLs of a permanent on-call entry, and no row of a pruned snapshot.
    @Test func theColumnsHoldWholeSecondsAndPruningLeavesNoRowBehind() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        let now = Date(unixSeconds: 1_800_000_000)
        try database.appendDecisions([DecisionRecord(decidedAt: Date(timeIntervalSince1970: 1_800_000_000.75), requestId: "r1", requester: "",
                                                     resources: "[]", outcome: "approved", reason: "", snapshotId: nil, scheduleId: nil, grantedSeconds: nil)])
        let ids = try (0..<4).map { try database.writeSnapshot(everyKindOfRow(at: now.addingTimeInterval(Double($0) * 60)), keep: 2).id }
        for table in ["shift", "override"] {
            #expect(try answers(database, "SELECT DISTINCT typeof(start) || ' ' || typeof(\"end\") FROM \(table)") == ["integer integer"])
        }
        #expect(try answers(database, "SELECT typeof(start) || ' ' || typeof(\"end\") || ' ' || typeof(schedule_id) FROM oncall WHERE snapshot_id = \(ids[3]) ORDER BY level")
                == ["integer integer text", "null null null"])
        #expect(try answers(database, "SELECT email_lower FROM user WHERE snapshot_id = \(ids[3]) ORDER BY id") == ["ada@example.com", "grace@example.com"])
        #expect(try answers(database, "SELECT DISTINCT typeof(started_at) || ' ' || typeof(window_end) FROM snapshot") == ["integer integer"])
        #expect(try answers(database, "SELECT typeof(decided_at) FROM decision") == ["integer"])
        for table in ["user", "schedule", "schedule_member", "shift", "override", "escalation_policy", "escalation_target", "oncall"] {
            #expect(try answers(database, "SELECT DISTINCT snapshot_id FROM \(table) ORDER BY 1") == ids.suffix(2).map(String.init), "\(table)")
        }
    }

    @Test func theViewShowsTheCurrentShiftsReadably() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        try database.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
        let rows = try database.pool.read { db in try String.fetchAll(db, sql: "SELECT email FROM on_call_now") }
        #expect(rows == ["User0@Example.com"])
    }

    @Test func theV3MigrationTurnsDecisionTimesIntoWholeSecondsAndKeepsIds() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        // A cache as the releases before v3 left it: REAL decision times, and a deleted last row,
        // whose id AUTOINCREMENT must never hand out again.
        let old = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(old, upTo: "v2: schedule kinds (layer-based and shift-based)")
        try old.write { db in
            try db.execute(sql: """
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds)
                VALUES (1800000000.75, 'r1', 'a@example.com', '[]', 'approved', 'on call', 7, 'PS1', 3600),
                       (1800000001.25, 'r2', '', '[]', 'cannot_decide', 'no snapshot', NULL, NULL, NULL),
                       (1800000002.5, 'r3', 'c@example.com', '[]', 'approved', 'on call', 7, 'PS1', 600);
                DELETE FROM decision WHERE request_id = 'r3';
                """)
        }
        #expect(try old.read { db in try String.fetchAll(db, sql: "SELECT typeof(decided_at) FROM decision") } == ["real", "real"])
        try old.close()

        let database = try OnCallDatabase(path: path)
        #expect(try database.decisions(since: .distantPast) == [
            DecisionRecord(id: 1, decidedAt: Date(unixSeconds: 1_800_000_000), requestId: "r1", requester: "a@example.com", resources: "[]",
                           outcome: "approved", reason: "on call", snapshotId: 7, scheduleId: "PS1", grantedSeconds: 3600),
            DecisionRecord(id: 2, decidedAt: Date(unixSeconds: 1_800_000_001), requestId: "r2", requester: "", resources: "[]",
                           outcome: "cannot_decide", reason: "no snapshot", snapshotId: nil, scheduleId: nil, grantedSeconds: nil),
        ])
        #expect(try answers(database, "SELECT typeof(decided_at) FROM decision") == ["integer", "integer"])
        #expect(try answers(database, "SELECT type FROM pragma_table_info('decision') WHERE name = 'decided_at'") == ["INTEGER"])
        // v7 adds the audit key's index.
        #expect(try Set(answers(database, "SELECT name FROM pragma_index_list('decision')")) == ["decision_by_time", "decision_by_audit_key"])
        #expect(try answers(database, "SELECT name FROM sqlite_master WHERE name LIKE 'new_%'") == [])
        #expect(try database.integrityCheck() == "ok")

        try database.appendDecisions([DecisionRecord(
            decidedAt: Date(unixSeconds: 1_800_000_003), requestId: "r4", requester: "d@example.com", resources: "[]",
            outcome: "approved", reason: "on call", snapshotId: 7, scheduleId: "PS1", grantedSeconds: 60)])
        #expect(try database.decisions(since: Date(unixSeconds: 1_800_000_003)).map(\.id) == [4])
    }

    @Test func writesAreFullySynchronousInWALMode() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        let writer = try #require(database.writer)
        #expect(try writer.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2, "synchronous is not FULL")
        #expect(try database.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") } == "wal")
    }

    @Test func aFileOpenedForReadingIsPreparedFirstAndNeverWritten() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        // An empty file, as a deploy step might leave: switched to WAL and migrated, then read.
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]))
        let database = try OnCallDatabase(path: path, mustExist: true, readOnly: true)
        #expect(try database.currentSnapshotId() == nil)
        #expect(database.writer == nil)
        #expect(throws: SQLiteStoreError.readOnly(path: path)) {
            try database.recordFailure(at: Date(), reason: "test")
        }
        #expect(throws: SQLiteStoreError.readOnly(path: path)) {
            try database.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
        }
    }

    /// Another connection takes the write lock and holds it until `release` is signalled.
    static func holdWriteLock(_ path: String, release: DispatchSemaphore) throws -> Thread {
        let holder = try OnCallDatabase(path: path, mustExist: true)
        let locked = DispatchSemaphore(value: 0)
        let thread = Thread {
            try? holder.writer?.write { db in
                try db.execute(sql: "UPDATE sync_state SET last_attempt_at = 0 WHERE id = 1")
                locked.signal()
                release.wait()
            }
        }
        thread.start()
        locked.wait()
        return thread
    }

    @Test func openingAndReadingDoNotWaitForAnotherWritersLockAndWritesWaitOnlyTheirBusyTimeout() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let written = try OnCallDatabase(path: path).writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
        let release = DispatchSemaphore(value: 0)
        _ = try Self.holdWriteLock(path, release: release)
        var released = false
        defer { if !released { release.signal() } }

        let opening = Date()
        let reader = try OnCallDatabase(path: path, mustExist: true, readOnly: true)
        let readWrite = try OnCallDatabase(path: path, mustExist: true)
        #expect(try reader.currentSnapshotId() == written.id)
        #expect(try readWrite.currentSnapshot()?.info.id == written.id)
        let openSeconds = Date().timeIntervalSince(opening)
        #expect(openSeconds < 1, "opening and reading took \(openSeconds)s")

        // A write gives up when its own busy timeout runs out, and changes nothing.
        let writing = Date()
        #expect(throws: (any Error).self) { try readWrite.writeSnapshot(sampleSnapshot(at: Date()), keep: 5, busyTimeout: 0.3) }
        let writeSeconds = Date().timeIntervalSince(writing)
        #expect(writeSeconds >= 0.25 && writeSeconds < 3, "the write gave up after \(writeSeconds)s")
        #expect(throws: (any Error).self) { try readWrite.recordFailure(at: Date(), reason: "test", busyTimeout: 0) }
        #expect(try reader.currentSnapshotId() == written.id)

        // Once the lock goes, the next write (with the default timeout again) goes through.
        release.signal()
        released = true
        let next = try readWrite.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
        #expect(try reader.currentSnapshotId() == next.id)
    }

    /// The lock file beside the cache, taken before the file is opened (StoreContractTests takes it
    /// through the store).
    @Test func theSyncLockFileAdmitsOneHolder() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let first = try #require(try SyncLock.acquire(databasePath: path))
        #expect(try SyncLock.acquire(databasePath: path) == nil)
        first.unlock()
        let again = try SyncLock.acquire(databasePath: path)
        #expect(again != nil)
        again?.unlock()
    }
}
