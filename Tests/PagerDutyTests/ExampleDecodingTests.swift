import Foundation
import Testing
import TestSupport
@testable import PagerDuty
import Timestamps

/// PagerDuty's own example replies must decode with the client's wire types.
@Suite struct ExampleDecodingTests {
    func page<Item: Decodable & Sendable>(_ file: String, key: String, as: Item.Type) throws -> Page<Item> {
        let decoder = JSONDecoder.pagerDuty()
        decoder.userInfo[.pageItemsKey] = key
        return try decoder.decode(Page<Item>.self, from: try pagerDutyExample(file))
    }

    @Test func listUsers() throws {
        let users = try page("list-users.json", key: "users", as: Wire.User.self)
        #expect(users.items.map(\.id) == ["PXPGF42", "PAM4FGS"])
        #expect(users.items[0].email == "125.greenholt.earline@graham.name")
        #expect(users.items[1].timeZone == "Asia/Hong_Kong")
        #expect(users.more == false && users.limit == 25 && users.total == nil)
    }

    @Test func getUserAndScheduleUsers() throws {
        let single = try JSONDecoder.pagerDuty().decode([String: Wire.User].self, from: try pagerDutyExample("get-user.json"))
        #expect(single["user"]?.name == "Earline Greenholt")
        let scheduleUsers = try JSONDecoder.pagerDuty().decode([String: [Wire.User]].self, from: try pagerDutyExample("list-schedule-users.json"))
        #expect(scheduleUsers["users"]?.count == 2)
    }

    /// The detail as the sync reads it: the final schedule and the overrides, the layers left undecoded.
    @Test func getScheduleWithOverridesAndFinalSchedule() throws {
        let reply = try JSONDecoder.pagerDuty().decode([String: Wire.RenderedSchedule].self, from: try pagerDutyExample("get-schedule.json"))
        let schedule = try #require(reply["schedule"])
        #expect(schedule.id == "PI7DH85" && schedule.timeZone == "America/New_York")
        let entry = try #require(schedule.finalSchedule?.renderedScheduleEntries?.first)
        #expect(entry.start == RFC3339.parse("2015-11-10T13:00:00Z"))
        #expect(entry.end == RFC3339.parse("2015-11-10T22:00:00Z"))
        #expect(entry.user?.id == "PXPGF42")
        #expect(schedule.overridesSubschedule?.renderedScheduleEntries?.isEmpty == true)
    }

    @Test func listSchedulesBothShapes() throws {
        let basic = try page("list-schedules-basic-example.json", key: "schedules", as: Wire.Schedule.self)
        #expect(basic.items.first?.users?.first?.id == "PEYSGVF")
        let layered = try page("list-schedules-with-schedule-layers.json", key: "schedules", as: Wire.Schedule.self)
        #expect(layered.items.first?.id == "PI7DH85" && layered.items.first?.name == "Daily Engineering Rotation")
    }

    @Test func listEscalationPolicies() throws {
        let policies = try page("list-escalation-policies.json", key: "escalation_policies", as: Wire.EscalationPolicy.self)
        let rule = try #require(policies.items.first?.escalationRules.first)
        #expect(rule.escalationDelayInMinutes == 30)
        #expect(rule.targets.map(\.type) == ["user_reference", "schedule_reference"])
    }

    @Test func listOnCallsOverridesAndTeams() throws {
        let onCalls = try page("list-oncalls.json", key: "oncalls", as: Wire.OnCall.self)
        let entry = try #require(onCalls.items.first)
        #expect(entry.escalationLevel == 2 && entry.schedule?.id == "PI7DH85")
        #expect(entry.start == RFC3339.parse("2015-03-06T20:28:51Z"))
        let overrides = try JSONDecoder.pagerDuty().decode([String: [Wire.Override]].self, from: try pagerDutyExample("list-schedule-overrides.json"))
        #expect(overrides["overrides"]?.first?.user.id == "PEYSGVF")
        let teams = try page("list-teams.json", key: "teams", as: Wire.Team.self)
        #expect(teams.items.first?.name == "Engineering")
    }
}

/// PagerDuty's shift-based (v3) example replies (`Tests/Fixtures/pagerduty/v3`) decode with the
/// client's wire types.
@Suite struct ShiftBasedExampleDecodingTests {
    func page<Item: Decodable & Sendable>(_ file: String, key: String, as: Item.Type) throws -> Page<Item> {
        let decoder = JSONDecoder.pagerDuty()
        decoder.userInfo[.pageItemsKey] = key
        return try decoder.decode(Page<Item>.self, from: try pagerDutyExample("v3/\(file)"))
    }

    func schedule(_ file: String) throws -> Wire.ShiftBasedSchedule {
        try #require(try JSONDecoder.pagerDuty().decode([String: Wire.ShiftBasedSchedule].self, from: try pagerDutyExample("v3/\(file)"))["schedule"])
    }

    @Test func theListIsReferencesWithoutATotal() throws {
        let list = try page("list-v3-schedules.json", key: "schedules", as: Wire.Reference.self)
        #expect(list.items == [Wire.Reference(id: "PS1A2B3C", type: "schedule_v3_reference", summary: "Engineering On-Call")])
        #expect(list.total == nil && list.limit == 100 && list.more == false)
    }

    @Test func theFinalScheduleHoldsConcurrentAssignmentsAndEmptySlots() throws {
        let detail = try schedule("get-v3-schedule-final_schedule-from-schema.json")
        #expect(detail.type == "schedule_v3" && detail.name == "Engineering On-Call" && detail.timeZone == "America/New_York")
        let assignments = try #require(detail.finalSchedule?.computedShiftAssignments)
        #expect(assignments.count == 5)
        // Two people from 09:00 to 17:00 on the 15th: an override of the rotation and a custom shift.
        let concurrent = assignments.filter { $0.startTime == RFC3339.parse("2025-03-15T09:00:00Z") }
        #expect(Set(concurrent.compactMap(\.member.userId)) == ["PUSER456", "PUSER789"])
        #expect(concurrent.map(\.source.type).sorted() == ["custom_shift", "schedule_rotation_override"])
        #expect(concurrent.first { $0.source.isOverride }?.source.overrideId == "ABCDE12345FGHIJ67890KLMNO")
        #expect(assignments.last?.member == Wire.ShiftMember(type: "empty_member", userId: nil))
        #expect(detail.rotationMemberIds == ["PUSER123"])
    }

    @Test func theUpgradeGuidesExampleAndTheMinimalOneDecode() throws {
        let guide = try schedule("get-v3-schedule-final_schedule-from-upgrade-guide.json")
        let only = try #require(guide.finalSchedule?.computedShiftAssignments.first)
        #expect(only.startTime == RFC3339.parse("2026-04-29T16:00:00Z") && only.member.userId == "PUSER01")
        let minimal = try schedule("get-v3-schedule.json")
        #expect(minimal.finalSchedule == nil && minimal.name == "Engineering On-Call")
    }

    @Test func overridesNameTheReplacedAndTheReplacingMember() throws {
        let overrides = try page("list-v3-overrides-from-schema.json", key: "overrides", as: Wire.ShiftOverride.self)
        let override = try #require(overrides.items.first)
        #expect(override.rotationId == "ABCDEFGHIJKLMNOPQRSTUVWXY2" && override.customShiftId == nil)
        #expect(override.overriddenMember.userId == "PUSER123" && override.overridingMember.userId == "PUSER456")
        #expect(try page("list-v3-overrides.json", key: "overrides", as: Wire.ShiftOverride.self).items.isEmpty)
    }

    @Test func onCallEntriesAndEscalationTargetsReferenceShiftBasedSchedules() throws {
        let onCalls = try page("list-oncalls-v3-schedule-from-schema.json", key: "oncalls", as: Wire.OnCall.self)
        #expect(onCalls.items.first?.schedule?.id == "PL5FQHC")
        let legacy = try page("list-oncalls-openapi-example-legacy-schedule.json", key: "oncalls", as: Wire.OnCall.self)
        #expect(legacy.items.first?.schedule?.id == "PI7DH85")
        let policy = try #require(try JSONDecoder.pagerDuty().decode([String: Wire.EscalationPolicy].self,
                                                                    from: try pagerDutyExample("v3/get-escalation-policy-v3-target-from-schema.json"))["escalation_policy"])
        #expect(policy.escalationRules.first?.targets.map(\.type) == ["schedule_v3_reference", "schedule_reference"])
    }

    @Test func aV3ErrorMapsFieldsToMessages() throws {
        let body = try JSONDecoder().decode(Wire.ErrorBody.self, from: try pagerDutyExample("v3/error-400-v3.json"))
        #expect(body.error.message == "Invalid Request" && body.error.code == 2001)
        #expect(body.error.errors == ["event.effective_since: Date cannot be more than 12 months in the future"])
        let error = PagerDutyClient.error(status: 400, body: try pagerDutyExample("v3/error-400-v3.json"), path: "/v3/schedules/P1", attempts: 1)
        #expect(error == .rejected(path: "/v3/schedules/P1", status: 400, message: "Invalid Request: event.effective_since: Date cannot be more than 12 months in the future"))
    }
}
