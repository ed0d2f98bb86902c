import Approval
import Foundation
import HummingbirdTesting
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
import Sync
import Testing
import TestSupport
import Timestamps

/// Syncs `account` from the simulator over loopback into a real SQLite file and returns the snapshot.
func syncedSnapshot(_ account: SimulatedAccount, now: Date) async throws -> SnapshotContents {
    try await withSimulator(account) { running, directory in
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        let client = PagerDutyClient(configuration: PagerDutyConfiguration(
            baseURL: running.baseURL, apiKey: testAPIKey, requestsPerMinute: 6000, requestTimeout: 30,
            retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2)))
        _ = try await Syncer(client: client, store: SQLiteCacheStore(database)).run(now: now)
        return try #require(try database.currentSnapshot())
    }
}

/// Decisions through shift-based schedules, end to end: the simulator's account is synced over HTTP,
/// and the real webhook on loopback decides from that snapshot (see `mixedAccount(now:)`).
@Suite struct ShiftBasedDecisionTests {
    typealias IDs = MixedAccountIDs
    let now = Date()
    var hour: Date { Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600) }
    func at(_ hours: Double) -> Date { hour.addingTimeInterval(hours * 3600) }

    /// What the webhook answers for `email` at `instant`: the claim's duration, or nil for no claim.
    func grant(_ client: some TestClientProtocol, _ email: String, clock: TestClock) async throws -> String? {
        let claims = try await postClaims(client, requestBody([accessRequest(email)]), clock: clock)
        return claims.first.map { labels($0)["indent.com/time/duration"] ?? "?" }
    }

    func grants(_ client: some TestClientProtocol, _ emails: [String], clock: TestClock) async throws -> [String?] {
        var result: [String?] = []
        for email in emails { result.append(try await grant(client, email, clock: clock)) }
        return result
    }

    func withMixedWebhook(policy: ApprovalPolicy = ApprovalPolicy(maxDuration: 24 * 3600), at instant: Date,
                          _ body: @Sendable (any TestClientProtocol, TestClock) async throws -> Void) async throws {
        let snapshot = try await syncedSnapshot(mixedAccount(now: now), now: now)
        try await withWebhook(contents: snapshot, clock: TestClock(instant), configuration: .forTests(maxStaleness: 3 * 86_400, policy: policy)) { client, _, clock in
            try await body(client, clock)
        }
    }

    @Test func twoPeopleOnCallAtOnceAreBothApprovedEachToTheEndOfTheirOwnStretch() async throws {
        try await withMixedWebhook(at: at(0.5)) { client, clock in
            // Alice through the rotation until Dan's override at H+4h; Cat through a custom shift until H+2h.
            #expect(try await grant(client, "alice.archer@example.com", clock: clock) == "3h30m0s")
            #expect(try await grant(client, "cat@example.com", clock: clock) == "1h30m0s")
            let lookup = json(try await client.execute(uri: "/v1/oncall?schedule=\(IDs.platform)", method: .get))
            let people = (lookup["on_call"] as? [[String: Any]] ?? []).map { ($0["id"] as? String ?? "", $0["until"] as? String ?? "") }
            #expect(people.map(\.0) == [IDs.alice, IDs.cat])
            #expect(people.map(\.1) == [RFC3339.format(at(4)), RFC3339.format(at(2))])
            #expect((lookup["schedule"] as? [String: Any])?["kind"] as? String == "shift_based")
        }
    }

    @Test func anOverriddenRotationMemberIsRefusedWhileTheirReplacementIsApproved() async throws {
        try await withMixedWebhook(at: at(5)) { client, clock in
            #expect(try await grant(client, "alice.archer@example.com", clock: clock) == nil)
            #expect(try await grant(client, "dan@example.com", clock: clock) == "3h0m0s")
            let lookup = json(try await client.execute(uri: "/v1/oncall?email=alice.archer@example.com", method: .get))
            #expect(lookup["outcome"] as? String == "not_on_call")
        }
    }

    @Test func anEmptySlotApprovesNobody() async throws {
        try await withMixedWebhook(at: at(6)) { client, clock in
            // Support v3 is empty from H+4h to H+12h: Eve's shift ended, Finn's has not begun.
            #expect(try await grant(client, "eve@example.com", clock: clock) == nil)
            #expect(try await grant(client, "finn@example.com", clock: clock) == nil)
            let lookup = json(try await client.execute(uri: "/v1/oncall?schedule=Support%20v3", method: .get))
            #expect((lookup["on_call"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(arguments: [IDs.platform, "Platform v3"])
    func aShiftBasedScheduleCanBeAllowedByIdOrName(_ entry: String) async throws {
        let policy = ApprovalPolicy(maxDuration: 24 * 3600, allowedSchedules: [entry])
        try await withMixedWebhook(policy: policy, at: at(0.5)) { client, clock in
            let grants = try await grants(client, ["alice.archer@example.com", "cat@example.com", "bob.brandt@example.com", "eve@example.com"], clock: clock)
            // Bob (Legacy) and Eve (Support v3) are on call, but not in an allowed schedule.
            #expect(grants == ["3h30m0s", "1h30m0s", nil, nil])
        }
    }

    @Test func anEscalationLevelIsReachedThroughAShiftBasedScheduleTarget() async throws {
        let snapshot = try await syncedSnapshot(mixedAccount(now: now), now: now)
        // PagerDuty writes the level-1 target as schedule_v3_reference; the cache keeps it as a schedule.
        #expect(snapshot.targets.contains(EscalationTarget(policyId: IDs.policy, level: 1, ruleId: "PRULEA1", delayMinutes: 30,
                                                           kind: .schedule, targetId: IDs.platform)))
        #expect(snapshot.onCalls.contains { $0.scheduleId == IDs.platform && $0.level == 1 && $0.userId == IDs.cat })
        let policy = ApprovalPolicy(maxDuration: 24 * 3600, maxEscalationLevel: 1)
        try await withWebhook(contents: snapshot, clock: TestClock(at(0.5)), configuration: .forTests(maxStaleness: 3 * 86_400, policy: policy)) { client, _, clock in
            let grants = try await grants(client, ["alice.archer@example.com", "cat@example.com", "bob.brandt@example.com", "eve@example.com"], clock: clock)
            // Bob is on call through level 2 (Legacy), Eve through level 3 (Support v3).
            #expect(grants == ["3h30m0s", "1h30m0s", nil, nil])
        }
    }
}
