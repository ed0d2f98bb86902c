import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OnCallStore
import Testing
import TestSupport
import Timestamps

/// The webhook over real HTTP on loopback, over a real SQLite file.
@Suite struct WebhookTests {
    @Test func approvesSomeoneOnCallWithIndentsClaimShape() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let response = try await post(client, requestBody([accessRequest("jane@EXAMPLE.com")]), clock: clock)
            #expect(response.status == .ok)
            let all = claims(response)
            try #require(all.count == 1)
            let claim = all[0]
            #expect(claim["event"] as? String == "access/approve")
            #expect((claim["actor"] as? [String: Any])?["id"] as? String == "pagerduty-approval-bot")
            #expect((claim["actor"] as? [String: Any])?["kind"] as? String == "indent.v1.Bot")
            let resources = claim["resources"] as? [[String: Any]] ?? []
            #expect(resources.first?["email"] as? String == "jane@EXAMPLE.com")
            #expect(resources.last?["id"] as? String == "arn:aws:iam::123456789012:role/prod-admin")
            #expect(resources.count == 2)
            // Back-to-back shifts in Primary then Secondary: the stretch ends at T+3h.
            #expect(labels(claim)["indent.com/time/duration"] == "3h0m0s")
            #expect(labels(claim)["indent.com/time/expires"] == IndentTime.format(baseTime.addingTimeInterval(3 * 3600)))
            #expect(labels(claim)["indent.com/workflow/origin/id"] == "run-1")
            let reason = claim["reason"] as? String ?? ""
            #expect(reason.contains("Primary") && reason.contains("Secondary") && reason.contains(IndentTime.format(baseTime.addingTimeInterval(3 * 3600))))
            #expect(claim["timestamp"] as? String == IndentTime.format(baseTime))
            #expect((json(response)["status"] as? [String: Any])?["code"] as? Int == 0)
        }
    }

    @Test func theBarePathWorksForDropInUse() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let response = try await post(client, requestBody([accessRequest("jane@example.com")]), path: "/", clock: clock)
            #expect(claims(response).count == 1)
        }
    }

    @Test(arguments: [
        ("raj@example.com", "approved", 1),      // starts at T+4m59s: inside the after-window
        ("omar@example.com", "not_on_call", 0),  // starts at T+5m: the window is half-open
        ("lee@example.com", "shift_ended", 0),   // ended at T−30s: on call by the window, but nothing left to grant
        ("kim@example.com", "not_on_call", 0),   // ended at T−60s: outside the before-window
        ("sam@example.com", "not_on_call", 0),   // no shift
        ("nobody@example.com", "unknown_user", 0),
    ])
    func windowEdges(email: String, outcome: String, claimCount: Int) async throws {
        try await withWebhook(contents: roster()) { client, database, clock in
            let response = try await post(client, requestBody([accessRequest(email, id: "edge-\(email)")]), clock: clock)
            #expect(claims(response).count == claimCount)
            // The audit record says why.
            var record: DecisionRecord?
            for _ in 0..<100 where record == nil {
                record = try database.decisions(since: .distantPast).first { $0.requestId == "edge-\(email)" }
                if record == nil { try await Task.sleep(nanoseconds: 20_000_000) }
            }
            #expect(record?.outcome == outcome)
        }
    }

    @Test func anApprovalStartingEarlyRunsToTheShiftEndCappedByTheConfiguredDuration() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let claim = try #require(try await postClaims(client, requestBody([accessRequest("raj@example.com")]), clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "6h0m0s")
        }
    }

    @Test func theRequestedDurationCapsTheGrant() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let body = requestBody([accessRequest("jane@example.com", labels: ["indent.com/time/duration": "1h0m0s"])])
            let claim = try #require(try await postClaims(client, body, clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "1h0m0s")
        }
    }

    @Test func theConfiguredDurationCapsTheGrant() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(policy: ApprovalPolicy(maxDuration: 1.5 * 3600))) { client, _, clock in
            let claim = try #require(try await postClaims(client, requestBody([accessRequest("jane@example.com")]), clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "1h30m0s")
        }
    }

    @Test(arguments: [["PPRIMAR"], [" Primary "], ["Primary", "Nonexistent"]])
    func theAllowListTakesIDsOrNamesTrimmed(entries: [String]) async throws {
        let policy = try ApprovalPolicy(environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": entries.joined(separator: ",")])
        try await withWebhook(contents: roster(), configuration: .forTests(policy: policy)) { client, _, clock in
            // Only Primary allowed: Jane's stretch ends when her Primary shift does, at T+1h.
            let claim = try #require(try await postClaims(client, requestBody([accessRequest("jane@example.com")]), clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "1h0m0s")
        }
    }

    @Test func allowListMatchingIsCaseSensitive() async throws {
        let policy = try ApprovalPolicy(environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "primary,psecond"])
        try await withWebhook(contents: roster(), configuration: .forTests(policy: policy)) { client, _, clock in
            let result94 = try await postClaims(client, requestBody([accessRequest("jane@example.com")]), clock: clock)
            #expect(result94.isEmpty)
        }
    }

    @Test func theEscalationLevelFilterDropsDeeperSchedules() async throws {
        let policy = try ApprovalPolicy(environment: ["AUTO_APPROVAL_MAX_ESCALATION_LEVEL": "1"])
        try await withWebhook(contents: roster(), configuration: .forTests(policy: policy)) { client, _, clock in
            let claim = try #require(try await postClaims(client, requestBody([accessRequest("jane@example.com")]), clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "1h0m0s")
        }
    }

    @Test func severalEventsInOneBodyGetOneClaimPerApproval() async throws {
        try await withWebhook(contents: roster()) { client, database, clock in
            var other = accessRequest("raj@example.com")
            other["event"] = "access/other"
            let body = requestBody([accessRequest("jane@example.com", id: "e1"), accessRequest("sam@example.com", id: "e2"),
                                    accessRequest("raj@example.com", id: "e3"), accessRequest(nil, id: "e4"), other])
            let all = try await postClaims(client, body, clock: clock)
            #expect(all.count == 2)
            let emails = all.compactMap { (($0["resources"] as? [[String: Any]])?.first?["email"]) as? String }
            #expect(emails == ["jane@example.com", "raj@example.com"])
            // Every decision reaches the audit log (off the request path, flushed shortly after).
            var records: [DecisionRecord] = []
            for _ in 0..<50 where records.count < 4 {
                try await Task.sleep(nanoseconds: 50_000_000)
                records = try database.decisions(since: .distantPast)
            }
            #expect(records.map(\.requestId).sorted() == ["e1", "e2", "e3", "e4"])
            #expect(records.first { $0.requestId == "e1" }?.grantedSeconds == 3 * 3600)
            #expect(records.first { $0.requestId == "e2" }?.outcome == "not_on_call")
            #expect(records.first { $0.requestId == "e4" }?.outcome == "no_email")
            #expect(records.allSatisfy { !$0.reason.contains(webhookSecret) })
        }
    }

    @Test func aStaleCacheApprovesNothingAndIsNotReady() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(maxStaleness: 900)) { client, _, clock in
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .ok)
            clock.set(baseTime.addingTimeInterval(901))
            let response = try await post(client, requestBody([accessRequest("jane@example.com")]), clock: clock)
            #expect(response.status == .ok)
            #expect(claims(response).isEmpty)
            let notReady = try await client.execute(uri: "/readyz", method: .get)
            #expect(notReady.status == .serviceUnavailable)
            let lookup = try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get)
            #expect(lookup.status == .serviceUnavailable)
        }
    }

    @Test func noSnapshotMeansNotReadyAndNoApproval() async throws {
        try await withWebhook(contents: nil) { client, _, clock in
            let result147 = try await client.execute(uri: "/readyz", method: .get)
            #expect(result147.status == .serviceUnavailable)
            let result148 = try await client.execute(uri: "/healthz", method: .get)
            #expect(result148.status == .ok)
            let result149 = try await postClaims(client, requestBody([accessRequest("jane@example.com")]), clock: clock)
            #expect(result149.isEmpty)
        }
    }

    @Test func aNewSnapshotIsPickedUpWithoutARestart() async throws {
        try await withWebhook(contents: roster()) { client, database, clock in
            #expect(try await postClaims(client, requestBody([accessRequest("sam@example.com")]), clock: clock).isEmpty)
            var next = roster()
            next.shifts.append(Shift(scheduleId: "PPRIMAR", userId: "PSAM001", start: baseTime.addingTimeInterval(-60), end: baseTime.addingTimeInterval(3600)))
            try database.writeSnapshot(next, keep: 10)
            var approved = false
            for _ in 0..<60 where !approved {
                try await Task.sleep(nanoseconds: 50_000_000)
                approved = try !claims(try await post(client, requestBody([accessRequest("sam@example.com")]), clock: clock)).isEmpty
            }
            #expect(approved)
        }
    }
}

@Suite struct WebhookRefusalTests {
    @Test func aBadSignatureIs401WithAStatusBody() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let response = try await post(client, requestBody([accessRequest("jane@example.com")]), signature: String(repeating: "0", count: 64), clock: clock)
            #expect(response.status == .unauthorized)
            let status = json(response)["status"] as? [String: Any]
            #expect(status?["code"] as? Int == 9)
            #expect((status?["message"] as? String)?.contains("does not match") == true)
        }
    }

    @Test func missingHeadersAre401() async throws {
        try await withWebhook(contents: roster()) { client, _, _ in
            let response = try await client.execute(uri: "/indent/webhook", method: .post, body: ByteBuffer(bytes: requestBody([accessRequest("jane@example.com")])))
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains("X-Indent-Signature"))
        }
    }

    @Test func aSignatureOverAnotherBodyIsRefused() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let stamp = IndentTime.format(clock.now)
            let signed = requestBody([accessRequest("sam@example.com")])
            let sent = requestBody([accessRequest("jane@example.com")])
            let response = try await post(client, sent, timestamp: stamp, signature: IndentSignature.sign(secret: webhookSecret, timestamp: stamp, body: signed), clock: clock)
            #expect(response.status == .unauthorized)
        }
    }

    @Test(arguments: [-301.0, 301.0, -3600.0])
    func aTimestampOutsideTheSkewIsAReplay(offset: Double) async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let stamp = IndentTime.format(clock.now.addingTimeInterval(offset))
            let response = try await post(client, requestBody([accessRequest("jane@example.com")]), timestamp: stamp, clock: clock)
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains("server's clock"))
        }
    }

    @Test func aTimestampJustInsideTheSkewIsAccepted() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let stamp = IndentTime.format(clock.now.addingTimeInterval(-299))
            let result211 = try await postClaims(client, requestBody([accessRequest("jane@example.com")]), timestamp: stamp, clock: clock)
            #expect(result211.count == 1)
        }
    }

    @Test func anOversizedBodyIs413() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            var event = accessRequest("jane@example.com")
            event["reason"] = String(repeating: "x", count: 1 << 20)
            let response = try await post(client, requestBody([event]), clock: clock)
            #expect(response.status == .contentTooLarge)
        }
    }

    @Test(arguments: ["{", "[]", "{\"events\": 5}", "{\"nothing\": true}", "\u{0}\u{1}garbage"])
    func malformedBodiesAre400WithAReason(text: String) async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let response = try await post(client, Data(text.utf8), clock: clock)
            #expect(response.status == .badRequest)
            let message = (try? json(response)["status"] as? [String: Any])?["message"] as? String
            #expect(message?.isEmpty == false)
        }
    }

    /// Two `"actor"` (or `"events"`) members: which one counts depends on the reader, so the body is
    /// refused, signed or not, and nothing is approved or audited.
    @Test(arguments: [
        #"{"events":[{"event":"access/request","actor":{"email":"nobody@example.com"},"actor":{"email":"jane@example.com"},"resources":[{"kind":"x"}]}]}"#,
        #"{"events":[],"events":[{"event":"access/request","actor":{"email":"jane@example.com"},"resources":[{"kind":"x"}]}]}"#,
    ])
    func repeatedKeysInABodyAre400(text: String) async throws {
        try await withWebhook(contents: roster()) { client, database, clock in
            let response = try await post(client, Data(text.utf8), clock: clock)
            #expect(response.status == .badRequest)
            let message = (try? json(response)["status"] as? [String: Any])?["message"] as? String
            #expect(message?.contains("appears twice in one object") == true, "\(message ?? "no message")")
            #expect(try await database.decisions(since: .distantPast).isEmpty)
        }
    }

    @Test func aPullUpdateGetsTheBotResource() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let body = try JSONSerialization.data(withJSONObject: ["kinds": ["indent.v1.Bot"]])
            let response = try await post(client, body, clock: clock)
            let resources = json(response)["resources"] as? [[String: Any]]
            #expect(resources?.first?["id"] as? String == "pagerduty-approval-bot")
        }
    }

    @Test func lookupsAndMetrics() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            let lookup = try await client.execute(uri: "/v1/oncall?email=JANE%40example.com", method: .get)
            #expect(lookup.status == .ok)
            let body = json(lookup)
            #expect(body["on_call"] as? Bool == true)
            #expect(body["until"] as? String == RFC3339.format(baseTime.addingTimeInterval(3 * 3600)))
            _ = try await post(client, requestBody([accessRequest("jane@example.com")]), clock: clock)
            _ = try await post(client, requestBody([accessRequest("jane@example.com")]), signature: "bad", clock: clock)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("shiftgate_decisions_total{outcome=\"approved\"}"))
            #expect(metrics.contains("shiftgate_http_requests_total{route=\"/indent/webhook\",outcome=\"bad_signature\"} 1"))
            #expect(metrics.contains("shiftgate_decision_duration_seconds_bucket"))
            #expect(metrics.contains("shiftgate_cache_age_seconds"))
            #expect(!metrics.contains(webhookSecret))
        }
    }
}
