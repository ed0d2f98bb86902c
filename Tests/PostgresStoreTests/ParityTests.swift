import Foundation
import OnCallStore
import PostgresStore
import SQLiteStore
import Testing
import TestSupport

/// The same contents written through SQLite's store and PostgreSQL's read back the same: values,
/// NULLs, duplicates dropped, counts, and the order of every list, ties included.
@Suite struct ParityTests {
    /// `snapshot` without what each engine numbers itself.
    func unnumbered(_ snapshot: SnapshotContents?) -> SnapshotContents? {
        snapshot.map {
            var copy = $0
            copy.info.id = 0
            return copy
        }
    }

    @Test(arguments: [3, 400])
    func bothEnginesGiveBackTheSameSnapshot(scale: Int) async throws {
        try await withFreshStore { postgres, _, _ in
            let directory = try TemporaryDirectory()
            defer { directory.cleanup() }
            let sqlite = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let contents = [everyKindOfRow(at: now), largeRoster(scale: scale, at: now, seed: UInt64(scale)), sampleSnapshot(at: now)]
            for (index, snapshot) in contents.enumerated() {
                let fromSQLite = try sqlite.writeSnapshot(snapshot, keep: 2)
                let fromPostgres = try await postgres.writeSnapshot(snapshot, keep: 2)
                #expect(fromSQLite.id == fromPostgres.id, "snapshot \(index)")
                #expect(unnumbered(try sqlite.snapshot(id: fromSQLite.id)) == unnumbered(try await postgres.snapshot(id: fromPostgres.id)),
                        "snapshot \(index)")
            }
            #expect(try sqlite.snapshots() == (try await postgres.snapshots()))
            #expect(unnumbered(try sqlite.currentSnapshot()) == unnumbered(try await postgres.currentSnapshot()))
            #expect(try sqlite.currentSnapshotInfo() == (try await postgres.currentSnapshotInfo()))

            let failedAt = now.addingTimeInterval(300.5)
            try sqlite.recordFailure(at: failedAt, reason: "PagerDuty answered 503")
            try await postgres.recordFailure(at: failedAt, reason: "PagerDuty answered 503", deadline: nil)
            #expect(try sqlite.syncState() == (try await postgres.syncState()))
        }
    }

    /// Pruning keeps the newest `keep` snapshots and, whatever `keep` says, the newest full read
    /// (the refreshes after it build on it): the same in both engines, and the read kind survives.
    @Test func bothEnginesKeepTheNewestFullReadThroughRefreshes() async throws {
        try await withFreshStore { postgres, _, _ in
            let directory = try TemporaryDirectory()
            defer { directory.cleanup() }
            let sqlite = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            var snapshot = sampleSnapshot(at: now)
            for read in [SnapshotRead.full, .full, .refresh, .refresh, .refresh, .refresh] {
                snapshot.info.read = read
                _ = try sqlite.writeSnapshot(snapshot, keep: 2)
                _ = try await postgres.writeSnapshot(snapshot, keep: 2)
            }
            let kept = try sqlite.snapshots()
            #expect(kept.map(\.id) == [2, 5, 6])
            #expect(kept.map(\.read) == [.full, .refresh, .refresh])
            #expect(kept == (try await postgres.snapshots()))
        }
    }

    @Test func bothEnginesKeepTheSameAuditLog() async throws {
        try await withFreshStore { postgres, _, _ in
            let directory = try TemporaryDirectory()
            defer { directory.cleanup() }
            let sqlite = try OnCallDatabase(path: directory.path("cache.sqlite"))
            var random = SeededRandom(seed: 42)
            let outcomes = ["approved", "not_on_call", "cannot_decide"]
            for batch in 0..<5 {
                let records = (0..<(1 + random.below(40))).map { index in
                    DecisionRecord(
                        decidedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(random.below(20)) + Double(random.below(1000)) / 1000),
                        requestId: "r\(batch)-\(index)", requester: random.chance(0.1) ? "" : "user\(random.below(9))@example.com",
                        resources: #"[{"kind":"group","id":"g\#(index)"}]"#, outcome: random.pick(outcomes), reason: "reason \(index)",
                        snapshotId: random.chance(0.2) ? nil : Int64(random.below(5)), scheduleId: random.chance(0.5) ? nil : "PS\(random.below(3))",
                        grantedSeconds: random.chance(0.5) ? nil : 3600)
                }
                try sqlite.appendDecisions(records)
                try await postgres.appendDecisions(records)
            }
            for since in [Date.distantPast, Date(timeIntervalSince1970: 1_800_000_010.5), Date(timeIntervalSince1970: 1_800_000_019)] {
                for limit in [10_000, 7, 1] {
                    #expect(try sqlite.decisions(since: since, limit: limit) == (try await postgres.decisions(since: since, limit: limit)),
                            "since \(since), limit \(limit)")
                }
            }
        }
    }

    /// A roster the size of a 10,000-user, 1,000-schedule account, written through both engines:
    /// the durations are printed for BENCHMARKS-style comparison, not asserted (a loaded machine
    /// would fail a timed assertion for nothing). Run it alone for numbers worth reading:
    /// `swift test --filter ParityTests/writeTimesAtScale`.
    @Test func writeTimesAtScale() async throws {
        try await withFreshStore { postgres, _, _ in
            let directory = try TemporaryDirectory()
            defer { directory.cleanup() }
            let sqlite = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let contents = largeRoster(scale: 10_000, at: Date(timeIntervalSince1970: 1_800_000_000))
            let clock = ContinuousClock()
            var sqliteWrites: [Duration] = []
            var postgresWrites: [Duration] = []
            // keep: 2, so every write after the second prunes one, as a running sync does.
            for _ in 0..<5 {
                sqliteWrites.append(try clock.measure { try sqlite.writeSnapshot(contents, keep: 2) })
                let started = clock.now
                try await postgres.writeSnapshot(contents, keep: 2)
                postgresWrites.append(clock.now - started)
            }
            var started = clock.now
            let fromSQLite = try sqlite.currentSnapshot()
            let sqliteRead = clock.now - started
            started = clock.now
            let fromPostgres = try await postgres.currentSnapshot()
            let postgresRead = clock.now - started
            #expect(unnumbered(fromSQLite) == unnumbered(fromPostgres))

            func milliseconds(_ durations: [Duration]) -> String {
                durations.map { String(format: "%.0f", Double($0.components.attoseconds) / 1e15 + Double($0.components.seconds) * 1000) }
                    .joined(separator: " ")
            }
            let counts = "\(contents.users.count) users, \(contents.schedules.count) schedules, \(contents.members.count) members, "
                + "\(contents.shifts.count) shifts, \(contents.targets.count) targets, \(contents.onCalls.count) on-call entries"
            print("""
                write times at scale (\(counts)), milliseconds per snapshot, 5 writes each:
                  SQLite     \(milliseconds(sqliteWrites))
                  PostgreSQL \(milliseconds(postgresWrites))
                full read of the current snapshot: SQLite \(milliseconds([sqliteRead])) ms, PostgreSQL \(milliseconds([postgresRead])) ms
                """)
        }
    }
}
