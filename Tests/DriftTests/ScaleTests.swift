import Drift
import Foundation
import OnCallStore
import Testing

/// A large account: 1,000 schedules over 7 days, with a known handful of changes planted.
@Suite struct ScaleTests {
    static let scheduleCount = 1_000
    static let userCount = 300
    static let shiftHours = 16.8 // ten shifts a week, handoffs at varying hours

    static func id(_ prefix: String, _ index: Int) -> String { "\(prefix)\(index)" }

    static func snapshot(id: Int64) -> SnapshotContents {
        let users = (0..<userCount).map { User(id: Self.id("PU", $0), name: "User \($0)", email: "user\($0)@example.com", timeZone: "UTC") }
        let zones = ["America/New_York", "Europe/London", "Asia/Tokyo", "UTC"]
        var schedules: [Schedule] = []
        var members: [ScheduleMember] = []
        var shifts: [Shift] = []
        for index in 0..<scheduleCount {
            let schedule = Schedule(id: Self.id("PS", index), name: "Schedule \(index)", timeZone: zones[index % zones.count])
            schedules.append(schedule)
            let people = (0..<5).map { Self.id("PU", (index * 7 + $0) % userCount) }
            members += people.map { ScheduleMember(scheduleId: schedule.id, userId: $0) }
            // Shifts from the afternoon before the window to past its end, offset per schedule.
            var start = Fixture.at(day: -1, hour: Double(index % 24))
            var turn = 0
            while start < Fixture.at(day: 7) {
                let end = start.addingTimeInterval(shiftHours * 3600)
                shifts.append(Shift(scheduleId: schedule.id, userId: people[turn % people.count], start: start, end: end))
                start = end
                turn += 1
            }
        }
        let policies = (0..<300).map { EscalationPolicy(id: Self.id("PP", $0), name: "Policy \($0)") }
        let targets = policies.enumerated().flatMap { index, policy in
            [
                EscalationTarget(policyId: policy.id, level: 1, ruleId: "R\(index)a", delayMinutes: 30, kind: .schedule, targetId: Self.id("PS", index)),
                EscalationTarget(policyId: policy.id, level: 2, ruleId: "R\(index)b", delayMinutes: 30, kind: .user, targetId: Self.id("PU", index % userCount)),
            ]
        }
        return SnapshotContents(
            info: Fixture.info(id: id), users: users, schedules: schedules, members: members,
            shifts: shifts, policies: policies, targets: targets)
    }

    @Test func aThousandSchedulesDiffToExactlyThePlantedChanges() throws {
        let before = Self.snapshot(id: 1)
        var after = Self.snapshot(id: 2)
        #expect(before.shifts.count >= 10 * Self.scheduleCount)

        func shiftIndex(_ schedule: Int, _ nth: Int) -> Int {
            after.shifts.indices.filter { after.shifts[$0].scheduleId == Self.id("PS", schedule) }[nth]
        }
        let reassigned = stride(from: 7, to: Self.scheduleCount, by: 100).map { $0 }
        for schedule in reassigned { after.shifts[shiftIndex(schedule, 3)].userId = "PU299" }
        let gapped = stride(from: 11, to: Self.scheduleCount, by: 125).map { $0 }
        for schedule in gapped { after.shifts.remove(at: shiftIndex(schedule, 5)) }
        let renamed = stride(from: 13, to: Self.scheduleCount, by: 200).map { $0 }
        for schedule in renamed { after.schedules[schedule].name += " (renamed)" }
        let joined = stride(from: 17, to: Self.scheduleCount, by: 250).map { $0 }
        for schedule in joined { after.members.append(ScheduleMember(scheduleId: Self.id("PS", schedule), userId: "PU298")) }
        let removed = [998, 999]
        after.schedules.removeAll { removed.map { Self.id("PS", $0) }.contains($0.id) }
        let added = (1_000..<1_003).map { Schedule(id: Self.id("PS", $0), name: "New \($0)", timeZone: "UTC") }
        after.schedules += added
        let extraLevel = [5, 105, 205]
        for policy in extraLevel {
            after.targets.append(EscalationTarget(policyId: Self.id("PP", policy), level: 3, ruleId: "R3", delayMinutes: 5, kind: .user, targetId: "PU1"))
        }

        let clock = ContinuousClock()
        var report: DriftReport?
        let elapsed = clock.measure { report = Drift.diff(from: before, to: after) }
        let result = try #require(report)
        print("Drift.diff, \(Self.scheduleCount) schedules × 7 days (\(before.shifts.count) + \(after.shifts.count) shifts): \(elapsed)")
        for format in DriftFormat.allCases {
            var length = 0
            let renderTime = clock.measure { length = Drift.render(result, as: format).utf8.count }
            print("Drift.render(\(format.rawValue)) of \(result.schedules.count) changed schedules: \(renderTime), \(length) bytes")
        }

        let byId = Dictionary(uniqueKeysWithValues: result.schedules.map { ($0.id, $0) })
        let expectedIds = Set((reassigned + gapped + renamed + joined + removed + Array(1_000..<1_003)).map { Self.id("PS", $0) })
        #expect(Set(byId.keys) == expectedIds)
        #expect(result.schedules.count == expectedIds.count)

        for schedule in reassigned {
            let drift = try #require(byId[Self.id("PS", schedule)])
            #expect(drift.onCallChanges.count == 1)
            #expect(drift.onCallChanges.first?.after.map(\.id) == ["PU299"])
            #expect(drift.gapsOpened.isEmpty && drift.rename == nil && drift.membersJoined.isEmpty)
        }
        for schedule in gapped {
            let drift = try #require(byId[Self.id("PS", schedule)])
            #expect(drift.gapsOpened.count == 1)
            #expect(drift.gapsOpened.first.map { $0.end.timeIntervalSince($0.start) } == Self.shiftHours * 3600)
            #expect(drift.onCallChanges.count == 1 && drift.onCallChanges.first?.after == [])
        }
        for schedule in renamed {
            let drift = try #require(byId[Self.id("PS", schedule)])
            #expect(drift.rename?.to == "Schedule \(schedule) (renamed)")
            #expect(drift.onCallChanges.isEmpty)
        }
        for schedule in joined {
            let drift = try #require(byId[Self.id("PS", schedule)])
            #expect(drift.membersJoined.map(\.id) == ["PU298"])
            #expect(drift.onCallChanges.isEmpty && drift.membersLeft.isEmpty)
        }
        #expect(removed.allSatisfy { byId[Self.id("PS", $0)]?.status == .removed })
        #expect(added.allSatisfy { byId[$0.id]?.status == .added })

        #expect(result.escalationPolicies.map(\.id).sorted() == extraLevel.map { Self.id("PP", $0) }.sorted())
        #expect(result.escalationPolicies.allSatisfy { $0.levelsAdded.map(\.level) == [3] && $0.targetsAdded.isEmpty })
    }
}
