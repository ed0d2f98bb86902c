import Approval
import Foundation
import HummingbirdTesting
import OnCallStore
import Server
import Testing
import TestSupport

/// No approval without its audit record: while the store is held unwritable the audit queue fills,
/// and from then on nothing is approved until it drains.
@Suite struct AuditTests {
    @Test(.timeLimit(.minutes(2)), .enabled(if: ExclusiveLockHolder.sqlite3 != nil, "needs the sqlite3 command-line tool"))
    func aFullAuditQueueApprovesNothingUntilItDrains() async throws {
        let capacity = 5
        // Long connection timeouts: on a loaded machine taking the lock can outlast the slow-client guard.
        let configuration = ServerConfiguration.forTests(idleTimeout: 120, requestTimeout: 120, auditCapacity: capacity)
        try await withWebhook(.live, contents: roster(), configuration: configuration) { client, database, clock in
            let holder = try #require(try await ExclusiveLockHolder(path: database.path))
            var approvals = 0
            var outcomes: [Bool] = []
            // Each request holds one event: the first `capacity` fill the queue, the rest are refused.
            for _ in 0..<(capacity + 3) {
                let reply = try await post(client, requestBody([accessRequest("jane@example.com")]), at: clock.now)
                #expect(reply.status == .ok)
                outcomes.append(!claims(reply).isEmpty)
                approvals += claims(reply).count
            }
            #expect(outcomes == Array(repeating: true, count: capacity) + Array(repeating: false, count: 3))

            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect((json(ready.body)["status"] as? String)?.contains("audit log") == true)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"shiftgate_decisions_total{outcome="audit_unavailable"} 3"#), "\(metrics)")
            #expect(metrics.contains("shiftgate_audit_pending_records \(capacity)"))

            await holder.release()
            // The writer drains the queue at its next flush; approvals resume.
            var resumed = false
            for _ in 0..<300 where !resumed {
                try await Task.sleep(nanoseconds: 50_000_000)
                resumed = try await client.execute(uri: "/readyz", method: .get).status == .ok
            }
            #expect(resumed)
            let after = try await post(client, requestBody([accessRequest("jane@example.com")]), at: clock.now)
            #expect(claims(after).count == 1)
            approvals += claims(after).count

            // Every approval sent has its record (the last one's may still be queued: wait for it).
            var recorded = 0
            for _ in 0..<100 where recorded < approvals {
                recorded = try database.decisions(since: .distantPast).filter { $0.outcome == "approved" }.count
                if recorded < approvals { try await Task.sleep(nanoseconds: 50_000_000) }
            }
            #expect(recorded == approvals)
        }
    }
}
