import Foundation
import Testing
import TestSupport
@testable import PagerDuty

/// PagerDuty's own example replies must decode with the client's wire types.
@Suite struct ExampleDecodingTests {
    func page<Item: Decodable & Sendable>(_ file: String, key: String, as: Item.Type) throws -> Page<Item> {
        let decoder = JSONDecoder.pagerDuty()
        decoder.userInfo[.pageItemsKey] = key
        return try decoder.decode(Page<Item>.self, from: try pagerDutyExample(file))
    }

    @Test func listUsers() throws {
        let users = try page("list-users.json", key: "users", as: User.self)
        #expect(users.items.map(\.id) == ["PXPGF42", "PAM4FGS"])
        #expect(users.items[0].email == "125.greenholt.earline@graham.name")
        #expect(users.items[1].timeZone == "Asia/Hong_Kong")
        #expect(users.more == false && users.limit == 25 && users.total == nil)
    }

    @Test func getUserAndScheduleUsers() throws {
        let single = try JSONDecoder.pagerDuty().decode([String: User].self, from: try pagerDutyExample("get-user.json"))
        #expect(single["user"]?.name == "Earline Greenholt")
        let scheduleUsers = try JSONDecoder.pagerDuty().decode([String: [User]].self, from: try pagerDutyExample("list-schedule-users.json"))
        #expect(scheduleUsers["users"]?.count == 2)
    }

    @Test func getScheduleWithLayersOverridesAndFinalSchedule() throws {
        let reply = try JSONDecoder.pagerDuty().decode([String: Schedule].self, from: try pagerDutyExample("get-schedule.json"))
        let schedule = try #require(reply["schedule"])
        #expect(schedule.id == "PI7DH85" && schedule.timeZone == "America/New_York")
        let entry = try #require(schedule.finalSchedule?.renderedScheduleEntries?.first)
        #expect(entry.start == PagerDutyDate.parse("2015-11-10T13:00:00Z"))
        #expect(entry.end == PagerDutyDate.parse("2015-11-10T22:00:00Z"))
        #expect(entry.user?.id == "PXPGF42")
        #expect(schedule.scheduleLayers?.first?.renderedScheduleEntries?.count == 1)
        #expect(schedule.overridesSubschedule?.renderedScheduleEntries?.isEmpty == true)
        #expect(schedule.escalationPolicies?.first?.id == "PT20YPA")
    }

    @Test func listSchedulesBothShapes() throws {
        let basic = try page("list-schedules-basic-example.json", key: "schedules", as: Schedule.self)
        #expect(basic.items.first?.users?.first?.id == "PEYSGVF")
        let layered = try page("list-schedules-with-schedule-layers.json", key: "schedules", as: Schedule.self)
        #expect(layered.items.first?.scheduleLayers?.first?.name == "Night Shift")
    }

    @Test func listEscalationPolicies() throws {
        let policies = try page("list-escalation-policies.json", key: "escalation_policies", as: EscalationPolicy.self)
        let rule = try #require(policies.items.first?.escalationRules.first)
        #expect(rule.escalationDelayInMinutes == 30)
        #expect(rule.targets.map(\.type) == ["user_reference", "schedule_reference"])
    }

    @Test func listOnCallsOverridesAndTeams() throws {
        let onCalls = try page("list-oncalls.json", key: "oncalls", as: OnCall.self)
        let entry = try #require(onCalls.items.first)
        #expect(entry.escalationLevel == 2 && entry.schedule?.id == "PI7DH85")
        #expect(entry.start == PagerDutyDate.parse("2015-03-06T20:28:51Z"))
        let overrides = try JSONDecoder.pagerDuty().decode([String: [Override]].self, from: try pagerDutyExample("list-schedule-overrides.json"))
        #expect(overrides["overrides"]?.first?.user.id == "PEYSGVF")
        let teams = try page("list-teams.json", key: "teams", as: Team.self)
        #expect(teams.items.first?.name == "Engineering")
    }
}
