import Foundation
import PagerDuty
import PagerDutySimulator
import Testing

/// `SimulatedSchedule.renderShifts`: the final schedule of shift-based schedules.
@Suite struct ShiftRenderingTests {
    let day10 = iso("2024-01-10T00:00:00Z")
    let day11 = iso("2024-01-11T00:00:00Z")

    @Test func rotationsAndCustomShiftsAreOnCallAtOnce() {
        let schedule = shiftSchedule(
            rotations: [
                rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1", "PBOB001"]),
                rotation("R2", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, members: ["PCHAND1"]),
            ],
            customShifts: [SimulatedCustomShift(id: "C1", start: iso("2024-01-10T12:00:00Z"), end: iso("2024-01-10T14:00:00Z"), userId: "PDANA01")]
        )
        let assignments = schedule.renderShifts(since: day10, until: day11)
        #expect(described(assignments) == [
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z PBOB001 rotation R1",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PCHAND1 rotation R2",
            "2024-01-10T12:00:00Z 2024-01-10T14:00:00Z PDANA01 custom C1",
        ])
        #expect(people(schedule, at: iso("2024-01-10T13:00:00Z")) == ["PBOB001", "PCHAND1", "PDANA01"], "the custom shift adds Dana")
        #expect(people(schedule, at: iso("2024-01-10T18:00:00Z")) == ["PBOB001"])
        #expect(SimulatedSchedule.coveragePercentage(of: assignments, since: day10, until: day11) == 100)
    }

    @Test func everyMemberEventsPutAllTheirMembersOnAtOnce() {
        let schedule = shiftSchedule(rotations: [
            rotation("R1", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, assignment: .everyMember, members: ["PBOB001", "PALICE1"]),
        ])
        #expect(described(schedule.renderShifts(since: day10, until: day11)) == [
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation R1",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PBOB001 rotation R1",
        ])
        #expect(schedule.onCallEntries(since: day10, until: day11).map(\.userId) == ["PALICE1", "PBOB001"], "one entry per person")
    }

    @Test func emptySlotsAreExplicitAndPutNobodyOnCall() {
        let schedule = shiftSchedule(rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1", nil])])
        let since = iso("2024-01-09T00:00:00Z")
        let assignments = schedule.renderShifts(since: since, until: day11)
        #expect(described(assignments) == [
            "2024-01-09T00:00:00Z 2024-01-10T00:00:00Z PALICE1 rotation R1",
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z empty rotation R1",
        ])
        #expect(SimulatedSchedule.coveragePercentage(of: assignments, since: since, until: day11) == 50, "an empty slot covers nothing")
        #expect(people(schedule, at: iso("2024-01-10T12:00:00Z")).isEmpty)
        #expect(schedule.onCallEntries(since: since, until: day11).map(\.userId) == ["PALICE1"])
    }

    @Test func weekdayShiftsSkipTheWeekendAndRotateOverTheShiftsThatHappen() {
        // 2024-01-01 is a Monday: Mon…Fri are shifts 0…4, the next Monday shift 5.
        let schedule = shiftSchedule(rotations: [
            rotation("R1", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, weekdays: [1, 2, 3, 4, 5], members: ["PALICE1", "PBOB001"]),
        ])
        #expect(described(schedule.renderShifts(since: iso("2024-01-05T00:00:00Z"), until: iso("2024-01-09T00:00:00Z"))) == [
            "2024-01-05T09:00:00Z 2024-01-05T17:00:00Z PALICE1 rotation R1",
            "2024-01-08T09:00:00Z 2024-01-08T17:00:00Z PBOB001 rotation R1",
        ])
        // 53 weeks later: 265 weekday shifts have happened, so the odd member has Monday.
        #expect(described(schedule.renderShifts(since: iso("2025-01-06T00:00:00Z"), until: iso("2025-01-07T00:00:00Z"))) == [
            "2025-01-06T09:00:00Z 2025-01-06T17:00:00Z PBOB001 rotation R1",
        ])

        let twoEach = shiftSchedule(rotations: [
            rotation("R1", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, weekdays: [1, 2, 3, 4, 5], perMember: 2, members: ["PALICE1", "PBOB001"]),
        ])
        #expect(twoEach.renderShifts(since: iso("2024-01-01T00:00:00Z"), until: iso("2024-01-09T00:00:00Z")).map { $0.userId ?? "" } == [
            "PALICE1", "PALICE1", "PBOB001", "PBOB001", "PALICE1", "PALICE1",
        ])
    }

    @Test func handoffsKeepLocalTimeAcrossDaylightSaving() {
        // New York moves to -04:00 on Sunday 2024-03-10.
        let schedule = shiftSchedule(zone: "America/New_York", rotations: [
            rotation("R1", start: "2024-03-01T14:00:00Z", members: ["PALICE1", "PBOB001"]),
            rotation("R2", start: "2024-03-01T14:00:00Z", shift: 8 * 3600, repeat: 86_400, members: ["PCHAND1"]),
        ])
        #expect(described(schedule.renderShifts(since: iso("2024-03-09T14:00:00Z"), until: iso("2024-03-11T13:00:00Z")), "America/New_York") == [
            "2024-03-09T09:00:00-05:00 2024-03-10T09:00:00-04:00 PALICE1 rotation R1",
            "2024-03-09T09:00:00-05:00 2024-03-09T17:00:00-05:00 PCHAND1 rotation R2",
            "2024-03-10T09:00:00-04:00 2024-03-11T09:00:00-04:00 PBOB001 rotation R1",
            "2024-03-10T09:00:00-04:00 2024-03-10T17:00:00-04:00 PCHAND1 rotation R2",
        ])
    }

    @Test func shiftsStopAtEffectiveUntil() {
        let schedule = shiftSchedule(rotations: [
            rotation("R1", start: "2024-01-01T00:00:00Z", until: "2024-01-10T12:00:00Z", members: ["PALICE1", "PBOB001"]),
        ])
        #expect(described(schedule.renderShifts(since: iso("2024-01-09T00:00:00Z"), until: iso("2024-01-12T00:00:00Z"))) == [
            "2024-01-09T00:00:00Z 2024-01-10T00:00:00Z PALICE1 rotation R1",
            "2024-01-10T00:00:00Z 2024-01-10T12:00:00Z PBOB001 rotation R1",
        ])
    }

    @Test func overridesReplaceOnlyTheirOwnSourcesMember() {
        let schedule = shiftSchedule(
            rotations: [
                rotation("R1", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, assignment: .everyMember, members: ["PALICE1", "PBOB001"]),
                rotation("R2", start: "2024-01-01T00:00:00Z", members: ["PCHAND1"]),
            ],
            customShifts: [SimulatedCustomShift(id: "C1", start: iso("2024-01-10T13:00:00Z"), end: iso("2024-01-10T15:00:00Z"), userId: "PALICE1")],
            overrides: [
                SimulatedOverride(id: "O1", start: iso("2024-01-10T10:00:00Z"), end: iso("2024-01-10T12:00:00Z"), userId: "PDANA01",
                                  rotationId: "R1", overriddenUserId: "PBOB001"),
                // Alice is not R2's member: nothing to replace there.
                SimulatedOverride(id: "O2", start: iso("2024-01-10T00:00:00Z"), end: iso("2024-01-11T00:00:00Z"), userId: "PDANA01",
                                  rotationId: "R2", overriddenUserId: "PALICE1"),
                SimulatedOverride(id: "O3", start: iso("2024-01-10T14:00:00Z"), end: iso("2024-01-10T16:00:00Z"), userId: "PBOB001",
                                  customShiftId: "C1", overriddenUserId: "PALICE1"),
            ]
        )
        #expect(described(schedule.renderShifts(since: day10, until: day11)) == [
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z PCHAND1 rotation R2",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation R1",
            "2024-01-10T09:00:00Z 2024-01-10T10:00:00Z PBOB001 rotation R1",
            "2024-01-10T10:00:00Z 2024-01-10T12:00:00Z PDANA01 override R1/O1",
            "2024-01-10T12:00:00Z 2024-01-10T17:00:00Z PBOB001 rotation R1",
            "2024-01-10T13:00:00Z 2024-01-10T14:00:00Z PALICE1 custom C1",
            "2024-01-10T14:00:00Z 2024-01-10T15:00:00Z PBOB001 custom override C1/O3",
        ])
        #expect(people(schedule, at: iso("2024-01-10T11:00:00Z")) == ["PALICE1", "PCHAND1", "PDANA01"], "Bob is replaced, Alice stays")
        // The variant keeps the replaced member's own time beside the override's.
        let kept = schedule.renderShifts(since: day10, until: day11, variants: PagerDutyVariants(finalScheduleKeepsOverriddenMembers: true))
        #expect(described(kept).filter { $0.contains("PBOB001 rotation R1") } == ["2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PBOB001 rotation R1"])
        #expect(described(kept).contains("2024-01-10T10:00:00Z 2024-01-10T12:00:00Z PDANA01 override R1/O1"))
        #expect(described(kept).contains("2024-01-10T13:00:00Z 2024-01-10T15:00:00Z PALICE1 custom C1"))
    }

    @Test func laterOverridesApplyToWhatEarlierOnesLeft() {
        let schedule = shiftSchedule(
            rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1"])],
            overrides: [
                SimulatedOverride(id: "O1", start: iso("2024-01-10T10:00:00Z"), end: iso("2024-01-10T14:00:00Z"), userId: "PBOB001",
                                  rotationId: "R1", overriddenUserId: "PALICE1"),
                SimulatedOverride(id: "O2", start: iso("2024-01-10T12:00:00Z"), end: iso("2024-01-10T16:00:00Z"), userId: "PCHAND1",
                                  rotationId: "R1", overriddenUserId: "PBOB001"),
            ]
        )
        #expect(described(schedule.renderShifts(since: iso("2024-01-10T08:00:00Z"), until: iso("2024-01-10T18:00:00Z"))) == [
            "2024-01-10T08:00:00Z 2024-01-10T10:00:00Z PALICE1 rotation R1",
            "2024-01-10T10:00:00Z 2024-01-10T12:00:00Z PBOB001 override R1/O1",
            "2024-01-10T12:00:00Z 2024-01-10T14:00:00Z PCHAND1 override R1/O2",
            "2024-01-10T14:00:00Z 2024-01-10T18:00:00Z PALICE1 rotation R1",
        ])
    }

    @Test func anOverrideOfNobodyFillsEmptySlotsAndGaps() {
        let schedule = shiftSchedule(
            rotations: [
                rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1", nil]),
                rotation("R2", start: "2024-01-01T09:00:00Z", shift: 8 * 3600, repeat: 86_400, members: ["PCHAND1"]),
            ],
            overrides: [
                SimulatedOverride(id: "O1", start: iso("2024-01-10T06:00:00Z"), end: iso("2024-01-10T08:00:00Z"), userId: "PDANA01", rotationId: "R1"),
                SimulatedOverride(id: "O2", start: iso("2024-01-10T16:00:00Z"), end: iso("2024-01-10T19:00:00Z"), userId: "PBOB001", rotationId: "R2"),
            ]
        )
        #expect(described(schedule.renderShifts(since: day10, until: day11)) == [
            "2024-01-10T00:00:00Z 2024-01-10T06:00:00Z empty rotation R1",
            "2024-01-10T06:00:00Z 2024-01-10T08:00:00Z PDANA01 override R1/O1",
            "2024-01-10T08:00:00Z 2024-01-11T00:00:00Z empty rotation R1",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PCHAND1 rotation R2",
            "2024-01-10T17:00:00Z 2024-01-10T19:00:00Z PBOB001 override R2/O2",
        ])
    }

    @Test func upgradedLayersCoverEachOtherButNativeRotationsAndCustomShiftsAddPeople() {
        let allDay = dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1"], id: "L1")
        let businessHours = dailyLayer("2024-01-01T00:00:00Z", users: ["PBOB001"],
                                       restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "09:00:00", durationSeconds: 8 * 3600)], id: "L2")
        let schedule = shiftSchedule(
            rotations: [
                SimulatedRotation(id: "L1", upgradedLayer: allDay),
                SimulatedRotation(id: "L2", upgradedLayer: businessHours),
                rotation("R3", start: "2024-01-01T00:00:00Z", members: ["PCHAND1"]),
            ],
            customShifts: [SimulatedCustomShift(id: "C1", start: iso("2024-01-10T10:00:00Z"), end: iso("2024-01-10T11:00:00Z"), userId: "PDANA01")]
        )
        #expect(described(schedule.renderShifts(since: day10, until: day11)) == [
            "2024-01-10T00:00:00Z 2024-01-10T09:00:00Z PALICE1 rotation L1",
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z PCHAND1 rotation R3",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PBOB001 rotation L2",
            "2024-01-10T10:00:00Z 2024-01-10T11:00:00Z PDANA01 custom C1",
            "2024-01-10T17:00:00Z 2024-01-11T00:00:00Z PALICE1 rotation L1",
        ])
    }

    @Test func adjacentTimeOfOnePersonMergesOnlyWithinOneSource() {
        let schedule = shiftSchedule(
            rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", shift: 6 * 3600, members: ["PALICE1"])],
            customShifts: [SimulatedCustomShift(id: "C1", start: iso("2024-01-11T00:00:00Z"), end: iso("2024-01-11T02:00:00Z"), userId: "PALICE1")]
        )
        #expect(described(schedule.renderShifts(since: day10, until: iso("2024-01-11T02:00:00Z"))) == [
            "2024-01-10T00:00:00Z 2024-01-11T02:00:00Z PALICE1 rotation R1",
            "2024-01-11T00:00:00Z 2024-01-11T02:00:00Z PALICE1 custom C1",
        ])
        #expect(schedule.onCallEntries(since: day10, until: iso("2024-01-11T02:00:00Z")).count == 1, "one person, one on-call entry")
    }

    @Test func theWindowCutsOrOverflowsAndAnInstantIsCovered() {
        let schedule = shiftSchedule(rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1", "PBOB001"])])
        let since = iso("2024-01-10T10:00:00Z"), until = iso("2024-01-10T14:00:00Z")
        #expect(described(schedule.renderShifts(since: since, until: until)) == ["2024-01-10T10:00:00Z 2024-01-10T14:00:00Z PBOB001 rotation R1"])
        #expect(described(schedule.renderShifts(since: since, until: until, overflow: true)) == [
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z PBOB001 rotation R1",
        ])
        #expect(described(schedule.renderShifts(since: since, until: since, overflow: true)) == [
            "2024-01-10T00:00:00Z 2024-01-11T00:00:00Z PBOB001 rotation R1",
        ])
        #expect(schedule.renderShifts(since: since, until: until, variants: PagerDutyVariants(v3OverflowFalseDropsCrossingEntries: true)).isEmpty,
                "the variant drops what crosses the bounds")
        #expect(schedule.renderShifts(since: day10, until: day11, variants: PagerDutyVariants(v3OverflowFalseDropsCrossingEntries: true)).count == 1,
                "and keeps what fits")
    }

    @Test func aLayerBasedScheduleHasNoShifts() {
        let account = SimulatedAccount.small(now: testNow)
        #expect(account.schedules[0].renderShifts(since: testNow, until: testNow.addingTimeInterval(day)).isEmpty)
    }

    @Test func theSmallShiftBasedAccountIsAsDocumented() throws {
        let account = SimulatedAccount.smallWithShifts(now: testNow)
        let shifts = try #require(account.schedules.first { $0.id == SmallAccountIDs.shifts })
        let at = { (hours: Double) in testHour.addingTimeInterval(hours * hour) }
        #expect(people(shifts, at: testNow) == [SmallAccountIDs.alice, SmallAccountIDs.chandra, SmallAccountIDs.dana])
        #expect(people(shifts, at: at(1.5)) == [SmallAccountIDs.alice, SmallAccountIDs.chandra, SmallAccountIDs.dana, SmallAccountIDs.emeka])
        #expect(people(shifts, at: at(2.5)) == [SmallAccountIDs.alice, SmallAccountIDs.chandra, SmallAccountIDs.dana, SmallAccountIDs.bob])
        #expect(people(shifts, at: at(5)) == [SmallAccountIDs.alice, SmallAccountIDs.chandra, SmallAccountIDs.bob])
        #expect(people(shifts, at: at(10)) == [SmallAccountIDs.alice])
        #expect(people(shifts, at: at(20)).isEmpty)
        #expect(people(shifts, at: at(40)) == [SmallAccountIDs.bob])
        #expect(described(shifts.renderShifts(since: at(0), until: at(24))) == [
            "2024-01-10T15:00:00Z 2024-01-11T05:00:00Z PALICE1 rotation PROT001",
            "2024-01-10T15:00:00Z 2024-01-10T22:00:00Z PCHAND1 rotation PROT002",
            "2024-01-10T15:00:00Z 2024-01-10T19:00:00Z PDANA01 rotation PROT002",
            "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PEMEKA1 custom PCUST01",
            "2024-01-10T17:00:00Z 2024-01-10T18:00:00Z PBOB001 custom override PCUST01/PORV002",
            "2024-01-10T19:00:00Z 2024-01-10T21:00:00Z PBOB001 override PROT002/PORV001",
            "2024-01-10T21:00:00Z 2024-01-10T22:00:00Z PDANA01 rotation PROT002",
            "2024-01-11T05:00:00Z 2024-01-11T15:00:00Z empty rotation PROT001",
            "2024-01-11T14:00:00Z 2024-01-11T15:00:00Z PCHAND1 rotation PROT002",
            "2024-01-11T14:00:00Z 2024-01-11T15:00:00Z PDANA01 rotation PROT002",
        ])
    }

    @Test func aThousandMixedSchedulesRenderQuickly() {
        let account = SimulatedAccount.generate(users: 2000, schedules: 1000, seed: 5, now: testNow, v3Share: 0.5)
        let clock = ContinuousClock()
        var entryCount = 0
        var assignmentCount = 0
        let elapsed = clock.measure {
            for schedule in account.schedules {
                entryCount += schedule.onCallEntries(since: testNow, until: testNow.addingTimeInterval(8 * day)).count
                assignmentCount += schedule.renderShifts(since: testNow, until: testNow.addingTimeInterval(8 * day)).count
            }
        }
        #expect(account.schedules.filter { $0.kind == .shiftBased }.count == 500)
        #expect(entryCount > 8000)
        #expect(assignmentCount > 2000)
        #expect(elapsed < .seconds(5), "rendering 1,000 mixed schedules × 8 days twice took \(elapsed)")
    }
}
