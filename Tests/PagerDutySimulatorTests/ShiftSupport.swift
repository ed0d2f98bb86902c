import Foundation
import PagerDuty
import PagerDutySimulator
import Testing
import Timestamps

// Helpers for the shift-based (v3) tests.

/// A shift-based schedule `PSHIFT1` in `zone`.
func shiftSchedule(
    zone: String = "UTC", rotations: [SimulatedRotation], customShifts: [SimulatedCustomShift] = [], overrides: [SimulatedOverride] = []
) -> SimulatedSchedule {
    SimulatedSchedule(
        id: "PSHIFT1", name: "Shifts", timeZone: zone, description: "Test", teamIds: ["PTEAM01"], overrides: overrides, kind: .shiftBased,
        rotations: rotations, customShifts: customShifts
    )
}

/// One rotation of one event.
func rotation(
    _ id: String, start: String, shift: Int = 86_400, repeat period: Int? = nil, weekdays: [Int] = [], until: String? = nil,
    assignment: SimulatedRotationEvent.Assignment = .rotating, perMember: Int = 1, members: [String?]
) -> SimulatedRotation {
    SimulatedRotation(id: id, events: [SimulatedRotationEvent(
        id: id + "E", name: "Event of \(id)", start: iso(start), shiftSeconds: shift, repeatSeconds: period, weekdays: weekdays,
        effectiveUntil: until.map(iso), assignment: assignment, shiftsPerMember: perMember, members: members
    )])
}

/// Users PALICE1, PBOB001, PCHAND1, PDANA01, the schedules given, and a policy `PPOLCY1` whose
/// level 1 is each schedule.
func shiftAccount(_ schedules: SimulatedSchedule...) -> SimulatedAccount {
    SimulatedAccount(
        timeZone: "America/New_York",
        users: [
            SimulatedUser(id: "PALICE1", name: "Alice", email: "Alice@Example.com"),
            SimulatedUser(id: "PBOB001", name: "Bob", email: "bob@example.com"),
            SimulatedUser(id: "PCHAND1", name: "Chandra", email: "Chandra@example.com"),
            SimulatedUser(id: "PDANA01", name: "Dana", email: "dana@example.com"),
        ],
        teams: [SimulatedTeam(id: "PTEAM01", name: "Platform")],
        schedules: schedules,
        escalationPolicies: [SimulatedEscalationPolicy(id: "PPOLCY1", name: "Policy", rules: [
            SimulatedEscalationRule(id: "PRULE01", targets: schedules.map { .init(type: .schedule, id: $0.id) }),
        ])]
    )
}

/// "rotation R", "custom C", "override R/O", "custom override C/O".
func sourceText(_ source: SimulatedAssignment.Source) -> String {
    switch source {
    case .rotation(let id): return "rotation \(id)"
    case .customShift(let id): return "custom \(id)"
    case .rotationOverride(let rotationId, let overrideId): return "override \(rotationId)/\(overrideId)"
    case .customShiftOverride(let shiftId, let overrideId): return "custom override \(shiftId)/\(overrideId)"
    }
}

/// "START END USER-or-empty SOURCE" per assignment, times in `zone`.
func described(_ assignments: [SimulatedAssignment], _ zone: String = "UTC") -> [String] {
    let timeZone = TimeZone(identifier: zone)!
    return assignments.map {
        "\(RFC3339.format($0.start, in: timeZone)) \(RFC3339.format($0.end, in: timeZone)) \($0.userId ?? "empty") \(sourceText($0.source))"
    }
}

/// The people on call at `instant` (empty slots left out), from the final schedule of either kind.
func people(_ schedule: SimulatedSchedule, at instant: Date) -> Set<String> {
    Set(schedule.onCallEntries(since: instant, until: instant).map(\.userId))
}

/// "START END MEMBER SOURCE" per `computed_shift_assignments` item of a v3 reply's schedule, MEMBER a
/// user id or "empty", SOURCE as `sourceText` writes it.
func computedAssignments(_ schedule: [String: Any]) -> [String] {
    let final = schedule["final_schedule"] as? [String: Any] ?? [:]
    return (final["computed_shift_assignments"] as? [[String: Any]] ?? []).map { item in
        let member = item["member"] as? [String: Any] ?? [:]
        let source = item["source"] as? [String: Any] ?? [:]
        let who = member["type"] as? String == "empty_member" ? "empty" : member["user_id"] as? String ?? "?"
        let sourceWords: String
        switch source["type"] as? String {
        case "schedule_rotation": sourceWords = "rotation \(source["rotation_id"] as? String ?? "?")"
        case "custom_shift": sourceWords = "custom \(source["shift_id"] as? String ?? "?")"
        case "schedule_rotation_override":
            sourceWords = "override \(source["rotation_id"] as? String ?? "?")/\(source["override_id"] as? String ?? "?")"
        case "custom_shift_override":
            sourceWords = "custom override \(source["shift_id"] as? String ?? "?")/\(source["override_id"] as? String ?? "?")"
        default: sourceWords = "unknown"
        }
        return "\(item["start_time"] as? String ?? "?") \(item["end_time"] as? String ?? "?") \(who) \(sourceWords)"
    }
}

extension Reply {
    /// The reply's `schedule` object.
    var schedule: [String: Any] {
        json["schedule"] as? [String: Any] ?? [:]
    }
}

/// `include[]=final_schedule`, encoded.
let includeFinal = "include%5B%5D=final_schedule"

/// The small shift-based account's H (`testHour`) plus `hours`, as UTC text.
func atHour(_ hours: Double) -> String {
    RFC3339.format(testHour.addingTimeInterval(hours * 3600))
}
