import Drift
import Foundation
import OnCallStore
import Testing

/// `Drift.diff`, one kind of change at a time.
@Suite struct DiffTests {
    typealias Report = DriftReport
    let ada = Report.Person(id: "PADA", name: "Ada Lovelace", email: "ada@example.com")
    let bob = Report.Person(id: "PBOB", name: "Bob Baker", email: "bob@example.com")
    let cat = Report.Person(id: "PCAT", name: "Cat Chen", email: "cat@example.com")
    let dan = Report.Person(id: "PDAN", name: "Dan Diaz", email: "dan@example.com")

    private func only(_ report: DriftReport, _ id: String = Fixture.payments.id) throws -> DriftReport.ScheduleDrift {
        #expect(report.schedules.map(\.id) == [id])
        #expect(report.escalationPolicies.isEmpty)
        return try #require(report.schedules.first)
    }

    private func interval(_ startDay: Double, _ startHour: Double, _ endDay: Double, _ endHour: Double) -> DriftReport.Interval {
        DriftReport.Interval(start: Fixture.at(day: startDay, hour: startHour), end: Fixture.at(day: endDay, hour: endHour))
    }

    // MARK: Nothing changed

    @Test func identicalSnapshotsGiveAnEmptyReport() {
        let report = Drift.diff(from: Fixture.base(id: 1), to: Fixture.base(id: 2))
        #expect(report.isEmpty)
        #expect(report.schedules.isEmpty)
        #expect(report.escalationPolicies.isEmpty)
        #expect(report.from.id == 1)
        #expect(report.to.id == 2)
        #expect(report.comparedWindow == interval(0, 0, 7, 0))
    }

    @Test func rowOrderDoesNotMatter() {
        var shuffled = Fixture.base(id: 2)
        shuffled.shifts.reverse()
        shuffled.members.reverse()
        shuffled.schedules.reverse()
        shuffled.targets.reverse()
        #expect(Drift.diff(from: Fixture.base(), to: shuffled).isEmpty)
    }

    @Test func aShiftSplitInTwoIsNoChange() throws {
        var after = Fixture.base(id: 2)
        let index = try #require(after.shifts.firstIndex { $0.scheduleId == Fixture.payments.id && $0.start == Fixture.at(day: 2, hour: 14) })
        let shift = after.shifts[index]
        after.shifts[index].end = Fixture.at(day: 3)
        after.shifts.append(Shift(scheduleId: shift.scheduleId, userId: shift.userId, start: Fixture.at(day: 3), end: shift.end))
        #expect(Drift.diff(from: Fixture.base(), to: after).isEmpty)
    }

    // MARK: Schedules

    @Test func scheduleAdded() throws {
        var after = Fixture.base(id: 2)
        let billing = Schedule(id: "PSBILL", name: "Billing", timeZone: "Asia/Tokyo")
        after.schedules.append(billing)
        after.members.append(ScheduleMember(scheduleId: billing.id, userId: Fixture.ada.id))
        after.shifts += Fixture.rotation(billing)
        let drift = try only(Drift.diff(from: Fixture.base(), to: after), billing.id)
        #expect(drift == DriftReport.ScheduleDrift(id: billing.id, name: "Billing", timeZone: "Asia/Tokyo", status: .added))
    }

    @Test func scheduleRemoved() throws {
        var after = Fixture.base(id: 2)
        after.schedules.removeAll { $0.id == Fixture.search.id }
        after.members.removeAll { $0.scheduleId == Fixture.search.id }
        after.shifts.removeAll { $0.scheduleId == Fixture.search.id }
        let drift = try only(Drift.diff(from: Fixture.base(), to: after), Fixture.search.id)
        #expect(drift == DriftReport.ScheduleDrift(id: Fixture.search.id, name: "Search", timeZone: "Europe/Berlin", status: .removed))
    }

    @Test func renameIsARenameNotAnAddAndARemove() throws {
        var after = Fixture.base(id: 2)
        after.schedules[0].name = "Payments (primary)"
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.status == .changed)
        #expect(drift.name == "Payments (primary)")
        #expect(drift.rename == .init(from: "Payments Primary", to: "Payments (primary)"))
        #expect(drift.timeZoneChange == nil)
        #expect(drift.onCallChanges.isEmpty && drift.membersJoined.isEmpty && drift.membersLeft.isEmpty)
    }

    @Test func timeZoneChanged() throws {
        var after = Fixture.base(id: 2)
        after.schedules[0].timeZone = "Europe/London"
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.timeZoneChange == .init(from: "America/New_York", to: "Europe/London"))
        #expect(drift.timeZone == "Europe/London")
        #expect(drift.rename == nil)
    }

    @Test func membersJoinedAndLeft() throws {
        var after = Fixture.base(id: 2)
        after.members.removeAll { $0.scheduleId == Fixture.payments.id && $0.userId == Fixture.bob.id }
        after.members.append(ScheduleMember(scheduleId: Fixture.payments.id, userId: Fixture.dan.id))
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.membersJoined == [dan])
        #expect(drift.membersLeft == [bob])
        #expect(drift.onCallChanges.isEmpty)
    }

    @Test func unknownUsersAreShownByID() throws {
        var after = Fixture.base(id: 2)
        after.members.append(ScheduleMember(scheduleId: Fixture.payments.id, userId: "PGHOST"))
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.membersJoined == [DriftReport.Person(id: "PGHOST", name: "PGHOST", email: "")])
    }

    // MARK: On call

    @Test func onCallChangeIsOnePeriodWithBeforeAndAfter() throws {
        var after = Fixture.base(id: 2)
        Fixture.reassign(&after, Fixture.payments, day: 1, to: Fixture.dan)
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.onCallChanges == [
            .init(start: Fixture.at(day: 1, hour: 14), end: Fixture.at(day: 2, hour: 14), before: [bob], after: [dan]),
        ])
        #expect(drift.gapsOpened.isEmpty && drift.gapsClosed.isEmpty)
        let timeline = try #require(drift.timeline)
        #expect(timeline.before.count == 8)
        #expect(timeline.after.first?.start == Fixture.at(day: 0))
        #expect(timeline.after.contains { $0.people == [dan] && $0.start == Fixture.at(day: 1, hour: 14) })
    }

    @Test func adjacentPeriodsWithTheSameBeforeAndAfterAreOnePeriod() throws {
        // Before: Bob on day 1 then Bob again (a second row) on day 2; after: Cat over both.
        var before = Fixture.base(id: 1)
        Fixture.reassign(&before, Fixture.payments, day: 2, to: Fixture.bob)
        var after = Fixture.base(id: 2)
        Fixture.reassign(&after, Fixture.payments, day: 1, to: Fixture.cat)
        let drift = try only(Drift.diff(from: before, to: after))
        #expect(drift.onCallChanges == [
            .init(start: Fixture.at(day: 1, hour: 14), end: Fixture.at(day: 3, hour: 14), before: [bob], after: [cat]),
        ])
    }

    @Test func adjacentPeriodsWithDifferentPeopleStaySeparate() throws {
        // Days 1 and 2 were Bob then Cat; now Dan covers both.
        var after = Fixture.base(id: 2)
        Fixture.reassign(&after, Fixture.payments, day: 1, to: Fixture.dan)
        Fixture.reassign(&after, Fixture.payments, day: 2, to: Fixture.dan)
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.onCallChanges == [
            .init(start: Fixture.at(day: 1, hour: 14), end: Fixture.at(day: 2, hour: 14), before: [bob], after: [dan]),
            .init(start: Fixture.at(day: 2, hour: 14), end: Fixture.at(day: 3, hour: 14), before: [cat], after: [dan]),
        ])
    }

    @Test func handoffMovedReportsOnlyTheMovedHours() throws {
        // Ada hands over to Bob at 18:00 instead of 14:00 on day 1.
        var after = Fixture.base(id: 2)
        for index in after.shifts.indices where after.shifts[index].scheduleId == Fixture.payments.id {
            if after.shifts[index].end == Fixture.at(day: 1, hour: 14) { after.shifts[index].end = Fixture.at(day: 1, hour: 18) }
            if after.shifts[index].start == Fixture.at(day: 1, hour: 14) { after.shifts[index].start = Fixture.at(day: 1, hour: 18) }
        }
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.onCallChanges == [.init(start: Fixture.at(day: 1, hour: 14), end: Fixture.at(day: 1, hour: 18), before: [bob], after: [ada])])
    }

    @Test func overlappingShiftsAreComparedAsSets() throws {
        var after = Fixture.base(id: 2)
        after.shifts.append(Shift(scheduleId: Fixture.payments.id, userId: Fixture.dan.id, start: Fixture.at(day: 4), end: Fixture.at(day: 4, hour: 6)))
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        // Day 3's shift (Ada) runs to day 4 14:00; Dan now shares 00:00-06:00 with her.
        #expect(drift.onCallChanges == [.init(start: Fixture.at(day: 4), end: Fixture.at(day: 4, hour: 6), before: [ada], after: [ada, dan])])
    }

    // MARK: Gaps

    @Test func gapOpened() throws {
        var after = Fixture.base(id: 2)
        Fixture.removeShift(&after, Fixture.payments, day: 3)
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.gapsOpened == [interval(3, 14, 4, 14)])
        #expect(drift.gapsClosed.isEmpty)
        #expect(drift.onCallChanges == [.init(start: Fixture.at(day: 3, hour: 14), end: Fixture.at(day: 4, hour: 14), before: [ada], after: [])])
    }

    @Test func gapClosed() throws {
        var before = Fixture.base(id: 1)
        Fixture.removeShift(&before, Fixture.payments, day: 5)
        let drift = try only(Drift.diff(from: before, to: Fixture.base(id: 2)))
        #expect(drift.gapsClosed == [interval(5, 14, 6, 14)])
        #expect(drift.gapsOpened.isEmpty)
        #expect(drift.onCallChanges == [.init(start: Fixture.at(day: 5, hour: 14), end: Fixture.at(day: 6, hour: 14), before: [], after: [cat])])
    }

    @Test func gapSpanningTwoShiftsIsOneGap() throws {
        var after = Fixture.base(id: 2)
        Fixture.removeShift(&after, Fixture.payments, day: 1)
        Fixture.removeShift(&after, Fixture.payments, day: 2)
        let drift = try only(Drift.diff(from: Fixture.base(), to: after))
        #expect(drift.gapsOpened == [interval(1, 14, 3, 14)])
        #expect(drift.onCallChanges.count == 2, "Bob → nobody, then Cat → nobody")
    }

    @Test func gapThatGrewReportsOnlyTheNewPart() throws {
        // Day 1's shift (Bob) and day 2's (Cat) rewritten: before, nobody 10:00-12:00 on day 2; after,
        // nobody 10:00-16:00.
        func withHole(_ id: Int64, _ shifts: [(User, Double, Double)]) -> SnapshotContents {
            var contents = Fixture.base(id: id)
            contents.shifts.removeAll {
                $0.scheduleId == Fixture.payments.id && ($0.start == Fixture.at(day: 1, hour: 14) || $0.start == Fixture.at(day: 2, hour: 14))
            }
            contents.shifts += shifts.map {
                Shift(scheduleId: Fixture.payments.id, userId: $0.0.id, start: Fixture.at(day: 1, hour: $0.1), end: Fixture.at(day: 1, hour: $0.2))
            }
            return contents
        }
        let before = withHole(1, [(Fixture.bob, 14, 34), (Fixture.bob, 36, 38), (Fixture.cat, 38, 62)])
        let after = withHole(2, [(Fixture.bob, 14, 34), (Fixture.cat, 40, 62)])
        let drift = try only(Drift.diff(from: before, to: after))
        #expect(drift.gapsOpened == [interval(2, 12, 2, 16)])
        #expect(drift.gapsClosed.isEmpty)
        #expect(drift.onCallChanges == [
            .init(start: Fixture.at(day: 2, hour: 12), end: Fixture.at(day: 2, hour: 14), before: [bob], after: []),
            .init(start: Fixture.at(day: 2, hour: 14), end: Fixture.at(day: 2, hour: 16), before: [cat], after: []),
        ])
    }

    @Test func scheduleWithNoShiftsInEitherSnapshotHasNoGapChanges() {
        var before = Fixture.base(id: 1)
        var after = Fixture.base(id: 2)
        before.shifts.removeAll { $0.scheduleId == Fixture.search.id }
        after.shifts.removeAll { $0.scheduleId == Fixture.search.id }
        #expect(Drift.diff(from: before, to: after).isEmpty)
    }

    // MARK: Overrides

    @Test func overridesAddedAndRemoved() throws {
        var before = Fixture.base(id: 1)
        var after = Fixture.base(id: 2)
        let kept = Override(scheduleId: Fixture.payments.id, userId: Fixture.cat.id, start: Fixture.at(day: 5), end: Fixture.at(day: 5, hour: 4))
        let dropped = Override(scheduleId: Fixture.payments.id, userId: Fixture.dan.id, start: Fixture.at(day: 2), end: Fixture.at(day: 2, hour: 8))
        let added = Override(scheduleId: Fixture.payments.id, userId: Fixture.ada.id, start: Fixture.at(day: 4), end: Fixture.at(day: 4, hour: 8))
        before.overrides = [kept, dropped]
        after.overrides = [added, kept]
        let drift = try only(Drift.diff(from: before, to: after))
        #expect(drift.overridesAdded == [.init(start: added.start, end: added.end, person: ada)])
        #expect(drift.overridesRemoved == [.init(start: dropped.start, end: dropped.end, person: dan)])
        #expect(drift.onCallChanges.isEmpty, "the rendered shifts did not change in this fixture")
        #expect(drift.timeline == nil)
    }

    // MARK: Windows

    @Test func partlyOverlappingWindowsCompareOnlyTheOverlap() throws {
        // Before covers days 0-7, after days 2-9: the compared window is days 2-7.
        var before = Fixture.base(id: 1, firstDay: 0, days: 7)
        var after = Fixture.base(id: 2, firstDay: 2, days: 7)
        // Outside the overlap: a change only the old snapshot can see, and one only the new can.
        Fixture.reassign(&before, Fixture.payments, day: 0, to: Fixture.dan)
        Fixture.reassign(&after, Fixture.payments, day: 7, to: Fixture.dan)
        after.overrides = [Override(scheduleId: Fixture.payments.id, userId: Fixture.dan.id, start: Fixture.at(day: 8), end: Fixture.at(day: 8, hour: 6))]
        // An override running past the old window's end: cut differently by each sync, yet the same.
        let straddling = Override(scheduleId: Fixture.search.id, userId: Fixture.bob.id, start: Fixture.at(day: 6, hour: 20), end: Fixture.at(day: 7, hour: 8))
        before.overrides = [Override(scheduleId: straddling.scheduleId, userId: straddling.userId, start: straddling.start, end: Fixture.at(day: 7))]
        after.overrides.append(straddling)
        // Inside the overlap: one real change.
        Fixture.reassign(&after, Fixture.payments, day: 4, to: Fixture.dan)

        let report = Drift.diff(from: before, to: after)
        #expect(report.comparedWindow == interval(2, 0, 7, 0))
        let drift = try only(report)
        #expect(drift.onCallChanges == [.init(start: Fixture.at(day: 4, hour: 14), end: Fixture.at(day: 5, hour: 14), before: [bob], after: [dan])])
        #expect(drift.overridesAdded.isEmpty && drift.overridesRemoved.isEmpty)
        #expect(drift.gapsOpened.isEmpty && drift.gapsClosed.isEmpty, "the edges of either window are not gaps")
        let timeline = try #require(drift.timeline)
        #expect(timeline.before.first?.start == Fixture.at(day: 2))
        #expect(timeline.after.last?.end == Fixture.at(day: 7))
    }

    @Test func disjointWindowsCompareOnlyStructure() throws {
        var after = Fixture.base(id: 2, firstDay: 7, days: 7)
        after.schedules[0].name = "Payments"
        Fixture.removeShift(&after, Fixture.payments, day: 9)
        let report = Drift.diff(from: Fixture.base(id: 1), to: after)
        #expect(report.comparedWindow == nil)
        let drift = try only(report)
        #expect(drift.rename == .init(from: "Payments Primary", to: "Payments"))
        #expect(drift.onCallChanges.isEmpty && drift.gapsOpened.isEmpty && drift.timeline == nil)
    }

    // MARK: Escalation policies

    @Test func escalationLevelAdded() throws {
        var after = Fixture.base(id: 2)
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 3, ruleId: "R3", delayMinutes: 10, kind: .schedule, targetId: Fixture.search.id))
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 3, ruleId: "R3", delayMinutes: 10, kind: .user, targetId: Fixture.ada.id))
        let report = Drift.diff(from: Fixture.base(), to: after)
        #expect(report.schedules.isEmpty)
        #expect(report.escalationPolicies == [
            .init(id: "PPWEB", name: "Web Ops", status: .changed, levelsAdded: [
                .init(level: 3, delayMinutes: 10, targets: [
                    .init(level: 3, kind: .schedule, id: "PSSEARCH", name: "Search", email: nil),
                    .init(level: 3, kind: .user, id: "PADA", name: "Ada Lovelace", email: "ada@example.com"),
                ]),
            ]),
        ])
    }

    @Test func escalationLevelRemoved() throws {
        var after = Fixture.base(id: 2)
        after.targets.removeAll { $0.level == 2 }
        let policy = try #require(Drift.diff(from: Fixture.base(), to: after).escalationPolicies.first)
        #expect(policy.levelsRemoved == [.init(level: 2, delayMinutes: 15, targets: [.init(level: 2, kind: .user, id: "PDAN", name: "Dan Diaz", email: "dan@example.com")])])
        #expect(policy.levelsAdded.isEmpty && policy.targetsAdded.isEmpty && policy.targetsRemoved.isEmpty)
    }

    @Test func escalationTargetsAddedAndRemoved() throws {
        var after = Fixture.base(id: 2)
        after.targets.removeAll { $0.level == 2 }
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 2, ruleId: "R2", delayMinutes: 15, kind: .user, targetId: Fixture.bob.id))
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: Fixture.search.id))
        let report = Drift.diff(from: Fixture.base(), to: after)
        let policy = try #require(report.escalationPolicies.first)
        #expect(report.escalationPolicies.count == 1)
        #expect(policy.targetsAdded == [
            .init(level: 1, kind: .schedule, id: "PSSEARCH", name: "Search", email: nil),
            .init(level: 2, kind: .user, id: "PBOB", name: "Bob Baker", email: "bob@example.com"),
        ])
        #expect(policy.targetsRemoved == [.init(level: 2, kind: .user, id: "PDAN", name: "Dan Diaz", email: "dan@example.com")])
        #expect(policy.levelsAdded.isEmpty && policy.levelsRemoved.isEmpty)
    }

    @Test func policiesAddedRemovedAndRenamed() {
        var before = Fixture.base(id: 1)
        let legacy = EscalationPolicy(id: "PPOLD", name: "Legacy")
        before.policies.append(legacy)
        before.targets.append(EscalationTarget(policyId: legacy.id, level: 1, ruleId: "RX", delayMinutes: 5, kind: .user, targetId: Fixture.ada.id))
        var after = Fixture.base(id: 2)
        after.policies[0].name = "Web Operations"
        after.policies.append(EscalationPolicy(id: "PPNEW", name: "Data"))
        let report = Drift.diff(from: before, to: after)
        #expect(report.escalationPolicies == [
            .init(id: "PPNEW", name: "Data", status: .added),
            .init(id: "PPOLD", name: "Legacy", status: .removed),
            .init(id: "PPWEB", name: "Web Operations", status: .changed, rename: .init(from: "Web Ops", to: "Web Operations")),
        ])
    }

    // MARK: Order

    @Test func schedulesAreSortedByName() {
        var after = Fixture.base(id: 2)
        after.schedules.append(Schedule(id: "PZ", name: "alpha", timeZone: "UTC"))
        after.schedules[0].name = "Zulu"
        after.schedules[1].timeZone = "Europe/Paris"
        #expect(Drift.diff(from: Fixture.base(), to: after).schedules.map(\.name) == ["alpha", "Search", "Zulu"])
    }
}
