import Foundation
import PagerDutySimulator
import Testing

/// `/oncalls` against `SimulatedAccount.small(now: testNow)` (see its documentation: H = 15:00Z).
@Suite struct OnCallTests {
    /// (level, user, schedule or "-", start or "-", end or "-") per entry.
    func summary(_ reply: Reply) -> [String] {
        reply.list("oncalls").map { entry in
            let level = entry["escalation_level"] as? Int ?? 0
            let user = (entry["user"] as? [String: Any])?["id"] as? String ?? "?"
            let schedule = (entry["schedule"] as? [String: Any])?["id"] as? String ?? "-"
            let start = entry["start"] as? String ?? "-"
            let end = entry["end"] as? String ?? "-"
            return "\(level) \(user) \(schedule) \(start) \(end)"
        }
    }

    @Test func withoutAWindowItAnswersForNow() async throws {
        try await withLiveSimulator { live in
            let reply = try await live.get("/oncalls")
            #expect(reply.status == 200)
            #expect(summary(reply) == [
                "1 PALICE1 PSCHED1 2024-01-10T04:00:00-05:00 2024-01-10T12:00:00-05:00",
                "2 PCHAND1 PSCHED2 2024-01-07T10:00:00-05:00 2024-01-14T10:00:00-05:00",
                "3 PBOB001 - - -",
            ])
            let direct = reply.list("oncalls").last ?? [:]
            #expect(direct["schedule"] is NSNull)
            #expect(direct["start"] is NSNull)
            #expect(direct["end"] is NSNull)
            #expect((direct["escalation_policy"] as? [String: Any])?["id"] as? String == SmallAccountIDs.policy)
        }
    }

    @Test func aWindowGivesEveryEntryWithItsRealStartAndEnd() async throws {
        try await withLiveSimulator { live in
            let reply = try await live.get("/oncalls?\(window("2024-01-10T15:00:00Z", "2024-01-11T15:00:00Z"))&time_zone=UTC")
            #expect(summary(reply) == [
                "1 PALICE1 PSCHED1 2024-01-10T09:00:00Z 2024-01-10T17:00:00Z",
                "1 PDANA01 PSCHED1 2024-01-10T17:00:00Z 2024-01-10T19:00:00Z",
                "1 PALICE1 PSCHED1 2024-01-10T19:00:00Z 2024-01-11T09:00:00Z",
                "1 PBOB001 PSCHED1 2024-01-11T09:00:00Z 2024-01-12T09:00:00Z",
                "2 PCHAND1 PSCHED2 2024-01-07T15:00:00Z 2024-01-14T15:00:00Z",
                "3 PBOB001 - - -",
            ])
        }
    }

    @Test func earliestKeepsTheFirstEntryPerUserPolicyAndLevel() async throws {
        try await withLiveSimulator { live in
            let reply = try await live.get("/oncalls?\(window("2024-01-10T15:00:00Z", "2024-01-11T15:00:00Z"))&time_zone=UTC&earliest=true")
            #expect(summary(reply) == [
                "1 PALICE1 PSCHED1 2024-01-10T09:00:00Z 2024-01-10T17:00:00Z",
                "1 PDANA01 PSCHED1 2024-01-10T17:00:00Z 2024-01-10T19:00:00Z",
                "1 PBOB001 PSCHED1 2024-01-11T09:00:00Z 2024-01-12T09:00:00Z",
                "2 PCHAND1 PSCHED2 2024-01-07T15:00:00Z 2024-01-14T15:00:00Z",
                "3 PBOB001 - - -",
            ])
        }
    }

    @Test func filtersBySchedulesUsersAndPolicies() async throws {
        try await withLiveSimulator { live in
            let query = "\(window("2024-01-10T15:00:00Z", "2024-01-11T15:00:00Z"))&time_zone=UTC"
            let bySchedule = try await live.get("/oncalls?\(query)&schedule_ids%5B%5D=\(SmallAccountIDs.secondary)")
            #expect(summary(bySchedule) == ["2 PCHAND1 PSCHED2 2024-01-07T15:00:00Z 2024-01-14T15:00:00Z"])

            let bySchedules = try await live.get("/oncalls?\(query)&schedule_ids%5B%5D=\(SmallAccountIDs.secondary)&schedule_ids%5B%5D=\(SmallAccountIDs.primary)")
            #expect(summary(bySchedules).count == 5, "both schedules, no direct user target")

            let byUser = try await live.get("/oncalls?\(query)&user_ids%5B%5D=\(SmallAccountIDs.bob)")
            #expect(summary(byUser) == ["1 PBOB001 PSCHED1 2024-01-11T09:00:00Z 2024-01-12T09:00:00Z", "3 PBOB001 - - -"])

            let byPolicy = try await live.get("/oncalls?\(query)&escalation_policy_ids%5B%5D=\(SmallAccountIDs.policy)")
            #expect(summary(byPolicy).count == 6)
            let byOtherPolicy = try await live.get("/oncalls?\(query)&escalation_policy_ids%5B%5D=PNOSUCH")
            #expect(byOtherPolicy.list("oncalls").isEmpty)
        }
    }

    @Test func orderIsStableAcrossPages() async throws {
        try await withLiveSimulator(.generate(users: 60, schedules: 16, seed: 2, now: testNow)) { live in
            let query = window("2024-01-08T00:00:00Z", "2024-01-16T00:00:00Z")
            let first = try await live.get("/oncalls?\(query)&limit=100&total=true")
            let second = try await live.get("/oncalls?\(query)&limit=100&offset=100")
            let total = first.json["total"] as? Int ?? 0
            #expect(total > 100)
            #expect(total <= 200, "two pages of 100 hold them all")
            let whole = summary(first) + summary(second)
            #expect(whole.count == total)
            var paged: [String] = []
            var offset = 0
            while offset < total {
                paged += summary(try await live.get("/oncalls?\(query)&limit=7&offset=\(offset)"))
                offset += 7
            }
            #expect(paged == whole)
            let policyAndLevel = (first.list("oncalls") + second.list("oncalls")).map {
                "\(($0["escalation_policy"] as? [String: Any])?["id"] as? String ?? "") \($0["escalation_level"] as? Int ?? 0)"
            }
            #expect(policyAndLevel == policyAndLevel.sorted(), "ordered by policy, then level")
        }
    }

    @Test func theLibraryAnswersAsTheRouteDoes() {
        let account = SimulatedAccount.small(now: testNow)
        let onCalls = account.onCalls(SimulatedOnCallQuery(since: testNow, until: testNow))
        #expect(onCalls.map(\.userId) == [SmallAccountIDs.alice, SmallAccountIDs.chandra, SmallAccountIDs.bob])
        #expect(onCalls.map(\.level) == [1, 2, 3])
        #expect(onCalls.last?.start == nil)
    }
}
