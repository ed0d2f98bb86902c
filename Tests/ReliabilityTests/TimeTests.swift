import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OnCallStore
import SQLiteStore
import PagerDutySimulator
import Server
import Sync
import Testing
import TestSupport
import Timestamps

/// Shift edges, daylight-saving changes, the staleness limit and the replay window, each at the
/// exact second.
@Suite struct TimeTests {
    static let T = baseTime

    func approve(_ client: any TestClientProtocol, _ email: String, at date: Date, clock: TestClock) async throws -> [String: Any]? {
        clock.set(date)
        let response = try await post(client, requestBody([accessRequest(email)]), at: date)
        #expect(response.status == .ok)
        let all = claims(response)
        #expect(all.count <= 1)
        return all.first
    }

    @Test func aHandoffMovesTheApprovalFromOnePersonToTheNextAtTheSecond() async throws {
        // Secondary hands off from Omar to Raj at T+10m; the policy's window is 1 min before, 5 min after.
        let handoff = Self.T.addingTimeInterval(600)
        try await withWebhook(.router, contents: roster()) { client, _, clock in
            let omarLast = try #require(try await approve(client, "omar@example.com", at: handoff.addingTimeInterval(-1), clock: clock))
            #expect(labels(omarLast)["indent.com/time/duration"] == "1s")
            #expect(labels(omarLast)["indent.com/time/expires"] == IndentTime.format(handoff))
            #expect(try await approve(client, "omar@example.com", at: handoff, clock: clock) == nil, "approved at the second the shift ended")
            // Raj: not yet 5 min + 1 s before, exactly 5 min before is the half-open edge, then yes.
            #expect(try await approve(client, "raj@example.com", at: handoff.addingTimeInterval(-301), clock: clock) == nil)
            #expect(try await approve(client, "raj@example.com", at: handoff.addingTimeInterval(-300), clock: clock) == nil)
            let rajEarly = try #require(try await approve(client, "raj@example.com", at: handoff.addingTimeInterval(-299), clock: clock))
            // Approved from the window's edge, to the end of his shift at T+4h (not 6 h past the request).
            #expect(labels(rajEarly)["indent.com/time/duration"] == "3h54m59s")
            #expect(labels(rajEarly)["indent.com/time/expires"] == IndentTime.format(Self.T.addingTimeInterval(4 * 3600)))
            let rajAtHandoff = try #require(try await approve(client, "raj@example.com", at: handoff, clock: clock))
            #expect(labels(rajAtHandoff)["indent.com/time/duration"] == "3h50m0s")
        }
    }

    @Test func noApprovalEverOutlivesTheStretchItWasGrantedFor() async throws {
        await politeStart()
        // Sweep T−70m … T+4h10m in 29 s steps for everyone: an approval happens exactly when a shift
        // is within the window and time is left, and never expires after the stretch ends.
        let stretchEnd: [String: Date] = ["jane@example.com": Self.T.addingTimeInterval(3 * 3600), "kate@example.com": Self.T.addingTimeInterval(2 * 3600),
                                          "omar@example.com": Self.T.addingTimeInterval(600), "raj@example.com": Self.T.addingTimeInterval(4 * 3600),
                                          "lee@example.com": Self.T.addingTimeInterval(-600)]
        let stretchStart: [String: Date] = ["jane@example.com": Self.T.addingTimeInterval(-3600), "kate@example.com": Self.T.addingTimeInterval(-1800),
                                            "omar@example.com": Self.T.addingTimeInterval(-7200), "raj@example.com": Self.T.addingTimeInterval(600),
                                            "lee@example.com": Self.T.addingTimeInterval(-7200)]
        try await withWebhook(.router, contents: roster(), configuration: ServerConfiguration.forTests(maxStaleness: 86_400)) { client, _, clock in
            var checked = 0, approved = 0
            var now = Self.T.addingTimeInterval(-70 * 60)
            while now < Self.T.addingTimeInterval(4 * 3600 + 600) {
                for email in everyoneInRoster {
                    let claim = try await approve(client, email, at: now, clock: clock)
                    checked += 1
                    var expected = false
                    if let start = stretchStart[email], let end = stretchEnd[email] {
                        // Overlaps [now − 1 min, now + 5 min) and at least a second left.
                        expected = end > now.addingTimeInterval(-60) && start < now.addingTimeInterval(300) && end.timeIntervalSince(now) >= 1
                    }
                    #expect((claim != nil) == expected, "\(email) at T\(Int(now.timeIntervalSince(Self.T)))s: approved \(claim != nil), expected \(expected)")
                    if let claim, let end = stretchEnd[email] {
                        approved += 1
                        let expires = try #require(RFC3339.parse(labels(claim)["indent.com/time/expires"] ?? ""))
                        #expect(expires <= end, "\(email) approved until \(expires), past the stretch's end \(end)")
                        #expect(expires.timeIntervalSince(now) >= 1 && expires.timeIntervalSince(now) <= 6 * 3600)
                    }
                }
                now = now.addingTimeInterval(29)
            }
            print("[reliability] shift-edge sweep: \(checked) requests, \(approved) approvals, none past its stretch")
        }
    }

    // MARK: Daylight saving

    /// A New York rotation of three, handing off at 09:00 local every day.
    static func newYorkAccount() -> SimulatedAccount {
        let users = [SimulatedUser(id: "PNYA001", name: "Ana", email: "ana@example.com", timeZone: "America/New_York"),
                     SimulatedUser(id: "PNYB001", name: "Ben", email: "ben@example.com", timeZone: "America/New_York"),
                     SimulatedUser(id: "PNYC001", name: "Cai", email: "cai@example.com", timeZone: "America/New_York")]
        let start = Date(unixSeconds: 1_696_165_200) // 2023-10-01T13:00:00Z, 09:00 EDT
        let layer = SimulatedLayer(id: "PLNY001", name: "Daily 09:00", start: start, rotationVirtualStart: start,
                                   rotationTurnLengthSeconds: 86_400, userIds: users.map(\.id))
        let schedule = SimulatedSchedule(id: "PSNY001", name: "New York", timeZone: "America/New_York", layers: [layer])
        let policy = SimulatedEscalationPolicy(id: "PPNY001", name: "NY", rules: [SimulatedEscalationRule(id: "PRNY001", targets: [.init(type: .schedule, id: "PSNY001")])])
        return SimulatedAccount(users: users, schedules: [schedule], escalationPolicies: [policy])
    }

    static func utc(_ text: String) -> Date { RFC3339.parse(text)! }

    @Test(arguments: [
        // Fall back, 2024-11-03 02:00 EDT → 01:00 EST: the turn from 09:00 EDT (13:00Z) to 09:00 EST (14:00Z) lasts 25 h.
        ("2024-11-02T16:00:00Z", "2024-11-02T13:00:00Z", "2024-11-03T14:00:00Z", "2024-11-03T06:30:00Z"),
        // Spring forward, 2024-03-10 02:00 EST → 03:00 EDT: from 09:00 EST (14:00Z) to 09:00 EDT (13:00Z), 23 h.
        ("2024-03-09T16:00:00Z", "2024-03-09T14:00:00Z", "2024-03-10T13:00:00Z", "2024-03-10T07:30:00Z"),
    ])
    func aNewYorkRotationAcrossADaylightSavingChangeIsStoredInUTCAndDecidedAtTheRightSecond(
        syncedAt: String, turnStart: String, turnEnd: String, duringTheChange: String
    ) async throws {
        let now = Self.utc(syncedAt), start = Self.utc(turnStart), end = Self.utc(turnEnd), middle = Self.utc(duringTheChange)
        try await withSettledSimulator(Self.newYorkAccount(), options: unlimitedSimulator()) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            _ = try await makeSyncer(running, database: database, lookback: 86_400, horizon: 4 * 86_400).run(now: now)
            let snapshot = try #require(try database.currentSnapshot())
            #expect(snapshot.schedules.first?.timeZone == "America/New_York")
            let shifts = snapshot.shifts.sorted { $0.start < $1.start }
            // The turn across the change, exactly as UTC instants.
            let across = try #require(shifts.first { $0.start <= middle && middle < $0.end }, "no shift covers \(duringTheChange)")
            #expect(across.start == start && across.end == end, "stored \(across.start)…\(across.end)")
            #expect(across.end.timeIntervalSince(across.start) == end.timeIntervalSince(start))
            // Every other turn is 24 h, apart from those cut by the window, and they tile without gaps.
            for (a, b) in zip(shifts, shifts.dropFirst()) { #expect(a.end == b.start, "a gap or overlap at \(a.end)") }
            let lengths = shifts.dropFirst().dropLast().map { $0.end.timeIntervalSince($0.start) / 3600 }
            #expect(lengths.filter { $0 != 24 } == [end.timeIntervalSince(start) / 3600], "turn lengths \(lengths)")
            let holder = try #require(snapshot.users.first { $0.id == across.userId }?.email)
            let next = try #require(shifts.first { $0.start == end })
            let successor = try #require(snapshot.users.first { $0.id == next.userId }?.email)
            print("[reliability] DST \(turnStart.prefix(10)): turn \(turnStart) → \(turnEnd) (\(Int(end.timeIntervalSince(start) / 3600)) h) held by \(holder), then \(successor)")

            let clock = TestClock(middle)
            let app = try await buildApplication(configuration: ServerConfiguration.forTests(maxStaleness: 10 * 365 * 86_400), store: SQLiteCacheStore(database), logger: quietLogger, clock: { clock.now })
            try await app.test(.router) { client in
                // In the repeated or skipped hour: approved until the local 09:00 handoff, capped at 6 h.
                let inChange = try #require(try await approve(client, holder, at: middle, clock: clock))
                #expect(labels(inChange)["indent.com/time/expires"] == IndentTime.format(min(end, middle.addingTimeInterval(6 * 3600))))
                // Half an hour before the handoff: exactly 30 minutes, ending at the UTC instant of 09:00 local.
                let late = try #require(try await approve(client, holder, at: end.addingTimeInterval(-1800), clock: clock))
                #expect(labels(late)["indent.com/time/duration"] == "30m0s")
                #expect(labels(late)["indent.com/time/expires"] == IndentTime.format(end))
                // At the handoff the holder is done and the successor is on.
                #expect(try await approve(client, holder, at: end, clock: clock) == nil)
                #expect(try await approve(client, successor, at: end, clock: clock) != nil)
                let lookup = try await client.execute(uri: "/v1/oncall?email=\(holder)", method: .get)
                clock.set(end.addingTimeInterval(-60))
                let minuteBefore = try await client.execute(uri: "/v1/oncall?email=\(holder)", method: .get)
                #expect(lookup.status == .ok)
                #expect(json(minuteBefore.body)["until"] as? String == RFC3339.format(end))
            }
        }
    }

    // MARK: Staleness

    @Test func aCacheExactlyAtTheStalenessLimitIsFreshAndOneSecondMoreIsStale() async throws {
        let finished = Self.T
        try await withWebhook(contents: roster(at: Self.T, finishedAt: finished), configuration: ServerConfiguration.forTests(maxStaleness: 900)) { client, _, clock in
            clock.set(finished.addingTimeInterval(900))
            #expect(try await approve(client, "jane@example.com", at: clock.now, clock: clock) != nil, "age == limit must still be fresh")
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get).status == .ok)

            clock.set(finished.addingTimeInterval(901))
            #expect(try await approve(client, "jane@example.com", at: clock.now, clock: clock) == nil, "age == limit + 1 s must be stale")
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect((json(ready.body)["status"] as? String)?.contains("stale") == true)
            let lookup = try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get)
            #expect(lookup.status == .serviceUnavailable)
            #expect((json(lookup.body)["error"] as? String)?.contains("901s old") == true)
        }
    }

    // MARK: Replay window

    @Test(arguments: [(-300.0, true), (-301.0, false), (300.0, true), (301.0, false), (-300.001, false), (0.0, true), (-86_400.0, false)])
    func theSignatureTimestampIsAcceptedUpToTheSkewLimitAndNotASecondBeyond(offset: Double, accepted: Bool) async throws {
        try await withWebhook(.router, contents: roster(), configuration: ServerConfiguration.forTests(maxClockSkew: 300)) { client, _, clock in
            let stamp = clock.now.addingTimeInterval(offset)
            for text in [IndentTime.format(stamp), Date.ISO8601FormatStyle().format(stamp)] where offset.rounded() == offset || text.contains(".") {
                let body = requestBody([accessRequest("jane@example.com")])
                let response = try await client.execute(uri: "/indent/webhook", method: .post, headers: signedHeaders(body, timestamp: text), body: ByteBuffer(bytes: body))
                if accepted {
                    #expect(response.status == .ok, "\(text) refused")
                    #expect(claims(response).count == 1)
                } else {
                    #expect(response.status == .unauthorized, "\(text) accepted \(offset)s from the server's clock")
                    #expect((json(response.body)["status"] as? [String: Any])?["code"] as? Int == 9)
                    #expect(claims(response).isEmpty)
                }
            }
        }
    }
}
