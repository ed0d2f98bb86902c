import Foundation
import OnCallStore
import PagerDuty
import Testing
import Timestamps
@testable import Sync

/// `SnapshotAssembly`: the fetched replies → one snapshot's rows, pure.
@Suite struct SnapshotAssemblyTests {
    static func decode<T: Decodable>(_ json: String, as: T.Type = T.self) -> T {
        try! JSONDecoder.pagerDuty().decode(T.self, from: Data(json.utf8))
    }

    static let users: [Wire.User] = decode("""
        [{"id": "PA", "name": "Ann", "email": "Ann@Example.com", "time_zone": "Europe/Paris"},
         {"id": "PB", "name": "Bo", "email": "bo@example.com"}]
        """)
    static let layerBased: [Wire.Schedule] = decode("""
        [{"id": "PS1", "name": "Listed name", "summary": "Listed name", "time_zone": "Asia/Kolkata", "description": "from the list",
          "users": [{"id": "PA"}]},
         {"id": "PGONE", "name": "Deleted meanwhile", "users": []}]
        """)
    static let shiftBased: [Wire.Reference] = decode(#"[{"id": "PV3", "type": "schedule_v3_reference", "summary": "Summary only"}]"#)
    static let policies: [Wire.EscalationPolicy] = decode("""
        [{"id": "PP", "name": null, "summary": "Policy summary", "escalation_rules": [
          {"id": "R1", "escalation_delay_in_minutes": 15, "targets": [{"id": "PS1", "type": "schedule_reference"}, {"id": "PV3", "type": "schedule_v3_reference"}]},
          {"id": "R2", "targets": [{"id": "PC", "type": "user_reference"}, {"id": "PX", "type": "service_reference"}]}]}]
        """)
    static let onCalls: Set<Wire.OnCall> = Set(decode("""
        [{"user": {"id": "PB"}, "schedule": {"id": "PV3"}, "escalation_policy": {"id": "PP"}, "escalation_level": 1,
          "start": "2026-11-25T10:00:00Z", "end": "2026-11-25T18:00:00Z"},
         {"user": {"id": "PC"}, "schedule": null, "escalation_policy": {"id": "PP"}, "escalation_level": 2, "start": null, "end": null},
         {"user": {"id": "PA"}, "schedule": {"id": "PS1"}, "escalation_policy": {"id": "PP"}, "escalation_level": 1,
          "start": "2026-11-25T08:00:00Z", "end": "2026-11-25T10:00:00Z"}]
        """, as: [Wire.OnCall].self))

    static func replies() -> FetchedReplies {
        var layerRows = ScheduleRows()
        layerRows.memberIds = ["PB"]
        layerRows.shifts = [Shift(scheduleId: "PS1", userId: "PA", start: RFC3339.parse("2026-11-25T08:00:00Z")!, end: RFC3339.parse("2026-11-25T10:00:00Z")!)]
        var shiftRows = ScheduleRows()
        shiftRows.kind = .shiftBased
        shiftRows.name = "Detail name"
        shiftRows.timeZone = "America/New_York"
        shiftRows.memberIds = ["PB", "PD"]
        return FetchedReplies(
            users: users, listing: ScheduleListing(layerBased: layerBased, shiftBased: shiftBased, policies: policies),
            rows: ["PS1": layerRows, "PV3": shiftRows], policies: policies, onCalls: onCalls)
    }

    static let info = SnapshotInfo(startedAt: Date(unixSeconds: 0), finishedAt: Date(unixSeconds: 0), windowStart: Date(unixSeconds: 0), windowEnd: Date(unixSeconds: 86_400))

    @Test func schedulesTakeTheDetailsNameThenTheListsAndLeaveOutWhatIsGone() {
        let contents = SnapshotAssembly.assemble(Self.replies(), info: Self.info)
        #expect(contents.schedules == [
            Schedule(id: "PS1", name: "Listed name", timeZone: "Asia/Kolkata", description: "from the list", kind: .layerBased),
            Schedule(id: "PV3", name: "Detail name", timeZone: "America/New_York", description: "", kind: .shiftBased),
        ])
        #expect(contents.members.map { "\($0.scheduleId)/\($0.userId)" } == ["PS1/PA", "PS1/PB", "PV3/PB", "PV3/PD"])
        #expect(contents.shifts.map(\.userId) == ["PA"])
    }

    @Test func targetsCountLevelsFromOneAndBothScheduleKindsAsSchedules() {
        let contents = SnapshotAssembly.assemble(Self.replies(), info: Self.info)
        #expect(contents.targets == [
            EscalationTarget(policyId: "PP", level: 1, ruleId: "R1", delayMinutes: 15, kind: .schedule, targetId: "PS1"),
            EscalationTarget(policyId: "PP", level: 1, ruleId: "R1", delayMinutes: 15, kind: .schedule, targetId: "PV3"),
            EscalationTarget(policyId: "PP", level: 2, ruleId: "R2", delayMinutes: 0, kind: .user, targetId: "PC"),
        ])
        #expect(contents.policies == [EscalationPolicy(id: "PP", name: "Policy summary", numLoops: 0)])
    }

    @Test func usersOnCallEntriesAndWhoIsMissing() {
        let contents = SnapshotAssembly.assemble(Self.replies(), info: Self.info)
        #expect(contents.users == [User(id: "PA", name: "Ann", email: "Ann@Example.com", timeZone: "Europe/Paris"),
                                   User(id: "PB", name: "Bo", email: "bo@example.com", timeZone: "UTC")])
        // By policy, level, start (a permanent entry first), user.
        #expect(contents.onCalls.map { "\($0.level) \($0.userId) \($0.scheduleId ?? "-")" } == ["1 PA PS1", "1 PB PV3", "2 PC -"])
        // PC is a target and on call, PD a member: neither list had them.
        #expect(SnapshotAssembly.unlistedUserIds(contents) == ["PC", "PD"])
    }

    @Test(arguments: [
        ("schedule_reference", EscalationTarget.Kind?.some(.schedule)), ("schedule_v3_reference", .schedule), ("schedule", .schedule),
        ("user_reference", .user), ("user", .user), ("service_reference", nil), (nil, nil),
    ])
    func targetKinds(_ type: String?, _ kind: EscalationTarget.Kind?) {
        #expect(SnapshotAssembly.targetKind(type) == kind)
    }
}
