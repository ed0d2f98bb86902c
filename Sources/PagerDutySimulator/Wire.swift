import Foundation
import JSON
import PagerDuty
import Timestamps

/// Renders the account's objects in PagerDuty's wire shapes, key for key as in PagerDuty's published
/// examples (kept for the tests in `Tests/Fixtures/pagerduty`): `type`, `summary`, `self` and `html_url` on objects and
/// references, explicit nulls where PagerDuty writes them.
struct WireRenderer {
    let index: AccountIndex
    /// Where `self` links point: the simulator itself, as the client reached it.
    let apiBase: String
    static let webBase = "https://simulated.pagerduty.com"

    enum UserShape {
        /// `GET /users`: with `created_via_sso`.
        case list
        /// `GET /users/{id}`: with `created_via_sso` and the calendar feed URLs.
        case single
        /// `GET /schedules/{id}/users`: without either.
        case scheduleMember
    }

    static func time(_ date: Date, in zone: TimeZone) -> JSONValue {
        .string(RFC3339.format(date, in: zone))
    }

    static func time(_ date: Date?, in zone: TimeZone) -> JSONValue {
        date.map { time($0, in: zone) } ?? .null
    }

    // MARK: References

    func reference(type: String, id: String, summary: String, path: String, webPath: String? = nil) -> JSONValue {
        .object([
            ("id", .string(id)),
            ("type", .string(type)),
            ("summary", .string(summary)),
            ("self", .string("\(apiBase)/\(path)/\(id)")),
            ("html_url", .string("\(Self.webBase)/\(webPath ?? path)/\(id)")),
        ])
    }

    /// The whole user, as `GET /users` lists them (nil for an id the account does not have).
    func userObject(_ id: String) -> JSONValue? {
        index.usersById[id].map { user($0, shape: .list) }
    }

    func userReference(_ id: String) -> JSONValue {
        reference(type: "user_reference", id: id, summary: index.usersById[id]?.name ?? id, path: "users")
    }

    /// `schedule_reference`, or for a shift-based schedule `schedule_v3_reference` with `self` under
    /// `/v3/schedules` (as `/oncalls` writes it, API-v3.md §8); `html_url` is the same for both.
    func scheduleReference(_ id: String) -> JSONValue {
        let schedule = index.schedulesById[id]
        if schedule?.kind == .shiftBased {
            return reference(type: "schedule_v3_reference", id: id, summary: schedule?.name ?? id, path: "v3/schedules", webPath: "schedules")
        }
        return reference(type: "schedule_reference", id: id, summary: schedule?.name ?? id, path: "schedules")
    }

    func policyReference(_ id: String) -> JSONValue {
        reference(type: "escalation_policy_reference", id: id, summary: index.policiesById[id]?.name ?? id, path: "escalation_policies")
    }

    func teamReference(_ id: String) -> JSONValue {
        reference(type: "team_reference", id: id, summary: index.teamsById[id]?.name ?? id, path: "teams")
    }

    // MARK: Objects

    private static let colors = ["green", "red", "purple", "orange", "teal", "blue", "brown", "cayenne"]

    func user(_ user: SimulatedUser, shape: UserShape) -> JSONValue {
        // Ids of the user's default contact method and notification rule, derived from the user's
        // so that replies are stable.
        let suffix = String(user.id.dropFirst(min(2, user.id.count)))
        let contactMethodId = "PC" + suffix
        let notificationRuleId = "PN" + suffix
        let color = Self.colors[abs(user.id.hashValueStable) % Self.colors.count]
        var members: [(String, JSONValue)] = [
            ("id", .string(user.id)),
            ("type", "user"),
            ("summary", .string(user.name)),
            ("self", .string("\(apiBase)/users/\(user.id)")),
            ("html_url", .string("\(Self.webBase)/users/\(user.id)")),
            ("name", .string(user.name)),
            ("email", .string(user.email)),
            ("time_zone", .string(user.timeZone)),
            ("color", .string(color)),
            ("role", .string(user.role)),
            ("avatar_url", "https://pd-static-assets.pagerduty.com/users/blank-avatar.png"),
            ("description", ""),
            ("invitation_sent", false),
        ]
        if shape != .scheduleMember {
            members.append(("created_via_sso", false))
        }
        members += [
            ("contact_methods", .array([.object([
                ("id", .string(contactMethodId)),
                ("type", "email_contact_method_reference"),
                ("summary", "Default"),
                ("self", .string("\(apiBase)/users/\(user.id)/contact_methods/\(contactMethodId)")),
            ])])),
            ("notification_rules", .array([.object([
                ("id", .string(notificationRuleId)),
                ("type", "assignment_notification_rule_reference"),
                ("summary", "Default"),
                ("self", .string("\(apiBase)/users/\(user.id)/notification_rules/\(notificationRuleId)")),
                ("html_url", .null),
            ])])),
            ("job_title", ""),
            ("teams", .array(user.teamIds.map(teamReference))),
        ]
        if shape == .single {
            members += [
                ("http_cal_url", .string("https://webcal.simulated.pagerduty.com/private/\(user.id)/feed")),
                ("web_cal_url", .string("webcal://webcal.simulated.pagerduty.com/private/\(user.id)/feed")),
            ]
        }
        return .object(members)
    }

    /// The head every schedule reply starts with: `GET /schedules` items and `GET /schedules/{id}`.
    private func scheduleHead(_ schedule: SimulatedSchedule) -> [(String, JSONValue)] {
        [
            ("id", .string(schedule.id)),
            ("type", "schedule"),
            ("summary", .string(schedule.name)),
            ("self", .string("\(apiBase)/schedules/\(schedule.id)")),
            ("html_url", .string("\(Self.webBase)/schedules/\(schedule.id)")),
            ("name", .string(schedule.name)),
            ("time_zone", .string(schedule.timeZone)),
            ("description", .string(schedule.description)),
            ("escalation_policies", .array((index.policyIdsBySchedule[schedule.id] ?? []).map(policyReference))),
            ("users", .array(schedule.memberIds.map(userReference))),
            ("teams", .array(schedule.teamIds.map(teamReference))),
        ]
    }

    /// A `GET /schedules` item; with `include[]=schedule_layers`, its layers (without rendering).
    func scheduleListItem(_ schedule: SimulatedSchedule, includeLayers: Bool) -> JSONValue {
        var members = scheduleHead(schedule)
        if includeLayers {
            let zone = ZoneCache.zone(schedule.timeZone)
            members.append(("schedule_layers", .array(schedule.layers.map { layer in
                .object([("name", .string(layer.name))] + layerSettings(layer, zone: zone) + [("id", .string(layer.id))])
            })))
        }
        return .object(members)
    }

    private func layerSettings(_ layer: SimulatedLayer, zone: TimeZone) -> [(String, JSONValue)] {
        [
            ("start", Self.time(layer.start, in: zone)),
            ("end", Self.time(layer.end, in: zone)),
            ("rotation_virtual_start", Self.time(layer.rotationVirtualStart, in: zone)),
            ("rotation_turn_length_seconds", .int(layer.rotationTurnLengthSeconds)),
            ("users", .array(layer.userIds.map { .object([("user", userReference($0))]) })),
            ("restrictions", .array(layer.restrictions.map(restriction))),
        ]
    }

    private func restriction(_ restriction: SimulatedRestriction) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("type", .string(restriction.type.rawValue)),
            ("start_time_of_day", .string(restriction.startTimeOfDay)),
            ("duration_seconds", .int(restriction.durationSeconds)),
        ]
        if restriction.type == .weekly {
            members.append(("start_day_of_week", restriction.startDayOfWeek.map(JSONValue.int) ?? .null))
        }
        return .object(members)
    }

    func entries(_ entries: [SimulatedEntry], zone: TimeZone) -> JSONValue {
        .array(entries.map { entry in
            .object([
                ("start", Self.time(entry.start, in: zone)),
                ("end", Self.time(entry.end, in: zone)),
                ("user", userReference(entry.userId)),
            ])
        })
    }

    /// `GET /schedules/{id}`, rendered for a window. `nextOnCall` is `next_oncall_for_user`, present
    /// only when the request names `user_id`.
    func scheduleDetail(
        _ schedule: SimulatedSchedule, rendered: SimulatedRendering, zone: TimeZone,
        nextOnCall: (userId: String, entry: SimulatedEntry?)?
    ) -> JSONValue {
        var members = scheduleHead(schedule)
        let layers: [JSONValue] = zip(schedule.layers, rendered.layers).map { layer, layerEntries in
            .object([
                ("name", .string(layer.name)),
                ("rendered_schedule_entries", entries(layerEntries, zone: zone)),
                ("rendered_coverage_percentage", .number(rendered.coveragePercentage(of: layerEntries))),
                ("id", .string(layer.id)),
            ] + layerSettings(layer, zone: zone))
        }
        members.append(("schedule_layers", .array(layers)))
        members.append(("overrides_subschedule", .object([
            ("name", "Overrides"),
            ("rendered_schedule_entries", entries(rendered.overrides, zone: zone)),
            ("rendered_coverage_percentage", .number(rendered.coveragePercentage(of: rendered.overrides))),
        ])))
        members.append(("final_schedule", .object([
            ("name", "Final Schedule"),
            ("rendered_schedule_entries", entries(rendered.final, zone: zone)),
            ("rendered_coverage_percentage", .number(rendered.coveragePercentage(of: rendered.final))),
        ])))
        if let nextOnCall {
            members.append(("next_oncall_for_user", .object([
                ("start", Self.time(nextOnCall.entry?.start, in: zone)),
                ("end", Self.time(nextOnCall.entry?.end, in: zone)),
                ("user", .array(nextOnCall.entry == nil ? [] : [userReference(nextOnCall.userId)])),
            ])))
        }
        return .object(members)
    }

    func override(_ override: SimulatedOverride, start: Date, end: Date, zone: TimeZone) -> JSONValue {
        .object([
            ("id", .string(override.id)),
            ("start", Self.time(start, in: zone)),
            ("end", Self.time(end, in: zone)),
            ("user", userReference(override.userId)),
        ])
    }

    func escalationPolicy(_ policy: SimulatedEscalationPolicy) -> JSONValue {
        .object([
            ("id", .string(policy.id)),
            ("type", "escalation_policy"),
            ("summary", .string(policy.name)),
            ("on_call_handoff_notifications", "if_has_services"),
            ("self", .string("\(apiBase)/escalation_policies/\(policy.id)")),
            ("html_url", .string("\(Self.webBase)/escalation_policies/\(policy.id)")),
            ("name", .string(policy.name)),
            ("escalation_rules", .array(policy.rules.map { rule in
                .object([
                    ("id", .string(rule.id)),
                    ("escalation_delay_in_minutes", .int(rule.escalationDelayInMinutes)),
                    ("targets", .array(rule.targets.map(target))),
                ])
            })),
            ("services", .array([])),
            ("num_loops", .int(policy.numLoops)),
            ("teams", .array(policy.teamIds.map(teamReference))),
        ])
    }

    /// An escalation target, keys in the order PagerDuty writes them there (summary before type). A
    /// shift-based schedule is a `schedule_v3_reference` with `self` under `/v3/schedules`, looked up
    /// when the policy is read, so a schedule upgraded in place changes its targets' type (whether
    /// PagerDuty flips an upgraded schedule's type is UNVERIFIED, API-v3.md §8).
    private func target(_ target: SimulatedEscalationRule.Target) -> JSONValue {
        var type = target.type.rawValue
        var path = target.type == .schedule ? "schedules" : "users"
        let webPath = path
        let summary: String?
        if target.type == .schedule {
            let schedule = index.schedulesById[target.id]
            summary = schedule?.name
            if schedule?.kind == .shiftBased {
                type = "schedule_v3_reference"
                path = "v3/schedules"
            }
        } else {
            summary = index.usersById[target.id]?.name
        }
        return .object([
            ("id", .string(target.id)),
            ("summary", .string(summary ?? target.id)),
            ("type", .string(type)),
            ("self", .string("\(apiBase)/\(path)/\(target.id)")),
            ("html_url", .string("\(Self.webBase)/\(webPath)/\(target.id)")),
        ])
    }

    func team(_ team: SimulatedTeam) -> JSONValue {
        .object([
            ("id", .string(team.id)),
            ("type", "team"),
            ("summary", .string(team.name)),
            ("self", .string("\(apiBase)/teams/\(team.id)")),
            ("html_url", .string("\(Self.webBase)/teams/\(team.id)")),
            ("name", .string(team.name)),
            ("description", .string(team.description)),
        ])
    }

    func onCall(_ onCall: SimulatedOnCall, zone: TimeZone, includeUsers: Bool = false) -> JSONValue {
        .object([
            ("user", includeUsers ? (userObject(onCall.userId) ?? userReference(onCall.userId)) : userReference(onCall.userId)),
            ("schedule", onCall.scheduleId.map(scheduleReference) ?? .null),
            ("escalation_policy", policyReference(onCall.policyId)),
            ("escalation_level", .int(onCall.level)),
            ("start", Self.time(onCall.start, in: zone)),
            ("end", Self.time(onCall.end, in: zone)),
        ])
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: Int {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in utf8 {
            hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
        }
        return Int(truncatingIfNeeded: hash >> 1)
    }
}
