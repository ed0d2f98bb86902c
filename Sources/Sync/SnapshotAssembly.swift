import Foundation
import Logging
import OnCallStore
import PagerDuty

/// Every reply a snapshot is made of, as the fetch step leaves them: the lists as decoded, each
/// schedule's details already turned into rows as they arrived (a large account's decoded details
/// are never all held at once).
struct FetchedReplies: Sendable {
    var users: [Wire.User]
    var listing: ScheduleListing
    /// By schedule id; a schedule gone since the list was read has none.
    var rows: [String: ScheduleRows]
    var policies: [Wire.EscalationPolicy]
    var onCalls: Set<Wire.OnCall>
}

/// Replies → one snapshot's rows. Pure: the same replies give the same snapshot.
enum SnapshotAssembly {
    static func assemble(_ replies: FetchedReplies, info: SnapshotInfo) -> SnapshotContents {
        var schedules: [Schedule] = []
        var members = Set<ScheduleMember>()
        var shifts: [Shift] = []
        var overrides: [Override] = []
        for listed in replies.listing.entries {
            // A schedule deleted since the list was read answered 404 on both APIs and is left out;
            // so is one that only an escalation policy names when the key cannot read it.
            guard let rows = replies.rows[listed.id] else { continue }
            schedules.append(Schedule(id: listed.id, name: rows.name ?? listed.name ?? listed.id,
                                      timeZone: rows.timeZone ?? listed.timeZone ?? "UTC",
                                      description: rows.description ?? listed.description ?? "", kind: rows.kind))
            for userId in listed.memberIds + rows.memberIds {
                members.insert(ScheduleMember(scheduleId: listed.id, userId: userId))
            }
            shifts += rows.shifts
            overrides += rows.overrides
        }
        return SnapshotContents(
            info: info,
            users: replies.users.map(user),
            schedules: schedules,
            members: members.sorted { ($0.scheduleId, $0.userId) < ($1.scheduleId, $1.userId) },
            shifts: shifts,
            overrides: overrides,
            policies: replies.policies.map { EscalationPolicy(id: $0.id, name: $0.name ?? $0.summary ?? $0.id, numLoops: $0.numLoops ?? 0) },
            targets: targets(replies.policies),
            onCalls: replies.onCalls.map {
                OnCall(policyId: $0.escalationPolicy.id, level: $0.escalationLevel, scheduleId: $0.schedule?.id,
                       userId: $0.user.id, start: $0.start, end: $0.end)
            }.sorted { ($0.policyId, $0.level, $0.start ?? .distantPast, $0.userId) < ($1.policyId, $1.level, $1.start ?? .distantPast, $1.userId) }
        )
    }

    static func user(_ user: Wire.User) -> User {
        User(id: user.id, name: user.name, email: user.email, timeZone: user.timeZone ?? "UTC")
    }

    /// Each escalation rule's targets, levels counting from 1; targets of a kind that is neither a
    /// schedule nor a user are left out.
    static func targets(_ policies: [Wire.EscalationPolicy]) -> [EscalationTarget] {
        policies.flatMap { policy in
            policy.escalationRules.enumerated().flatMap { index, rule in
                rule.targets.compactMap { target in
                    targetKind(target.type).map {
                        EscalationTarget(policyId: policy.id, level: index + 1, ruleId: rule.id,
                                         delayMinutes: rule.escalationDelayInMinutes ?? 0, kind: $0, targetId: target.id)
                    }
                }
            }
        }
    }

    static func targetKind(_ type: String?) -> EscalationTarget.Kind? {
        switch type {
        // Shift-based schedules are named `schedule_v3_reference` (whether an upgraded schedule's
        // references change type is not documented: both count as a schedule).
        case "schedule_reference", "schedule", "schedule_v3_reference", "schedule_v3": .schedule
        case "user_reference", "user": .user
        default: nil
        }
    }

    /// Everyone a shift, override, on-call entry, member list or policy names must be a known user,
    /// or the webhook could not match their email: the ids of those the snapshot's users lack.
    static func unlistedUserIds(_ contents: SnapshotContents) -> [String] {
        var referenced = Set(contents.shifts.map(\.userId))
        referenced.formUnion(contents.overrides.map(\.userId))
        referenced.formUnion(contents.onCalls.map(\.userId))
        referenced.formUnion(contents.members.map(\.userId))
        referenced.formUnion(contents.targets.filter { $0.kind == .user }.map(\.targetId))
        return referenced.subtracting(contents.users.map(\.id)).sorted()
    }
}

/// One schedule's detail for one window, as whichever API answered.
enum ScheduleDetail: Sendable {
    case layerBased(Wire.RenderedSchedule)
    case shiftBased(Wire.ShiftBasedSchedule, overrides: [Wire.ShiftOverride])
}

/// The schedules a sync reads: both lists, and schedules that escalation policies name but neither
/// list has (upgraded between the two list reads, say), in that order, each once.
struct ScheduleListing {
    struct Entry: Sendable {
        var id: String
        /// The API to ask first.
        var kind: ScheduleKind
        /// False for a schedule only a policy names.
        var isListed: Bool
        var name: String?
        var timeZone: String?
        var description: String?
        var memberIds: [String] = []
    }

    var entries: [Entry] = []

    init(layerBased: [Wire.Schedule], shiftBased: [Wire.Reference], policies: [Wire.EscalationPolicy]) {
        var seen = Set<String>()
        // Listed by both (upgraded between the two reads): the shift-based API is asked first.
        let shiftBasedIds = Set(shiftBased.map(\.id))
        for schedule in layerBased where seen.insert(schedule.id).inserted {
            entries.append(Entry(id: schedule.id, kind: shiftBasedIds.contains(schedule.id) ? .shiftBased : .layerBased, isListed: true,
                                 name: schedule.name ?? schedule.summary, timeZone: schedule.timeZone, description: schedule.description,
                                 memberIds: (schedule.users ?? []).map(\.id)))
        }
        for reference in shiftBased where seen.insert(reference.id).inserted {
            entries.append(Entry(id: reference.id, kind: .shiftBased, isListed: true, name: reference.summary))
        }
        for target in policies.flatMap({ $0.escalationRules.flatMap(\.targets) }) where SnapshotAssembly.targetKind(target.type) == .schedule {
            guard seen.insert(target.id).inserted else { continue }
            let kind: ScheduleKind = target.type?.hasPrefix("schedule_v3") == true ? .shiftBased : .layerBased
            entries.append(Entry(id: target.id, kind: kind, isListed: false, name: target.summary))
        }
    }
}

extension ScheduleListing {
    /// Only the schedules `scope` names by id or name (all of them for nil); a name or id that
    /// matches nothing is logged, as the allow-list itself then approves nobody through it.
    func scoped(to scope: Set<String>?, logger: Logger) -> ScheduleListing {
        guard let scope else { return self }
        var scoped = self
        scoped.entries = entries.filter { scope.contains($0.id) || $0.name.map(scope.contains) == true }
        let matched = Set(scoped.entries.flatMap { [$0.id] + ($0.name.map { [$0] } ?? []) })
        let unmatched = scope.subtracting(matched)
        if !unmatched.isEmpty {
            logger.warning("AUTO_APPROVAL_PAGERDUTY_SCHEDULES names schedules PagerDuty does not list", metadata: [
                "unmatched": "\(unmatched.sorted().joined(separator: ", "))",
            ])
        }
        return scoped
    }
}

extension ScheduleKind {
    /// How log lines and errors name the API.
    var apiName: String {
        switch self {
        case .layerBased: "GET /schedules/{id}"
        case .shiftBased: "GET /v3/schedules/{id}"
        }
    }
}

/// What one schedule's details (one per window chunk) add to a snapshot.
struct ScheduleRows {
    var kind: ScheduleKind = .layerBased
    var name: String?
    var timeZone: String?
    var description: String?
    var memberIds: [String] = []
    var shifts: [Shift] = []
    var overrides: [Override] = []

    mutating func add(_ detail: Wire.RenderedSchedule, scheduleId: String) {
        kind = .layerBased
        name = name ?? detail.name
        timeZone = timeZone ?? detail.timeZone
        description = description ?? detail.description
        memberIds += (detail.users ?? []).map(\.id)
        for entry in detail.finalSchedule?.renderedScheduleEntries ?? [] {
            guard let user = entry.user, entry.end > entry.start else { continue }
            shifts.append(Shift(scheduleId: scheduleId, userId: user.id, start: entry.start, end: entry.end))
        }
        for entry in detail.overridesSubschedule?.renderedScheduleEntries ?? [] {
            guard let user = entry.user, entry.end > entry.start else { continue }
            overrides.append(Override(scheduleId: scheduleId, userId: user.id, start: entry.start, end: entry.end))
        }
    }

    /// A shift-based schedule's final schedule for `window`: every user assignment becomes a shift
    /// (several may cover the same moment), empty slots none (so drift sees them as gaps), and each
    /// override the final schedule shows becomes an override entry.
    ///
    /// Two behaviours are not documented, and both are handled:
    /// - With `overflow=false` PagerDuty may cut entries at the window's bounds or drop them: the
    ///   detail is asked for with `overflow=true` (entries whole, as documented) and cut here.
    /// - During an override PagerDuty may leave the replaced member out of the final schedule or list
    ///   them too: `overrides` (read when the final schedule may list them, see
    ///   `mayListReplacedMembers`) say whom each one replaced in which rotation or custom shift, and
    ///   that member's assignment from that source is taken out for the override's window. Other
    ///   people on call at the time stay.
    ///
    /// A member or source type this code does not know fails the sync, naming the schedule and the
    /// field: guessing could approve the wrong person.
    mutating func add(_ detail: Wire.ShiftBasedSchedule, overrides shiftOverrides: [Wire.ShiftOverride], scheduleId: String,
                      window: (start: Date, end: Date)) throws {
        let path = "/v3/schedules/\(scheduleId)"
        func invalid(_ detail: String) -> PagerDutyError { .invalidReply(path: path, detail: detail) }
        guard let final = detail.finalSchedule else {
            throw invalid("no final_schedule in the reply, though include[]=final_schedule and a window were asked for")
        }
        kind = .shiftBased
        name = name ?? detail.name
        timeZone = timeZone ?? detail.timeZone
        description = description ?? detail.description
        memberIds += detail.rotationMemberIds + (detail.users ?? []).map(\.id)

        var assignments: [Wire.ComputedShiftAssignment] = []
        for (position, assignment) in final.computedShiftAssignments.enumerated() {
            let field = "final_schedule.computed_shift_assignments[\(position)]"
            try Self.check(assignment.member, field: "\(field).member", invalid: invalid)
            guard Wire.ShiftSource.known.contains(assignment.source.type) else {
                throw invalid("\(field).source.type is \"\(assignment.source.type)\", not one of \(Wire.ShiftSource.known.sorted().joined(separator: ", "))")
            }
            var clipped = assignment
            clipped.startTime = max(assignment.startTime, window.start)
            clipped.endTime = min(assignment.endTime, window.end)
            if clipped.startTime < clipped.endTime { assignments.append(clipped) }
        }
        for (position, override) in shiftOverrides.enumerated() {
            try Self.check(override.overriddenMember, field: "overrides[\(position)].overridden_member", invalid: invalid)
            try Self.check(override.overridingMember, field: "overrides[\(position)].overriding_member", invalid: invalid)
            assignments = Self.removing(override, from: assignments)
        }

        var seen = Set<Shift>()
        var overrideSpans: [String: Override] = [:]
        for assignment in assignments {
            guard let userId = assignment.member.userId, assignment.member.type == Wire.ShiftMember.user else { continue }
            let shift = Shift(scheduleId: scheduleId, userId: userId, start: assignment.startTime, end: assignment.endTime)
            // Two rotations naming the same person at the same time are one shift.
            if seen.insert(shift).inserted { shifts.append(shift) }
            if assignment.source.isOverride {
                let key = "\(assignment.source.overrideId ?? "?")/\(userId)"
                if var span = overrideSpans[key] {
                    span.start = min(span.start, shift.start)
                    span.end = max(span.end, shift.end)
                    overrideSpans[key] = span
                } else {
                    overrideSpans[key] = Override(scheduleId: scheduleId, userId: userId, start: shift.start, end: shift.end)
                }
            }
        }
        overrides += overrideSpans.values.sorted { ($0.start, $0.userId) < ($1.start, $1.userId) }
    }

    private static func check(_ member: Wire.ShiftMember, field: String, invalid: (String) -> PagerDutyError) throws {
        switch member.type {
        case Wire.ShiftMember.user:
            guard let id = member.userId, !id.isEmpty else { throw invalid("\(field).user_id is missing for a user_member") }
        case Wire.ShiftMember.empty:
            break
        default:
            throw invalid("\(field).type is \"\(member.type)\", neither user_member nor empty_member")
        }
    }

    /// True when some override in `assignments` overlaps an assignment of its own rotation or
    /// custom shift: that may be the member it replaced (if PagerDuty lists them too), or another
    /// member of an every-member event; only the schedule's overrides, which name whom each one
    /// replaced, tell. Otherwise nobody the override replaced is listed and the overrides need not
    /// be read (one request saved per schedule).
    static func mayListReplacedMembers(_ assignments: [Wire.ComputedShiftAssignment]) -> Bool {
        let overrides = assignments.filter(\.source.isOverride)
        guard !overrides.isEmpty else { return false }
        return assignments.contains { candidate in
            !candidate.source.isOverride && overrides.contains { override in
                candidate.startTime < override.endTime && override.startTime < candidate.endTime
                    && (override.source.type == Wire.ShiftSource.rotationOverride
                        ? candidate.source.type == Wire.ShiftSource.rotation && candidate.source.rotationId == override.source.rotationId
                        : candidate.source.type == Wire.ShiftSource.customShift && candidate.source.shiftId == override.source.shiftId)
            }
        }
    }

    /// `assignments` without the overridden member's time from the override's own source during the
    /// override (a no-op when PagerDuty already left them out).
    static func removing(_ override: Wire.ShiftOverride, from assignments: [Wire.ComputedShiftAssignment]) -> [Wire.ComputedShiftAssignment] {
        func isReplaced(_ assignment: Wire.ComputedShiftAssignment) -> Bool {
            guard assignment.member == override.overriddenMember else { return false }
            if let rotationId = override.rotationId {
                return assignment.source.type == Wire.ShiftSource.rotation && assignment.source.rotationId == rotationId
            }
            if let shiftId = override.customShiftId {
                return assignment.source.type == Wire.ShiftSource.customShift && assignment.source.shiftId == shiftId
            }
            return false
        }
        var result: [Wire.ComputedShiftAssignment] = []
        for assignment in assignments {
            guard isReplaced(assignment), assignment.startTime < override.endTime, override.startTime < assignment.endTime else {
                result.append(assignment)
                continue
            }
            if assignment.startTime < override.startTime {
                var before = assignment
                before.endTime = override.startTime
                result.append(before)
            }
            if override.endTime < assignment.endTime {
                var after = assignment
                after.startTime = override.endTime
                result.append(after)
            }
        }
        return result
    }
}

