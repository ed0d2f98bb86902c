import Approval
import Foundation
import HummingbirdTesting
import OnCallStore
import Server
import Synchronization
import Testing
import TestSupport

/// No approval without its durable audit record: while the store is held unwritable by another
/// process, approvals go to the spool when there is one, and stop when there is none, until the
/// store can be written again.
@Suite struct AuditTests {
    @Test(.timeLimit(.minutes(2)), .enabled(if: ExclusiveLockHolder.sqlite3 != nil, "needs the sqlite3 command-line tool"))
    func aCacheThatCannotBeWrittenWithoutASpoolApprovesNothingUntilItCan() async throws {
        // Long connection timeouts: on a loaded machine taking the lock can outlast the slow-client guard.
        let configuration = ServerConfiguration.forTests(idleTimeout: 120, requestTimeout: 120)
        try await withWebhook(.live, contents: roster(), configuration: configuration, spoolBesideCache: false) { client, database, clock in
            let holder = try #require(try await ExclusiveLockHolder(path: database.path))
            // The first waits out the lock (0.1 s) and is refused; the rest are refused at once.
            var outcomes: [Bool] = []
            for _ in 0..<4 {
                let reply = try await post(client, requestBody([accessRequest("jane@example.com")]), at: clock.now)
                #expect(reply.status == .ok)
                outcomes.append(!claims(reply).isEmpty)
            }
            #expect(outcomes == [false, false, false, false])
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            let body = json(ready.body)
            #expect((body["status"] as? String)?.contains("audit log") == true, "\(body)")
            #expect((body["audit_store_error"] as? String)?.contains("locked") == true, "\(body)")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"shiftgate_decisions_total{outcome="audit_unavailable"} 4"#), "\(metrics)")

            await holder.release()
            // The writer tries the store again within a second or so; approvals resume.
            var resumed = false
            for _ in 0..<100 where !resumed {
                try await Task.sleep(nanoseconds: 50_000_000)
                resumed = try await client.execute(uri: "/readyz", method: .get).status == .ok
            }
            #expect(resumed)
            let after = try await post(client, requestBody([accessRequest("jane@example.com", id: "after-the-lock")]), at: clock.now)
            #expect(claims(after).count == 1)
            // Durable before the reply: in the table already, no waiting for a flush.
            #expect(try database.decisions(since: .distantPast).contains { $0.requestId == "after-the-lock" && $0.outcome == "approved" })
        }
    }

    @Test(.timeLimit(.minutes(2)), .enabled(if: ExclusiveLockHolder.sqlite3 != nil, "needs the sqlite3 command-line tool"))
    func aCacheThatCannotBeWrittenWithASpoolGoesOnApprovingAndCatchesUp() async throws {
        let directory = try TemporaryDirectory("shiftgate-spool")
        defer { directory.cleanup() }
        let spoolPath = directory.path("audit.spool")
        let configuration = ServerConfiguration.forTests(idleTimeout: 120, requestTimeout: 120, auditSpool: spoolPath)
        try await withWebhook(.live, contents: roster(), configuration: configuration) { client, database, clock in
            let holder = try #require(try await ExclusiveLockHolder(path: database.path))
            var ids: [String] = []
            for index in 0..<6 {
                let id = "spooled-\(index)"
                let reply = try await post(client, requestBody([accessRequest("jane@example.com", id: id)]), at: clock.now)
                #expect(claims(reply).count == 1, "approval \(index) under the lock")
                ids.append(id)
            }
            let ready = json(try await client.execute(uri: "/readyz", method: .get).body)
            #expect(ready["status"] as? String == "ready", "\(ready)")
            #expect(ready["audit_spooled_records"] as? Int == 6, "\(ready)")
            #expect(AuditSpool.waitingCount(path: spoolPath) == 6)

            await holder.release()
            var moved: [String] = []
            // The file is emptied just after the commit: wait for both.
            for _ in 0..<100 where moved.count < ids.count || AuditSpool.waitingCount(path: spoolPath) != 0 {
                try await Task.sleep(nanoseconds: 50_000_000)
                moved = try database.decisions(since: .distantPast).filter { $0.outcome == "approved" }.map(\.requestId)
            }
            // Each once, in the order they were approved.
            #expect(moved == ids)
            #expect(AuditSpool.waitingCount(path: spoolPath) == 0)
        }
    }
}

/// The spool file itself: records survive reopening, a torn last line is cut off and reported,
/// moving them hands them over in order and empties the file.
@Suite struct AuditSpoolTests {
    @Test func recordsSurviveReopeningAndATornLineIsCutOff() async throws {
        let directory = try TemporaryDirectory("shiftgate-spool")
        defer { directory.cleanup() }
        let path = directory.path("audit.spool")
        let records = (0..<3).map { index in
            DurableDecision(record: DecisionRecord(decidedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), requestId: "r\(index)",
                                                   requester: "jane@example.com", resources: "[\"prod-admin\"]", outcome: "approved",
                                                   reason: "on call", snapshotId: 1, scheduleId: "PPRIMAR", grantedSeconds: 3600))
        }
        do {
            let spool = try AuditSpool(path: path)
            try spool.append(Array(records[0..<2]))
            try spool.append([records[2]])
            #expect(spool.count == 3)
        }
        // A crash in the middle of a write: half a line at the end.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"key":"torn","rec"#.utf8))
        try handle.close()

        let reopened = try AuditSpool(path: path)
        #expect(reopened.opening.waiting == 3)
        #expect(reopened.opening.tornBytes == 18)
        #expect(reopened.records() == records)
        var handed: [DurableDecision] = []
        let (moved, skipped) = try await reopened.drain { handed = $0 }
        #expect(moved == 3 && skipped == 0)
        #expect(handed == records)
        #expect(reopened.count == 0 && AuditSpool.waitingCount(path: path) == 0)
    }
}

/// Group commit: callers waiting at the same time share one write, each learns its result, and no
/// two writes overlap.
@Suite struct GroupCommitTests {
    final class Disk: Sendable {
        private let state = Mutex<(writes: [[Int]], busy: Bool, overlapped: Bool)>(([], false, false))
        func write(_ items: [Int]) async -> Bool {
            let overlapping = state.withLock { state -> Bool in
                defer { state.busy = true }
                return state.busy
            }
            // A slow fsync: long enough for the other callers to queue behind it.
            try? await Task.sleep(nanoseconds: 20_000_000)
            state.withLock { state in
                state.writes.append(items)
                state.busy = false
                if overlapping { state.overlapped = true }
            }
            return !items.contains(13)
        }
        var writes: [[Int]] { state.withLock { $0.writes } }
        var overlapped: Bool { state.withLock { $0.overlapped } }
    }

    @Test(.timeLimit(.minutes(1)))
    func callersWaitingTogetherShareOneWrite() async throws {
        let disk = Disk()
        let commit = GroupCommit<Int> { items, _ in await disk.write(items) }
        let results = await withTaskGroup(of: (Int, Bool).self) { group in
            for item in 0..<100 { group.addTask { (item, await commit.append([item])) } }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        let writes = disk.writes
        // Every item written exactly once; the batch holding 13 failed, and only its callers heard so.
        #expect(writes.flatMap { $0 }.sorted() == Array(0..<100))
        let failed = Set(writes.first { $0.contains(13) } ?? [])
        #expect(results.count == 100)
        for (item, durable) in results { #expect(durable == !failed.contains(item), "item \(item)") }
        // 100 callers at once: the first writes alone, the rest wait and share a few writes.
        #expect(writes.count <= 10, "\(writes.count) writes for 100 callers: \(writes.map(\.count))")
        #expect(commit.writes == writes.count)
        #expect(!disk.overlapped)
    }
}
