import Foundation
import Logging
import OnCallStore
import PostgresStore
import SQLiteStore
import Testing
import TestSupport

/// What every engine behind `CacheStore` promises, checked once and run against each: a real SQLite
/// file and a real PostgreSQL server (a fresh database on the test server). What only one engine
/// has (its column types, files, locks and notifications) stays in that engine's own tests.
@Suite struct StoreContractTests {
    enum Engine: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static let quiet = Logger(label: "shiftgate.test") { _ in SwiftLogNoOpLogHandler() }

    /// A new, empty store of `engine` for `body` alone, closed (and its database dropped) afterwards.
    func withStore<T: Sendable>(_ engine: Engine, _ body: (any CacheStore) async throws -> T) async throws -> T {
        switch engine {
        case .sqlite:
            let directory = try TemporaryDirectory("shiftgate-contract")
            defer { directory.cleanup() }
            let store = SQLiteCacheStore(try OnCallDatabase(path: directory.path("cache.sqlite")))
            defer { Task { await store.close() } }
            return try await body(store)
        case .postgres:
            let (cluster, address) = try await freshPostgresDatabase()
            do {
                let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: Self.quiet)
                let result: Result<T, any Error>
                do { result = .success(try await body(store)) } catch { result = .failure(error) }
                await store.close()
                await cluster.dropDatabase(address)
                return try result.get()
            } catch {
                await cluster.dropDatabase(address)
                throw error
            }
        }
    }

    static let now = Date(unixSeconds: 1_800_000_000)

    @Test(arguments: Engine.allCases)
    func aSnapshotRoundTrips(engine: Engine) async throws {
        try await withStore(engine) { store in
            #expect(try await store.currentSnapshotId() == nil)
            let written = try await store.writeSnapshot(sampleSnapshot(at: Self.now), keep: 5, deadline: nil)
            let read = try #require(try await store.snapshot(id: written.id))
            var expected = sampleSnapshot(at: Self.now)
            expected.info = written
            #expect(read == expected)
            #expect(written.userCount == 3 && written.shiftCount == 1 && written.onCallCount == 1)
            #expect(try await store.snapshot(id: written.id + 1) == nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func everyKindOfRowRoundTripsWithItsNullsAndTheSyncStateFollows(engine: Engine) async throws {
        try await withStore(engine) { store in
            let now = Self.now
            #expect(try await store.syncState() == SyncState())
            #expect(try await store.currentSnapshotInfo() == nil)
            #expect(try await store.currentSnapshot() == nil)
            #expect(try await store.snapshots() == [])

            let written = try await store.writeSnapshot(everyKindOfRow(at: now), keep: 5, deadline: nil)
            var expected = everyKindOfRow(at: now)
            expected.info = written
            #expect(try await store.currentSnapshot() == expected)
            #expect(written == SnapshotInfo(
                id: written.id, startedAt: now.addingTimeInterval(-90), finishedAt: now, windowStart: now.addingTimeInterval(-86_400),
                windowEnd: now.addingTimeInterval(7 * 86_400), userCount: 2, scheduleCount: 2, shiftBasedScheduleCount: 1,
                shiftCount: 3, policyCount: 2, onCallCount: 2, apiRequests: 42, rateLimited: 3))
            #expect(try await store.currentSnapshotInfo() == written)
            #expect(try await store.snapshots() == [written])
            #expect(try await store.syncState() == SyncState(
                currentSnapshotId: written.id, lastSuccessAt: now, lastAttemptAt: now.addingTimeInterval(-90)))

            let failedAt = now.addingTimeInterval(600)
            try await store.recordFailure(at: failedAt, reason: "PagerDuty refused the API key (401)", deadline: nil)
            #expect(try await store.syncState() == SyncState(
                currentSnapshotId: written.id, lastSuccessAt: now, lastAttemptAt: failedAt, lastFailureAt: failedAt,
                lastFailureReason: "PagerDuty refused the API key (401)"))
            #expect(try await store.currentSnapshotId() == written.id)
        }
    }

    @Test(arguments: Engine.allCases)
    func aSnapshotReplacesDuplicateUsersSchedulesAndPoliciesAndKeepsAMemberOnce(engine: Engine) async throws {
        try await withStore(engine) { store in
            var contents = sampleSnapshot(at: Self.now, users: 1)
            contents.users.append(User(id: "PU0", name: "User 0, renamed", email: "user0@example.com", timeZone: "UTC"))
            contents.schedules.append(Schedule(id: "PS1", name: "Primary, renamed", timeZone: "UTC", kind: .shiftBased))
            contents.policies.append(EscalationPolicy(id: "PE1", name: "Ops, renamed", numLoops: 1))
            contents.members.append(contentsOf: contents.members)
            let written = try await store.writeSnapshot(contents, keep: 5, deadline: nil)
            let read = try #require(try await store.snapshot(id: written.id))
            #expect(read.users == [contents.users[1]])
            #expect(read.schedules == [contents.schedules[1]])
            #expect(read.policies == [contents.policies[1]])
            #expect(read.members == [contents.members[0]])
            // The counts are of what the sync listed.
            #expect(written.userCount == 2 && written.scheduleCount == 2 && written.policyCount == 2)
        }
    }

    @Test(arguments: Engine.allCases)
    func writingASnapshotPrunesAllButTheNewestKept(engine: Engine) async throws {
        try await withStore(engine) { store in
            var ids: [Int64] = []
            for minute in 0..<4 {
                ids.append(try await store.writeSnapshot(everyKindOfRow(at: Self.now.addingTimeInterval(Double(minute) * 60)), keep: 2, deadline: nil).id)
            }
            #expect(try await store.snapshots().map(\.id) == Array(ids.suffix(2)))
            #expect(try await store.currentSnapshotId() == ids[3])
            #expect(try await store.snapshot(id: ids[1]) == nil)
            #expect(try await store.snapshot(id: ids[2])?.info.windowEnd == Self.now.addingTimeInterval(120 + 7 * 86_400))

            // `keep` below 1 still keeps the snapshot just written.
            let last = try await store.writeSnapshot(everyKindOfRow(at: Self.now.addingTimeInterval(240)), keep: 0, deadline: nil)
            #expect(try await store.snapshots().map(\.id) == [last.id])
            #expect(try await store.currentSnapshot()?.info == last)
        }
    }

    @Test(arguments: Engine.allCases)
    func auditRecordsKeepWholeSecondsTheirNullsAndTheirOrder(engine: Engine) async throws {
        try await withStore(engine) { store in
            let approved = DecisionRecord(
                decidedAt: Date(timeIntervalSince1970: 1_800_000_000.75), requestId: "r1", requester: "a@example.com",
                resources: #"[{"kind":"group"}]"#, outcome: "approved", reason: "on call", snapshotId: 7, scheduleId: "PS1", grantedSeconds: 3600)
            let refused = DecisionRecord(
                decidedAt: Date(timeIntervalSince1970: 1_800_000_001.25), requestId: "r2", requester: "", resources: "[]",
                outcome: "cannot_decide", reason: "no snapshot", snapshotId: nil, scheduleId: nil, grantedSeconds: nil)
            // The same second as `approved`, appended later: it comes after it, by id.
            let sameSecond = DecisionRecord(
                decidedAt: Date(timeIntervalSince1970: 1_800_000_000.1), requestId: "r3", requester: "c@example.com", resources: "[]",
                outcome: "not_on_call", reason: "no shift", snapshotId: 7, scheduleId: nil, grantedSeconds: nil)
            try await store.appendDecisions([approved, refused])
            try await store.appendDecisions([])
            try await store.appendDecisions([sameSecond])

            var expected = [approved, sameSecond, refused]
            expected[0].id = 1
            expected[0].decidedAt = Date(unixSeconds: 1_800_000_000)
            expected[1].id = 3
            expected[1].decidedAt = Date(unixSeconds: 1_800_000_000)
            expected[2].id = 2
            expected[2].decidedAt = Date(unixSeconds: 1_800_000_001)
            #expect(try await store.decisions(since: .distantPast) == expected)
            // `since` counts in whole seconds too: the second it falls in is included.
            #expect(try await store.decisions(since: Date(timeIntervalSince1970: 1_800_000_001.9)) == [expected[2]])
            #expect(try await store.decisions(since: Date(unixSeconds: 1_800_000_002)) == [])
            #expect(try await store.decisions(since: .distantPast, limit: 1) == [expected[0]])
            #expect(try await store.decisions(since: .distantPast, limit: 0) == [])
        }
    }

    @Test(arguments: Engine.allCases)
    func theSyncLockAdmitsOneHolderUntilItIsReleased(engine: Engine) async throws {
        try await withStore(engine) { store in
            let first = try #require(try await store.takeSyncLock())
            #expect(try await store.takeSyncLock() == nil)
            await first.release()
            let again = try #require(try await store.takeSyncLock())
            await again.release()
        }
    }
}
