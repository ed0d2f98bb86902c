import Foundation
import PagerDuty
import PagerDutySimulator
import Testing
import Timestamps

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

/// `SimulatedAccount.generate(…, v3Share:)`: shift-based schedules beside layer-based ones.
@Suite struct ShiftBasedGeneratorTests {
    /// FNV-1a of the account as a scenario file (sorted keys), with its length, for accounts made
    /// before shift-based schedules existed (commit 5fa7f90's generator).
    static let digestsBeforeShiftBasedSchedules: [(users: Int, schedules: Int, seed: UInt64, length: Int, digest: UInt64)] = [
        (80, 20, 7, 28031, 0xd920_9dbf_551a_252f),
        (300, 60, 11, 91956, 0x1bf1_e54b_545b_5f83),
        (2000, 1000, 5, 1_099_403, 0x73ed_67f6_29e9_0ab0),
        (50, 10, 1, 15224, 0x0109_7dc3_dff3_a5b0),
        (1, 1, 1, 1217, 0x7a19_1f55_d285_7d35),
        (0, 0, 1, 163, 0x5015_5d38_5b3e_28b0),
    ]

    static func fingerprint(_ account: SimulatedAccount) throws -> (length: Int, digest: UInt64) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .rfc3339
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(account)
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in data { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return (data.count, hash)
    }

    @Test func aShareOfZeroIsByteForByteTheAccountOfBefore() throws {
        for known in Self.digestsBeforeShiftBasedSchedules {
            let account = SimulatedAccount.generate(users: known.users, schedules: known.schedules, seed: known.seed, now: testNow, v3Share: 0)
            let (length, digest) = try Self.fingerprint(account)
            #expect(length == known.length, "\(known.users) users, \(known.schedules) schedules, seed \(known.seed)")
            #expect(digest == known.digest, "\(known.users) users, \(known.schedules) schedules, seed \(known.seed)")
        }
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.7, 1.0])
    func theShareIsSpreadEvenly(share: Double) {
        let account = SimulatedAccount.generate(users: 40, schedules: 20, seed: 3, now: testNow, v3Share: share)
        let kinds = account.schedules.map(\.kind)
        #expect(kinds.filter { $0 == .shiftBased }.count == Int((20 * share).rounded(.down)))
        for (index, kind) in kinds.enumerated() {
            let expected = (Double(index + 1) * share).rounded(.down) > (Double(index) * share).rounded(.down)
            #expect((kind == .shiftBased) == expected, "schedule \(index)")
        }
    }

    @Test func halfShiftBasedHasEveryPatternAndPairsOnCallNow() throws {
        let mixed = SimulatedAccount.generate(users: 80, schedules: 20, seed: 7, now: testNow, v3Share: 0.5)
        let shiftBased = mixed.schedules.filter { $0.kind == .shiftBased }
        #expect(shiftBased.count == 10)
        #expect(shiftBased.allSatisfy { $0.layers.isEmpty && !$0.rotations.isEmpty })
        #expect(mixed.schedules.filter { $0.kind == .layerBased }.allSatisfy { $0.rotations.isEmpty && !$0.layers.isEmpty })

        let events = shiftBased.flatMap { $0.rotations.flatMap(\.events) }
        #expect(shiftBased.contains { !$0.customShifts.isEmpty }, "pattern 0: a custom shift")
        #expect(events.contains { $0.members.contains(nil) }, "pattern 1: an empty slot")
        #expect(events.contains { $0.weekdays == [1, 2, 3, 4, 5] && $0.shiftSeconds == 8 * 3600 }, "pattern 2: business hours")
        #expect(events.contains { $0.assignment == .everyMember }, "pattern 3: an every-member event")
        #expect(shiftBased.contains { $0.overrides.contains { $0.start <= testNow && testNow < $0.end && $0.rotationId != nil } },
                "pattern 3: an override running now")

        let pairsNow = shiftBased.filter { people($0, at: testNow).count >= 2 }
        #expect(pairsNow.count >= 3, "concurrent people now: \(pairsNow.map(\.name))")
        let onCallNow = mixed.onCalls(SimulatedOnCallQuery(since: testNow, until: testNow))
        let perScheduleAndLevel = Dictionary(grouping: onCallNow.filter { $0.scheduleId != nil }) { "\($0.policyId) \($0.level) \($0.scheduleId!)" }
        #expect(perScheduleAndLevel.values.contains { $0.count >= 2 }, "/oncalls lists a pair through one schedule at one level")

        // Layer-based schedules and the policies are those of the account without shift-based ones.
        let plain = SimulatedAccount.generate(users: 80, schedules: 20, seed: 7, now: testNow)
        #expect(mixed.users == plain.users)
        #expect(mixed.teams == plain.teams)
        #expect(mixed.escalationPolicies == plain.escalationPolicies)
        for (index, schedule) in mixed.schedules.enumerated() {
            #expect(schedule.id == plain.schedules[index].id)
            if schedule.kind == .layerBased { #expect(schedule == plain.schedules[index]) }
        }
        let targetKinds = Set(mixed.escalationPolicies.flatMap { $0.rules.flatMap(\.targets) }.compactMap { target in
            mixed.schedules.first { $0.id == target.id }?.kind
        })
        #expect(targetKinds == [.layerBased, .shiftBased], "policies target both kinds")
    }

    @Test func shiftBasedIdsLookLikePagerDutysAndAreUnique() throws {
        let account = SimulatedAccount.generate(users: 80, schedules: 40, seed: 9, now: testNow, v3Share: 1)
        var ids = account.users.map(\.id) + account.teams.map(\.id) + account.schedules.map(\.id)
        ids += account.schedules.flatMap { schedule in
            schedule.rotations.flatMap { [$0.id] + $0.events.map(\.id) } + schedule.customShifts.map(\.id) + schedule.overrides.map(\.id)
        }
        ids += account.escalationPolicies.flatMap { [$0.id] + $0.rules.map(\.id) }
        let pattern = try Regex("^P[0-9A-Z]{6}$")
        #expect(ids.allSatisfy { $0.wholeMatch(of: pattern) != nil })
        #expect(Set(ids).count == ids.count)
        #expect(SimulatedAccount.generate(users: 80, schedules: 40, seed: 9, now: testNow, v3Share: 1) == account, "the same for the same arguments")
    }

    @Test func shiftBasedScenariosRoundTrip() throws {
        let account = SimulatedAccount.generate(users: 30, schedules: 8, seed: 2, now: testNow, v3Share: 0.5)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try account.write(to: url)
        #expect(try SimulatedAccount.load(from: url) == account)
        #expect(try String(contentsOf: url, encoding: .utf8).contains("\"shift_based\""))
    }

    @Test func aSingleUserStillMakesEveryPattern() {
        let account = SimulatedAccount.generate(users: 1, schedules: 4, now: testNow, v3Share: 1)
        #expect(account.schedules.allSatisfy { $0.kind == .shiftBased && !$0.rotations.isEmpty })
        let nobody = SimulatedAccount.generate(users: 0, schedules: 4, now: testNow, v3Share: 1)
        #expect(nobody.schedules.allSatisfy { $0.rotations.isEmpty })
    }
}
