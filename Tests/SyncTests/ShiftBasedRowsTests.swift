import Foundation
import OnCallStore
import PagerDuty
import Testing
import TestSupport
@testable import Sync
import Timestamps

/// `ScheduleRows.add` for shift-based schedules: PagerDuty's final schedule → shifts and overrides,
/// pure, one reply at a time.
@Suite struct ShiftBasedRowsTests {
    static func time(_ text: String) -> Date { RFC3339.parse(text)! }
    static let window = (start: time("2025-03-09T00:00:00Z"), end: time("2025-03-24T00:00:00Z"))

    static func detail(_ json: String) throws -> Wire.ShiftBasedSchedule {
        try JSONDecoder.pagerDuty().decode(Wire.ShiftBasedSchedule.self, from: Data(json.utf8))
    }

    /// A reply with these computed assignments (JSON objects, without their constant `type`).
    static func reply(_ assignments: [String]) throws -> Wire.ShiftBasedSchedule {
        try detail("""
            {"id": "PV3", "type": "schedule_v3", "name": "Payments", "time_zone": "Europe/Berlin",
             "final_schedule": {"type": "final_schedule", "rendered_coverage_percentage": 100,
               "computed_shift_assignments": [\(assignments.joined(separator: ","))]}}
            """)
    }

    static func assignment(_ start: String, _ end: String, user: String?, source: String) -> String {
        let member = user.map { #"{"type": "user_member", "user_id": "\#($0)"}"# } ?? #"{"type": "empty_member"}"#
        return #"{"type": "computed_shift_assignment", "start_time": "\#(start)", "end_time": "\#(end)", "member": \#(member), "source": \#(source)}"#
    }

    static let rotation = #"{"type": "schedule_rotation", "rotation_id": "R1"}"#
    static let override = #"{"type": "schedule_rotation_override", "rotation_id": "R1", "override_id": "O1"}"#
    static let custom = #"{"type": "custom_shift", "shift_id": "C1"}"#

    static func overrideReply(replacing user: String, by other: String, _ start: String, _ end: String) throws -> Wire.ShiftOverride {
        try JSONDecoder.pagerDuty().decode(Wire.ShiftOverride.self, from: Data("""
            {"id": "O1", "type": "override_shift", "rotation_id": "R1", "start_time": "\(start)", "end_time": "\(end)",
             "overridden_member": {"type": "user_member", "user_id": "\(user)"},
             "overriding_member": {"type": "user_member", "user_id": "\(other)"}}
            """.utf8))
    }

    func rows(_ detail: Wire.ShiftBasedSchedule, overrides: [Wire.ShiftOverride] = []) throws -> ScheduleRows {
        var rows = ScheduleRows()
        try rows.add(detail, overrides: overrides, scheduleId: "PV3", window: Self.window)
        return rows
    }

    func spans(_ rows: ScheduleRows) -> Set<String> {
        Set(rows.shifts.map { "\($0.userId) \(RFC3339.format($0.start)) \(RFC3339.format($0.end))" })
    }

    @Test func pagerDutysExampleGivesAShiftPerPersonAndNoneForTheEmptySlot() throws {
        let detail = try JSONDecoder.pagerDuty().decode([String: Wire.ShiftBasedSchedule].self,
                                                        from: try pagerDutyExample("v3/get-v3-schedule-final_schedule-from-schema.json"))["schedule"]
        let result = try rows(try #require(detail))
        #expect(result.kind == .shiftBased && result.name == "Engineering On-Call" && result.timeZone == "America/New_York")
        #expect(spans(result) == [
            "PUSER123 2025-03-10T09:00:00Z 2025-03-15T09:00:00Z",
            "PUSER456 2025-03-15T09:00:00Z 2025-03-15T17:00:00Z",
            "PUSER789 2025-03-15T09:00:00Z 2025-03-15T17:00:00Z",
            "PUSER123 2025-03-15T17:00:00Z 2025-03-17T09:00:00Z",
        ])
        #expect(result.overrides == [Override(scheduleId: "PV3", userId: "PUSER456", start: Self.time("2025-03-15T09:00:00Z"), end: Self.time("2025-03-15T17:00:00Z"))])
        #expect(result.memberIds == ["PUSER123"])
    }

    /// Whether PagerDuty leaves the replaced member out of the final schedule is not documented: both
    /// replies give the same rows once the overrides are read.
    @Test(arguments: [false, true])
    func theReplacedMemberIsOutForTheOverrideEitherWay(listedToo: Bool) throws {
        var assignments = [
            Self.assignment("2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z", user: "PBOB", source: Self.override),
            Self.assignment("2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z", user: "PCAT", source: Self.custom),
        ]
        if listedToo {
            assignments.append(Self.assignment("2025-03-10T09:00:00Z", "2025-03-17T09:00:00Z", user: "PALICE", source: Self.rotation))
        } else {
            assignments.append(Self.assignment("2025-03-10T09:00:00Z", "2025-03-15T09:00:00Z", user: "PALICE", source: Self.rotation))
            assignments.append(Self.assignment("2025-03-15T17:00:00Z", "2025-03-17T09:00:00Z", user: "PALICE", source: Self.rotation))
        }
        let overrides = [try Self.overrideReply(replacing: "PALICE", by: "PBOB", "2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z")]
        let result = try rows(try Self.reply(assignments), overrides: overrides)
        #expect(spans(result) == [
            "PALICE 2025-03-10T09:00:00Z 2025-03-15T09:00:00Z",
            "PALICE 2025-03-15T17:00:00Z 2025-03-17T09:00:00Z",
            "PBOB 2025-03-15T09:00:00Z 2025-03-15T17:00:00Z",
            "PCAT 2025-03-15T09:00:00Z 2025-03-15T17:00:00Z",
        ])
    }

    /// The overrides are read only when an override overlaps an assignment of its own source: the
    /// member it replaced, listed too, or another member of an every-member event.
    @Test func theOverridesAreNeededOnlyWhenAnOverrideOverlapsItsOwnSource() throws {
        func needs(_ assignments: [String]) throws -> Bool {
            ScheduleRows.mayListReplacedMembers(try Self.reply(assignments).finalSchedule?.computedShiftAssignments ?? [])
        }
        let override = Self.assignment("2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z", user: "PBOB", source: Self.override)
        let before = Self.assignment("2025-03-10T09:00:00Z", "2025-03-15T09:00:00Z", user: "PALICE", source: Self.rotation)
        let whole = Self.assignment("2025-03-10T09:00:00Z", "2025-03-17T09:00:00Z", user: "PALICE", source: Self.rotation)
        let otherRotation = Self.assignment("2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z", user: "PCAT",
                                            source: #"{"type": "schedule_rotation", "rotation_id": "R2"}"#)
        #expect(try !needs([before]), "no override")
        #expect(try !needs([before, override]), "the replaced member is left out")
        #expect(try !needs([before, override, otherRotation]), "another rotation is not the override's source")
        #expect(try needs([whole, override]), "the replaced member may be listed too")
        #expect(try !needs([Self.assignment("2025-03-15T09:00:00Z", "2025-03-15T17:00:00Z", user: "PCAT", source: Self.custom), override]))
    }

    /// Whether `overflow=false` cuts entries at the window or leaves them whole is not documented:
    /// the rows are cut at the window either way, and entries wholly outside are dropped.
    @Test func entriesAreCutAtTheWindow() throws {
        let result = try rows(try Self.reply([
            Self.assignment("2025-03-01T00:00:00Z", "2025-03-10T00:00:00Z", user: "PALICE", source: Self.rotation),
            Self.assignment("2025-03-20T00:00:00Z", "2025-04-01T00:00:00Z", user: "PBOB", source: Self.rotation),
            Self.assignment("2025-04-01T00:00:00Z", "2025-04-02T00:00:00Z", user: "PCAT", source: Self.rotation),
        ]))
        #expect(spans(result) == ["PALICE 2025-03-09T00:00:00Z 2025-03-10T00:00:00Z", "PBOB 2025-03-20T00:00:00Z 2025-03-24T00:00:00Z"])
    }

    @Test func twoRotationsNamingOnePersonAtOnceAreOneShift() throws {
        let other = #"{"type": "schedule_rotation", "rotation_id": "R2"}"#
        let result = try rows(try Self.reply([
            Self.assignment("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", user: "PALICE", source: Self.rotation),
            Self.assignment("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", user: "PALICE", source: other),
        ]))
        #expect(result.shifts.count == 1)
    }

    struct BadReply: Sendable, CustomTestStringConvertible {
        var label: String
        var json: String
        var field: String
        var testDescription: String { label }
    }

    static let badReplies: [BadReply] = [
        BadReply(label: "unknown member type", json: assignment("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", user: "PALICE", source: rotation)
            .replacingOccurrences(of: "user_member", with: "group_member"), field: "final_schedule.computed_shift_assignments[0].member.type"),
        BadReply(label: "unknown source type", json: assignment("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", user: "PALICE", source: rotation)
            .replacingOccurrences(of: "schedule_rotation", with: "team_rotation"), field: "final_schedule.computed_shift_assignments[0].source.type"),
        BadReply(label: "user member without a user", json: assignment("2025-03-10T00:00:00Z", "2025-03-11T00:00:00Z", user: "PALICE", source: rotation)
            .replacingOccurrences(of: #", "user_id": "PALICE""#, with: ""), field: "final_schedule.computed_shift_assignments[0].member.user_id"),
    ]

    @Test(arguments: badReplies)
    func anUnknownValueFailsNamingTheScheduleAndTheField(_ bad: BadReply) throws {
        let detail = try Self.reply([bad.json])
        let error = try #require(throws: PagerDutyError.self) { try rows(detail) }
        #expect(error.description.contains("/v3/schedules/PV3"), "\(error)")
        #expect(error.description.contains(bad.field), "\(error)")
    }

    @Test func aReplyWithoutItsFinalScheduleFailsNamingIt() throws {
        let detail = try Self.detail(#"{"id": "PV3", "type": "schedule_v3", "name": "Payments", "time_zone": "UTC"}"#)
        let error = try #require(throws: PagerDutyError.self) { try rows(detail) }
        #expect(error.description.contains("/v3/schedules/PV3") && error.description.contains("final_schedule"))
    }
}
