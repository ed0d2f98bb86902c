import Foundation
import OnCallStore
import PostgresNIO
import Testing
import TestSupport
@testable import PostgresStore

/// The PostgreSQL store against a real server (see `PostgresTestCluster`): what only PostgreSQL has
/// (its columns and views, the advisory lock, LISTEN/NOTIFY, connection errors). What every engine
/// promises is StoreContractTests, run against both.
@Suite struct PostgresCacheStoreTests {
    /// What the database holds behind the values that StoreContractTests reads back: BIGINT seconds,
    /// the folded email, the NULLs of a permanent on-call entry, and no row of a pruned snapshot.
    @Test func theColumnsHoldWholeSecondsAndPruningLeavesNoRowBehind() async throws {
        try await withFreshStore { store, cluster, address in
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            var ids: [Int64] = []
            for minute in 0..<4 {
                ids.append(try await store.writeSnapshot(everyKindOfRow(at: now.addingTimeInterval(Double(minute) * 60)), keep: 2).id)
            }
            #expect(try await answers(cluster, address, """
                SELECT DISTINCT data_type FROM information_schema.columns
                WHERE column_name IN ('start', 'end', 'started_at', 'window_end', 'decided_at', 'last_success_at')
                """) == ["bigint"])
            #expect(try await answers(cluster, address, #"SELECT concat_ws(' ', start, "end", schedule_id) FROM oncall WHERE snapshot_id = \#(ids[3]) ORDER BY level"#)
                    == ["\(1_800_000_000 + 180 - 3600) \(1_800_000_000 + 180 + 3600) PS1", ""])
            #expect(try await answers(cluster, address, #"SELECT email_lower FROM "user" WHERE snapshot_id = \#(ids[3]) ORDER BY id"#) == ["ada@example.com", "grace@example.com"])
            for table in ["\"user\"", "schedule", "schedule_member", "shift", "override", "escalation_policy", "escalation_target", "oncall"] {
                #expect(try await answers(cluster, address, "SELECT DISTINCT snapshot_id::text FROM \(table) ORDER BY 1")
                        == ids.suffix(2).map(String.init), "\(table)")
            }
        }
    }

    @Test func theViewsShowTheCurrentShiftsReadably() async throws {
        try await withFreshStore { store, cluster, address in
            let now = Date()
            try await store.writeSnapshot(sampleSnapshot(at: now), keep: 5)
            #expect(try await answers(cluster, address, "SELECT email || ' ' || schedule_kind FROM on_call_now") == ["User0@Example.com layer_based"])
            let start = Date(timeIntervalSince1970: (now.timeIntervalSince1970 - 3600).rounded(.down))
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            #expect(try await answers(cluster, address, #"SELECT schedule || ' ' || "user" || ' ' || start_utc FROM current_shifts"#)
                    == ["Primary User 0 \(formatter.string(from: start))"])
        }
    }

    @Test func aReadOnlyOpenOfAnEmptyDatabaseSaysToSyncFirstAndCreatesNothing() async throws {
        try await withFreshDatabase { cluster, address in
            let error = await #expect(throws: PostgresStoreError.self) {
                try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: false, logger: quietLogger)
            }
            #expect(error?.kind == .missing)
            #expect(error?.description == "no cache at \(address): run `shiftgate sync` first (or pass --database / SHIFTGATE_DATABASE)")
            #expect(try await answers(cluster, address, "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'") == ["0"])

            // Once a writer has created it, reading is fine.
            let writer = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
            await writer.close()
            let reader = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: false, logger: quietLogger)
            #expect(try await reader.currentSnapshot() == nil)
            await reader.close()
        }
    }

    @Test func racingOpensCreateTheSchemaOnce() async throws {
        try await withFreshDatabase { cluster, address in
            let password = cluster.password
            let stores = try await withThrowingTaskGroup(of: PostgresCacheStore.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await PostgresCacheStore.open(address, password: password, createIfNeeded: true, logger: quietLogger) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(stores.count == 4)
            #expect(try await answers(cluster, address, "SELECT version::text FROM schema_migrations ORDER BY version")
                    == PostgresSchema.migrations.map { String($0.version) })
            #expect(try await answers(cluster, address, "SELECT count(*)::text FROM sync_state") == ["1"])
            let written = try await stores[0].writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
            #expect(try await stores[3].currentSnapshotId() == written.id)
            for store in stores { await store.close() }
        }
    }

    @Test func identifiersSortByteByByteWhateverTheDatabaseLocale() async throws {
        try await withFreshStore { store, cluster, address in
            let collations = try await answers(cluster, address, """
                SELECT DISTINCT coalesce(collation_name, 'default') FROM information_schema.columns
                WHERE table_schema = 'public' AND (column_name IN ('id', 'schedule_id', 'user_id', 'policy_id', 'target_type', 'target_id')
                      AND table_name NOT IN ('snapshot', 'decision', 'sync_state', 'schema_migrations', 'current_shifts', 'on_call_now'))
                """)
            #expect(collations == ["C"])
            var contents = sampleSnapshot(at: Date(timeIntervalSince1970: 1_800_000_000), users: 0)
            contents.users = ["pu2", "PU10", "Pu3", "PU2", "pu10"].map { User(id: $0, name: $0, email: "\($0)@example.com", timeZone: "UTC") }
            let written = try await store.writeSnapshot(contents, keep: 5)
            #expect(try await store.snapshot(id: written.id)?.users.map(\.id) == ["PU10", "PU2", "Pu3", "pu10", "pu2"])
        }
    }

    @Test func aWriteWaitsForAnotherWriterOnlyUntilItsDeadline() async throws {
        try await withFreshStore { store, cluster, address in
            let first = try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
            // Another session holds the row every writer takes first, as a write in progress does.
            let holder = try await PostgresConnection.connect(configuration: cluster.configuration(database: address.database), id: 1, logger: quietLogger)
            for statement: PostgresQuery in ["BEGIN", "SELECT id FROM sync_state WHERE id = 1 FOR UPDATE"] {
                for try await _ in try await holder.query(statement, logger: quietLogger) {}
            }

            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: PostgresStoreError.self) {
                try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5, deadline: Date().addingTimeInterval(0.3))
            }
            let waited = clock.now - started
            #expect(error?.kind == .lockTimeout, "\(String(describing: error))")
            #expect(waited >= .milliseconds(250) && waited < .seconds(3), "the write gave up after \(waited)")
            await #expect(throws: PostgresStoreError.self) {
                try await store.recordFailure(at: Date(), reason: "test", deadline: Date())
            }
            // Reads do not wait for the writer.
            #expect(try await store.currentSnapshotId() == first.id)
            #expect(try await store.snapshots().map(\.id) == [first.id])

            for try await _ in try await holder.query("ROLLBACK", logger: quietLogger) {}
            try await holder.close()
            let next = try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)
            #expect(try await store.currentSnapshotId() == next.id)
        }
    }

    @Test func aFullReadSeesOneSnapshotWhileWritesAndPruningGoOn() async throws {
        try await withFreshStore { store, cluster, address in
            let contents = largeRoster(scale: 500, at: Date(timeIntervalSince1970: 1_800_000_000))
            try await store.writeSnapshot(contents, keep: 1)
            let writer = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
            let writing = Task {
                for _ in 0..<8 { try await writer.writeSnapshot(contents, keep: 1) }
            }
            for _ in 0..<12 {
                // Each read is the whole of one snapshot, though every write prunes the one before.
                let read = try #require(try await store.currentSnapshot())
                #expect(read.users.count == contents.users.count - 1 && read.shifts.count == contents.shifts.count
                        && read.onCalls.count == contents.onCalls.count)
            }
            try await writing.value
            await writer.close()
        }
    }
}
