import Foundation
import PagerDutySimulator
import Testing

/// `SimulatedAccount.generate` and scenario files.
@Suite struct GeneratorTests {
    let account = SimulatedAccount.generate(users: 80, schedules: 20, seed: 7, now: testNow)

    @Test func theSameSeedGivesTheSameAccount() {
        #expect(SimulatedAccount.generate(users: 80, schedules: 20, seed: 7, now: testNow) == account)
        #expect(SimulatedAccount.generate(users: 80, schedules: 20, seed: 8, now: testNow) != account)
    }

    @Test func idsLookLikePagerDutysAndAreUnique() throws {
        var ids = account.users.map(\.id) + account.teams.map(\.id) + account.schedules.map(\.id)
        ids += account.schedules.flatMap { $0.layers.map(\.id) + $0.overrides.map(\.id) }
        ids += account.escalationPolicies.flatMap { [$0.id] + $0.rules.map(\.id) }
        let pattern = try Regex("^P[0-9A-Z]{6}$")
        #expect(ids.allSatisfy { $0.wholeMatch(of: pattern) != nil })
        #expect(Set(ids).count == ids.count)
    }

    @Test func emailsAreMixedCaseAndUnique() {
        let emails = account.users.map(\.email)
        #expect(emails.contains { $0 != $0.lowercased() })
        #expect(emails.contains { $0.contains("@Example.com") })
        #expect(Set(emails.map { $0.lowercased() }).count == emails.count)
    }

    @Test func peopleAndZonesAreMixed() {
        var schedulesPerUser: [String: Int] = [:]
        for schedule in account.schedules {
            for id in Set(schedule.layers.flatMap(\.userIds)) { schedulesPerUser[id, default: 0] += 1 }
        }
        #expect(schedulesPerUser.values.contains { $0 >= 2 }, "some users are on several schedules")
        let zones = Set(account.schedules.map(\.timeZone))
        #expect(zones.isSuperset(of: ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC"]))
        let restrictions = account.schedules.flatMap { $0.layers.flatMap(\.restrictions) }
        #expect(restrictions.contains { $0.type == .daily })
        #expect(restrictions.contains { $0.type == .weekly })
        let turns = Set(account.schedules.flatMap { $0.layers.map(\.rotationTurnLengthSeconds) })
        #expect(turns.isSuperset(of: [86_400, 7 * 86_400]))
        let overrides = account.schedules.flatMap(\.overrides)
        #expect(overrides.contains { $0.start <= testNow && testNow < $0.end }, "an override running now")
        #expect((2...8).contains(account.teams.count))
    }

    @Test func oneEscalationPolicyPerFourSchedules() {
        #expect(account.escalationPolicies.count == 5)
        let scheduleIds = Set(account.schedules.map(\.id))
        let userIds = Set(account.users.map(\.id))
        for policy in account.escalationPolicies {
            #expect(policy.rules.count == 3)
            #expect(policy.rules[0].targets.allSatisfy { $0.type == .schedule && scheduleIds.contains($0.id) })
            #expect(policy.rules[1].targets.allSatisfy { $0.type == .schedule && scheduleIds.contains($0.id) })
            #expect(Set(policy.rules[0].targets.map(\.id)).isDisjoint(with: policy.rules[1].targets.map(\.id)))
            #expect(policy.rules[2].targets.map(\.type) == [.user])
            #expect(policy.rules[2].targets.allSatisfy { userIds.contains($0.id) })
        }
        let onCallNow = account.onCalls(SimulatedOnCallQuery(since: testNow, until: testNow))
        #expect(Set(onCallNow.map(\.level)) == [1, 2, 3])
    }

    @Test func tinyAndEmptySizesWork() {
        let empty = SimulatedAccount.generate(users: 0, schedules: 0, now: testNow)
        #expect(empty.users.isEmpty && empty.schedules.isEmpty && empty.escalationPolicies.isEmpty)
        let one = SimulatedAccount.generate(users: 1, schedules: 1, now: testNow)
        #expect(one.schedules.first?.layers.first?.userIds == [one.users[0].id])
        #expect(one.escalationPolicies.count == 1)
    }

    @Test func scenarioFilesRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try account.write(to: url)
        #expect(try SimulatedAccount.load(from: url) == account)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("\"rotation_virtual_start\""))
        #expect(text.contains("T") && text.contains("Z\""), "times are ISO 8601 strings")
    }
}

@Suite struct ScenarioTests {
    @Test func handWrittenScenariosMayLeaveOutDefaults() throws {
        let json = """
            {"users": [{"id": "PALICE1", "name": "Alice", "email": "Alice@Example.com"}],
             "schedules": [{"id": "PSCHED1", "name": "Primary", "time_zone": "Europe/Berlin",
               "layers": [{"id": "PLAYER1", "start": "2024-01-01T09:00:00+01:00",
                           "rotation_turn_length_seconds": 86400, "user_ids": ["PALICE1"]}]}],
             "escalation_policies": [{"id": "PPOLCY1", "name": "Platform",
               "rules": [{"id": "PRULE01", "targets": [{"type": "schedule_reference", "id": "PSCHED1"}]}]}]}
            """
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(json.utf8).write(to: url)
        let account = try SimulatedAccount.load(from: url)
        #expect(account.timeZone == "America/New_York")
        #expect(account.users[0].timeZone == "UTC")
        #expect(account.users[0].role == "user")
        let layer = account.schedules[0].layers[0]
        #expect(layer.rotationVirtualStart == layer.start)
        #expect(layer.start == iso("2024-01-01T08:00:00Z"))
        #expect(account.escalationPolicies[0].rules[0].escalationDelayInMinutes == 30)
        let onCalls = account.onCalls(SimulatedOnCallQuery(since: testNow, until: testNow))
        #expect(onCalls.map(\.userId) == ["PALICE1"])
    }

    @Test func aBrokenScenarioIsAnError() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(#"{"users": [{"id": "PALICE1"}]}"#.utf8).write(to: url)
        #expect(throws: DecodingError.self) { try SimulatedAccount.load(from: url) }
    }
}
