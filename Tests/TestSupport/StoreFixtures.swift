import Foundation
import OnCallStore

// Snapshots that the store tests of both engines, and the contract suite run against both, write
// and read back.

/// A small snapshot: `users` people, one schedule with one shift, one policy with a permanent
/// on-call entry. Times are whole seconds, as the stores keep them.
public func sampleSnapshot(at now: Date, users: Int = 3) -> SnapshotContents {
    let info = SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400), windowEnd: now.addingTimeInterval(7 * 86_400))
    let people = (0..<users).map { User(id: "PU\($0)", name: "User \($0)", email: "User\($0)@Example.com", timeZone: "UTC") }
    return SnapshotContents(
        info: info, users: people,
        schedules: [Schedule(id: "PS1", name: "Primary", timeZone: "Europe/Berlin")],
        members: [ScheduleMember(scheduleId: "PS1", userId: "PU0")],
        shifts: [Shift(scheduleId: "PS1", userId: "PU0", start: Date(unixSeconds: now.unixSeconds - 3600), end: Date(unixSeconds: now.unixSeconds + 3600))],
        overrides: [], policies: [EscalationPolicy(id: "PE1", name: "Ops")],
        targets: [EscalationTarget(policyId: "PE1", level: 1, ruleId: "PR1", delayMinutes: 30, kind: .schedule, targetId: "PS1")],
        onCalls: [OnCall(policyId: "PE1", level: 1, scheduleId: nil, userId: "PU1", start: nil, end: nil)])
}

/// A snapshot with a row of every kind, non-default values and every nullable column both set and NULL,
/// listed in the order the stores read them back. Times are whole seconds, as the stores keep them.
public func everyKindOfRow(at now: Date) -> SnapshotContents {
    let start = Date(unixSeconds: now.unixSeconds - 3600)
    let end = Date(unixSeconds: now.unixSeconds + 3600)
    let info = SnapshotInfo(startedAt: now.addingTimeInterval(-90), finishedAt: now, windowStart: now.addingTimeInterval(-86_400),
                            windowEnd: now.addingTimeInterval(7 * 86_400), apiRequests: 42, rateLimited: 3)
    return SnapshotContents(
        info: info,
        users: [User(id: "PU1", name: "Ada", email: "Ada@Example.com", timeZone: "Europe/London"),
                User(id: "PU2", name: "Grace", email: "grace@example.com", timeZone: "America/New_York")],
        schedules: [Schedule(id: "PS1", name: "Primary", timeZone: "Europe/Berlin", description: "Weekly", kind: .layerBased),
                    Schedule(id: "PS2", name: "Secondary", timeZone: "UTC", kind: .shiftBased)],
        members: [ScheduleMember(scheduleId: "PS1", userId: "PU1"), ScheduleMember(scheduleId: "PS2", userId: "PU1"),
                  ScheduleMember(scheduleId: "PS2", userId: "PU2")],
        shifts: [Shift(scheduleId: "PS1", userId: "PU1", start: start, end: end),
                 Shift(scheduleId: "PS2", userId: "PU1", start: start, end: end),
                 Shift(scheduleId: "PS2", userId: "PU2", start: now, end: end)],
        overrides: [Override(scheduleId: "PS1", userId: "PU2", start: now, end: end)],
        policies: [EscalationPolicy(id: "PE1", name: "Ops"), EscalationPolicy(id: "PE2", name: "Database", numLoops: 2)],
        targets: [EscalationTarget(policyId: "PE1", level: 1, ruleId: "PR1", delayMinutes: 30, kind: .schedule, targetId: "PS1"),
                  EscalationTarget(policyId: "PE1", level: 2, ruleId: "PR2", delayMinutes: 15, kind: .user, targetId: "PU2")],
        onCalls: [OnCall(policyId: "PE1", level: 1, scheduleId: "PS1", userId: "PU1", start: start, end: end),
                  OnCall(policyId: "PE1", level: 2, scheduleId: nil, userId: "PU2", start: nil, end: nil)])
}
