import Foundation
import OnCallStore
import PostgresNIO
import PostgresStore
import Testing
import TestSupport

/// The sync lock and change notifications: what several processes sharing one database rely on.
@Suite struct CoordinationTests {
    /// Ends the sessions whose `application_name` is `name`, as a crash or a network cut would.
    func terminate(_ name: String, _ cluster: PostgresTestCluster, _ address: PostgresAddress) async throws -> Int {
        try await answers(cluster, address, """
            SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = '\(name)'
            """).count
    }

    func sessions(_ name: String, _ cluster: PostgresTestCluster, _ address: PostgresAddress) async throws -> Int {
        try await answers(cluster, address, """
            SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() AND application_name = '\(name)'
            """).count
    }

    @Test func oneSyncLockAtATimeUntilReleased() async throws {
        try await withFreshStore { store, cluster, address in
            let other = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
            let held = try #require(try await store.takeSyncLock())
            #expect(try await other.takeSyncLock() == nil)
            #expect(try await store.takeSyncLock() == nil, "a second taker in the same process is refused too")
            await held.release()
            await held.release()
            let next = try #require(try await other.takeSyncLock())
            #expect(try await store.takeSyncLock() == nil)
            await next.release()
            #expect(try await sessions("shiftgate sync lock", cluster, address) == 0, "a refused or released lock keeps no connection")
            await other.close()
        }
    }

    @Test func theSyncLockGoesWithItsHoldersSession() async throws {
        try await withFreshStore { store, cluster, address in
            let held = try #require(try await store.takeSyncLock())
            #expect(try await store.takeSyncLock() == nil)
            #expect(try await terminate("shiftgate sync lock", cluster, address) == 1)
            #expect(try await eventually {
                guard let lock = try await store.takeSyncLock() else { return false }
                await lock.release()
                return true
            })
            await held.release()
        }
    }

    @Test func aCommittedSnapshotWakesAWaiterAtOnce() async throws {
        try await withFreshStore { store, cluster, address in
            let writer = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
            // The first wait starts listening and returns when it has: a change may have been missed before.
            let clock = ContinuousClock()
            let first = await clock.measure { await store.waitForChange(timeout: 10) }
            #expect(first < .seconds(5))

            let writing = Task {
                try await Task.sleep(for: .milliseconds(200))
                return (try await writer.writeSnapshot(sampleSnapshot(at: Date()), keep: 5).id, clock.now)
            }
            await store.waitForChange(timeout: 10)
            let woken = clock.now
            let (id, committed) = try await writing.value
            // The wait's own timeout is 10 s: a wake well before it came from the notification. (The
            // margin is wide because a loaded 2-core machine running the whole suite has taken 1.1 s.)
            #expect(woken - committed < .seconds(5), "woken \(woken - committed) after the commit")
            #expect(try await store.currentSnapshotId() == id)
            await writer.close()
        }
    }

    @Test func withoutAChangeAWaitRunsToItsTimeout() async throws {
        try await withFreshStore { store, _, _ in
            await store.waitForChange(timeout: 5)
            let clock = ContinuousClock()
            let waited = await clock.measure { await store.waitForChange(timeout: 0.4) }
            #expect(waited >= .milliseconds(350) && waited < .seconds(3), "waited \(waited)")
            // A failed write notifies nobody: the transaction never commits.
            var broken = sampleSnapshot(at: Date())
            broken.shifts[0].end = broken.shifts[0].start
            await #expect(throws: PostgresStoreError.self) { try await store.writeSnapshot(broken, keep: 5) }
            let afterFailure = await clock.measure { await store.waitForChange(timeout: 0.4) }
            #expect(afterFailure >= .milliseconds(350), "woken after \(afterFailure) by a write that failed")
        }
    }

    @Test func aLostListenerFallsBackToTheTimeoutAndListensAgain() async throws {
        try await withFreshStore { store, cluster, address in
            await store.waitForChange(timeout: 5)
            #expect(try await sessions("shiftgate listener", cluster, address) == 1)
            #expect(try await terminate("shiftgate listener", cluster, address) == 1)
            // Waits still end, on time at the latest, while the listener comes back.
            let clock = ContinuousClock()
            let waited = await clock.measure { await store.waitForChange(timeout: 0.5) }
            #expect(waited < .seconds(3))
            #expect(try await eventually { try await sessions("shiftgate listener", cluster, address) == 1 })
            // Back: the next change wakes a waiter again. (Listening again wakes the next wait once,
            // as a change may have been missed: that wake is taken first, if it is still pending.)
            await store.waitForChange(timeout: 0.2)
            let writing = Task {
                try await Task.sleep(for: .milliseconds(200))
                return (try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5).id, clock.now)
            }
            await store.waitForChange(timeout: 10)
            let woken = clock.now
            let (written, committed) = try await writing.value
            // The wait's own timeout is 10 s: a wake well before it came from the notification. (The
            // margin is wide because a loaded 2-core machine running the whole suite has taken 1.1 s.)
            #expect(woken - committed < .seconds(5), "woken \(woken - committed) after the commit")
            #expect(try await store.currentSnapshotId() == written)
        }
    }

    @Test func closingWakesWaitersAndClosesTheListener() async throws {
        let (cluster, address) = try await freshPostgresDatabase()
        let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
        await store.waitForChange(timeout: 5)
        let waiting = Task { await store.waitForChange(timeout: 30) }
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let closing = await clock.measure {
            await store.close()
            await waiting.value
        }
        #expect(closing < .seconds(5))
        #expect(try await eventually { try await sessions("shiftgate listener", cluster, address) == 0 })
        await drop(address, on: cluster)
    }
}

/// A server that stops and comes back, on a private cluster (stopping the shared one would break
/// the tests running beside this one).
@Suite struct ServerRestartTests {
    @Test func aStoppedServerIsReportedAndTheStoreWorksAgainWhenItIsBack() async throws {
        let cluster: PostgresTestCluster
        do {
            cluster = try await PostgresTestCluster.startPrivate()
        } catch let error as PostgresTestClusterUnavailable {
            try Test.cancel(Comment(rawValue: "skipped, no private PostgreSQL cluster: \(error)"))
        }
        let address = try await cluster.makeDatabase()
        let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
        let written = try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5)

        await store.waitForChange(timeout: 5)
        try await cluster.stop()
        // Every operation says so at once, with the reason, and waits still end on time.
        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: PostgresStoreError.self) { try await store.currentSnapshotId() }
        #expect(error?.description == "cannot reach PostgreSQL at 127.0.0.1:\(address.port): connection refused")
        await #expect(throws: PostgresStoreError.self) { try await store.appendDecisions([
            DecisionRecord(decidedAt: Date(), requestId: "r1", requester: "a@example.com", resources: "[]", outcome: "approved",
                           reason: "on call", snapshotId: written.id, scheduleId: "PS1", grantedSeconds: 60),
        ]) }
        await #expect(throws: PostgresStoreError.self) { try await store.takeSyncLock() }
        #expect(clock.now - started < .seconds(5), "the errors took \(clock.now - started)")
        let waited = await clock.measure { await store.waitForChange(timeout: 0.3) }
        #expect(waited < .seconds(3))

        // Back: the same store reads, writes and is woken again, without reopening.
        try await cluster.start()
        #expect(try await eventually { (try? await store.currentSnapshotId()) == written.id })
        #expect(try await eventually(timeout: .seconds(15)) {
            try await cluster.withConnection(to: address.database) { connection in
                var listening = 0
                for try await count in try await connection.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'shiftgate listener'", logger: quietLogger
                ).decode(Int.self) { listening = count }
                return listening == 1
            }
        })
        await store.waitForChange(timeout: 0.2)
        let writing = Task {
            try await Task.sleep(for: .milliseconds(200))
            return (try await store.writeSnapshot(sampleSnapshot(at: Date()), keep: 5).id, clock.now)
        }
        await store.waitForChange(timeout: 10)
        let woken = clock.now
        let (next, committed) = try await writing.value
        // The wait's own timeout is 10 s: a wake well before it came from the notification (a
        // loaded machine has taken 1.2 s).
        #expect(woken - committed < .seconds(5), "woken \(woken - committed) after the commit")
        #expect(try await store.currentSnapshotId() == next)
        await store.close()
        await cluster.shutdown()
    }
}
