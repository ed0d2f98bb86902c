import Foundation
import JSON
import PagerDuty

/// Shift-based ("v3") schedules in PagerDuty's wire shapes, key for key as in the examples kept in
/// `Tests/Fixtures/pagerduty/v3` (`Tests/Fixtures/README.md` says where each comes from).
extension WireRenderer {
    /// A `GET /v3/schedules` item: a reference only (no name, zone or description there).
    func v3ScheduleListItem(_ schedule: SimulatedSchedule) -> JSONValue {
        reference(type: "schedule_v3_reference", id: schedule.id, summary: schedule.name, path: "v3/schedules", webPath: "schedules")
    }

    /// `{id, type}`, as the v3 detail writes its teams and escalation policies.
    private static func bareReference(_ id: String, type: String) -> JSONValue {
        .object([("id", .string(id)), ("type", .string(type))])
    }

    /// PagerDuty's `ShiftMember`.
    static func shiftMember(_ userId: String?) -> JSONValue {
        guard let userId else { return .object([("type", "empty_member")]) }
        return .object([("type", "user_member"), ("user_id", .string(userId))])
    }

    /// An event's `ZonedDateTime`: the time with the offset of the event's own zone, and that zone.
    private static func zoned(_ date: Date, zone: TimeZone, name: String) -> JSONValue {
        .object([("date_time", time(date, in: zone)), ("time_zone", .string(name))])
    }

    /// `GET /v3/schedules/{id}`. `final` is the final schedule and its coverage, present only when
    /// the request asked for it with a window.
    func v3ScheduleDetail(
        _ schedule: SimulatedSchedule, final: (assignments: [SimulatedAssignment], coverage: Double)?, zone: TimeZone
    ) -> JSONValue {
        let scheduleZone = ZoneCache.zone(schedule.timeZone)
        var members: [(String, JSONValue)] = [
            ("id", .string(schedule.id)),
            ("type", "schedule_v3"),
            ("name", .string(schedule.name)),
            ("description", .string(schedule.description)),
            ("time_zone", .string(schedule.timeZone)),
            ("teams", .array(schedule.teamIds.map { Self.bareReference($0, type: "team_reference") })),
            ("escalation_policies", .array((index.policyIdsBySchedule[schedule.id] ?? []).map {
                Self.bareReference($0, type: "escalation_policy_reference")
            })),
            ("rotations", .array(schedule.rotations.map { rotation($0, scheduleZone: scheduleZone, zoneName: schedule.timeZone) })),
        ]
        if let final {
            members.append(("final_schedule", .object([
                ("type", "final_schedule"),
                ("rendered_coverage_percentage", .number(final.coverage)),
                ("computed_shift_assignments", .array(final.assignments.map { computedAssignment($0, zone: zone) })),
            ])))
        }
        members += [
            ("http_cal_url", .string("\(Self.webBase)/private/\(schedule.id)/feed")),
            ("web_cal_url", .string("webcal://\(Self.webBase.dropFirst("https://".count))/private/\(schedule.id)/feed")),
            ("self", .string("\(apiBase)/v3/schedules/\(schedule.id)")),
            ("html_url", .string("\(Self.webBase)/schedules/\(schedule.id)")),
        ]
        return .object(members)
    }

    /// A rotation and its events; a rotation upgraded from a layer shows one event describing the
    /// layer's turns (its restrictions have no v3 equivalent and are left out of the description,
    /// not out of the final schedule).
    private func rotation(_ rotation: SimulatedRotation, scheduleZone: TimeZone, zoneName: String) -> JSONValue {
        let events = rotation.upgradedLayer.map { [Self.eventDescribing($0, zone: scheduleZone)] } ?? rotation.events
        return .object([
            ("id", .string(rotation.id)),
            ("type", "schedule_rotation"),
            ("events", .array(events.map { event($0, zone: scheduleZone, zoneName: zoneName) })),
        ])
    }

    private func event(_ event: SimulatedRotationEvent, zone: TimeZone, zoneName: String) -> JSONValue {
        let clock = WallClock(zone: zone)
        let firstEnd = clock.instant(wallSeconds: clock.wallSeconds(event.start) + Double(event.shiftSeconds))
        let strategy: [(String, JSONValue)] = [
            ("type", .string(event.assignment == .rotating ? "rotating_member_assignment_strategy" : "every_member_assignment_strategy")),
            ("shifts_per_member", .int(event.shiftsPerMember)),
            ("members", .array(event.members.map(Self.shiftMember))),
        ]
        return .object([
            ("id", .string(event.id)),
            ("type", "schedule_event"),
            ("name", .string(event.name)),
            ("start_time", Self.zoned(event.start, zone: zone, name: zoneName)),
            ("end_time", Self.zoned(firstEnd, zone: zone, name: zoneName)),
            ("effective_since", Self.time(event.start, in: .gmt)),
            ("effective_until", Self.time(event.effectiveUntil, in: .gmt)),
            ("recurrence", .array([.string(Self.recurrenceRule(event))])),
            ("assignment_strategy", .object(strategy)),
        ])
    }

    /// The event an upgraded layer's rotation is shown with: from the turn running at the layer's
    /// start, one turn long, repeating every turn, members in turn order from that turn's, until the
    /// layer's end.
    static func eventDescribing(_ layer: SimulatedLayer, zone: TimeZone) -> SimulatedRotationEvent {
        let clock = WallClock(zone: zone)
        let turnLength = Double(max(layer.rotationTurnLengthSeconds, 1))
        let virtualStart = clock.wallSeconds(layer.rotationVirtualStart)
        let turn = Int(((clock.wallSeconds(layer.start) - virtualStart) / turnLength).rounded(.down))
        let count = layer.userIds.count
        let first = count == 0 ? 0 : ((turn % count) + count) % count
        let members = count == 0 ? [] : Array(layer.userIds[first...] + layer.userIds[..<first])
        return SimulatedRotationEvent(
            id: layer.id, name: layer.name, start: clock.instant(wallSeconds: virtualStart + Double(turn) * turnLength),
            shiftSeconds: layer.rotationTurnLengthSeconds, effectiveUntil: layer.end, members: members.map { Optional($0) }
        )
    }

    /// RFC 5545's rule for an event's repeat: weekly or daily (with INTERVAL when not 1) when the
    /// repeat is whole weeks or days, else hourly, minutely or secondly; `weekdays` as BYDAY (which
    /// limits a daily or shorter rule; a daily repeat on chosen weekdays is written as PagerDuty's
    /// own example writes it, `FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR`).
    static func recurrenceRule(_ event: SimulatedRotationEvent) -> String {
        let seconds = event.repeatSeconds
        let byDay = event.weekdays.isEmpty
            ? nil
            : Set(event.weekdays).filter { (1...7).contains($0) }.sorted().map { ["MO", "TU", "WE", "TH", "FR", "SA", "SU"][$0 - 1] }.joined(separator: ",")
        var parts: [String]
        func interval(_ count: Int) -> [String] { count == 1 ? [] : ["INTERVAL=\(count)"] }
        switch seconds {
        case ...0:
            return "RRULE:FREQ=DAILY;COUNT=1"
        case _ where seconds % 604_800 == 0:
            parts = ["FREQ=WEEKLY"] + interval(seconds / 604_800)
        case 86_400 where byDay != nil:
            parts = ["FREQ=WEEKLY"]
        case _ where seconds % 86_400 == 0:
            parts = ["FREQ=DAILY"] + interval(seconds / 86_400)
        case _ where seconds % 3600 == 0:
            parts = ["FREQ=HOURLY"] + interval(seconds / 3600)
        case _ where seconds % 60 == 0:
            parts = ["FREQ=MINUTELY"] + interval(seconds / 60)
        default:
            parts = ["FREQ=SECONDLY"] + interval(seconds)
        }
        if let byDay, !byDay.isEmpty { parts.append("BYDAY=\(byDay)") }
        return "RRULE:" + parts.joined(separator: ";")
    }

    private func computedAssignment(_ assignment: SimulatedAssignment, zone: TimeZone) -> JSONValue {
        let source: [(String, JSONValue)]
        switch assignment.source {
        case .rotation(let id):
            source = [("type", "schedule_rotation"), ("rotation_id", .string(id))]
        case .customShift(let id):
            source = [("type", "custom_shift"), ("shift_id", .string(id))]
        case .rotationOverride(let rotationId, let overrideId):
            source = [("type", "schedule_rotation_override"), ("rotation_id", .string(rotationId)), ("override_id", .string(overrideId))]
        case .customShiftOverride(let shiftId, let overrideId):
            source = [("type", "custom_shift_override"), ("shift_id", .string(shiftId)), ("override_id", .string(overrideId))]
        }
        return .object([
            ("type", "computed_shift_assignment"),
            ("start_time", Self.time(assignment.start, in: zone)),
            ("end_time", Self.time(assignment.end, in: zone)),
            ("member", Self.shiftMember(assignment.userId)),
            ("source", .object(source)),
        ])
    }

    /// A `GET /v3/schedules/{id}/overrides` item (`OverrideShift`), shown over [start, end).
    func v3Override(_ override: SimulatedOverride, scheduleId: String, start: Date, end: Date, zone: TimeZone) -> JSONValue {
        var members: [(String, JSONValue)] = [("id", .string(override.id)), ("type", "override_shift")]
        if let rotationId = override.rotationId {
            members.append(("rotation_id", .string(rotationId)))
        } else if let shiftId = override.customShiftId {
            members.append(("custom_shift_id", .string(shiftId)))
        }
        members += [
            ("start_time", Self.time(start, in: zone)),
            ("end_time", Self.time(end, in: zone)),
            ("overridden_member", Self.shiftMember(override.overriddenUserId)),
            ("overriding_member", Self.shiftMember(override.userId)),
            ("self", .string("\(apiBase)/v3/schedules/\(scheduleId)/overrides/\(override.id)")),
            ("html_url", .string("\(Self.webBase)/schedules/\(scheduleId)")),
        ]
        return .object(members)
    }

    /// A `GET /v3/schedules/{id}/custom_shifts` item (`CustomShift`), shown over [start, end). Its one
    /// assignment's id is derived from the shift's, so replies are stable.
    func customShift(_ shift: SimulatedCustomShift, scheduleId: String, start: Date, end: Date, zone: TimeZone) -> JSONValue {
        .object([
            ("id", .string(shift.id)),
            ("type", "custom_shift"),
            ("start_time", Self.time(start, in: zone)),
            ("end_time", Self.time(end, in: zone)),
            ("assignments", .array([.object([
                ("id", .string("\(shift.id)A")),
                ("member", Self.shiftMember(shift.userId)),
                ("type", "shift_assignment"),
            ])])),
            ("self", .string("\(apiBase)/v3/schedules/\(scheduleId)/custom_shifts/\(shift.id)")),
            ("html_url", .string("\(Self.webBase)/schedules/\(scheduleId)")),
        ])
    }
}
