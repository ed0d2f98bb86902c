import Foundation
import PagerDuty
import PagerDutySimulator
import Testing
import Timestamps

/// Where two schedules' people on call differ within [since, until): checked at every instant where
/// either one's final schedule changes, and in the middle of each stretch between those instants.
func peopleDifferences(_ before: SimulatedSchedule, _ after: SimulatedSchedule, since: Date, until: Date) -> [String] {
    let beforeEntries = before.onCallEntries(since: since, until: until)
    let afterEntries = after.onCallEntries(since: since, until: until)
    var instants = Set([since])
    for entry in beforeEntries + afterEntries {
        instants.insert(entry.start)
        instants.insert(entry.end)
    }
    let sorted = instants.filter { $0 >= since && $0 < until }.sorted()
    var checked = sorted
    for (index, instant) in sorted.enumerated() {
        let next = index + 1 < sorted.count ? sorted[index + 1] : until
        checked.append(Date(timeIntervalSince1970: (instant.timeIntervalSince1970 + next.timeIntervalSince1970) / 2))
    }
    func people(_ entries: [SimulatedEntry], at instant: Date) -> Set<String> {
        Set(entries.filter { $0.start <= instant && instant < $0.end }.map(\.userId))
    }
    return checked.sorted().compactMap { instant in
        let was = people(beforeEntries, at: instant), now = people(afterEntries, at: instant)
        return was == now ? nil : "\(RFC3339.format(instant)): \(was.sorted()) before, \(now.sorted()) after"
    }
}

/// Upgrading a layer-based schedule in place: `SimulatedSchedule.upgradedToShiftBased()`,
/// `PagerDutySimulator.upgradeSchedule(id:)` and `POST /_simulator/schedules/{id}/upgrade`.
@Suite struct UpgradeTests {
    let week = (since: testNow.addingTimeInterval(-2 * day), until: testNow.addingTimeInterval(5 * day))

    @Test func theSmallAccountsPrimaryKeepsItsPeopleAndItsOverride() throws {
        let primary = SimulatedAccount.small(now: testNow).schedules[0]
        let upgraded = primary.upgradedToShiftBased()
        #expect(upgraded.kind == .shiftBased)
        #expect([upgraded.id, upgraded.name, upgraded.timeZone, upgraded.description] == [primary.id, primary.name, primary.timeZone, primary.description])
        #expect(upgraded.teamIds == primary.teamIds)
        #expect(upgraded.layers.isEmpty)
        #expect(upgraded.rotations == [SimulatedRotation(id: "PLAYER1", upgradedLayer: primary.layers[0])])
        #expect(upgraded.overrides == [SimulatedOverride(
            id: "POVER01", start: testHour.addingTimeInterval(2 * hour), end: testHour.addingTimeInterval(4 * hour), userId: SmallAccountIDs.dana,
            rotationId: "PLAYER1", overriddenUserId: SmallAccountIDs.alice
        )])
        #expect(peopleDifferences(primary, upgraded, since: week.since, until: week.until).isEmpty)
        #expect(described(upgraded.renderShifts(since: testHour, until: testHour.addingTimeInterval(6 * hour))) == [
            "2024-01-10T15:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation PLAYER1",
            "2024-01-10T17:00:00Z 2024-01-10T19:00:00Z PDANA01 override PLAYER1/POVER01",
            "2024-01-10T19:00:00Z 2024-01-10T21:00:00Z PALICE1 rotation PLAYER1",
        ])
        #expect(upgraded.upgradedToShiftBased() == upgraded, "a shift-based schedule stays as it is")
    }

    @Test func overridesSplitWhereTheLayersChangeHandsOrLeaveGaps() {
        // Alice around the clock from Jan 10 06:00 (nobody before), Bob over her 09:00–17:00.
        var allDay = dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1"], id: "L1")
        allDay.start = iso("2024-01-10T06:00:00Z")
        let businessHours = dailyLayer("2024-01-01T00:00:00Z", users: ["PBOB001"],
                                       restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "09:00:00", durationSeconds: 8 * 3600)], id: "L2")
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: "UTC", layers: [allDay, businessHours], overrides: [
            SimulatedOverride(id: "O1", start: iso("2024-01-10T04:00:00Z"), end: iso("2024-01-10T20:00:00Z"), userId: "PCHAND1"),
            // Later, so it wins where the two overlap.
            SimulatedOverride(id: "O2", start: iso("2024-01-10T12:00:00Z"), end: iso("2024-01-10T14:00:00Z"), userId: "PDANA01"),
        ])
        let upgraded = schedule.upgradedToShiftBased()
        #expect(upgraded.overrides.map { "\($0.id) \(RFC3339.format($0.start)) \(RFC3339.format($0.end)) \($0.rotationId ?? "-") \($0.overriddenUserId ?? "nobody") \($0.userId)" } == [
            "O1 2024-01-10T04:00:00Z 2024-01-10T06:00:00Z L1 nobody PCHAND1",
            "O1-2 2024-01-10T06:00:00Z 2024-01-10T09:00:00Z L1 PALICE1 PCHAND1",
            "O1-3 2024-01-10T09:00:00Z 2024-01-10T12:00:00Z L2 PBOB001 PCHAND1",
            "O2 2024-01-10T12:00:00Z 2024-01-10T14:00:00Z L2 PBOB001 PDANA01",
            "O1-4 2024-01-10T14:00:00Z 2024-01-10T17:00:00Z L2 PBOB001 PCHAND1",
            "O1-5 2024-01-10T17:00:00Z 2024-01-10T20:00:00Z L1 PALICE1 PCHAND1",
        ])
        #expect(peopleDifferences(schedule, upgraded, since: iso("2024-01-08T00:00:00Z"), until: iso("2024-01-15T00:00:00Z")).isEmpty)
    }

    @Test func aScheduleWithoutLayersKeepsItsOverridesAsCustomShifts() {
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", overrides: [
            SimulatedOverride(id: "O1", start: iso("2024-01-10T04:00:00Z"), end: iso("2024-01-10T08:00:00Z"), userId: "PCHAND1"),
        ])
        let upgraded = schedule.upgradedToShiftBased()
        #expect(upgraded.rotations.isEmpty && upgraded.overrides.isEmpty)
        #expect(upgraded.customShifts == [SimulatedCustomShift(id: "O1", start: iso("2024-01-10T04:00:00Z"), end: iso("2024-01-10T08:00:00Z"), userId: "PCHAND1")])
        #expect(peopleDifferences(schedule, upgraded, since: iso("2024-01-09T00:00:00Z"), until: iso("2024-01-12T00:00:00Z")).isEmpty)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func generatedSchedulesKeepTheirPeople(seed: UInt64) {
        let account = SimulatedAccount.generate(users: 60, schedules: 24, seed: seed, now: testNow)
        var compared = 0
        for schedule in account.schedules where schedule.kind == .layerBased {
            let upgraded = schedule.upgradedToShiftBased()
            #expect(upgraded.rotations.map(\.id) == schedule.layers.map(\.id))
            let differences = peopleDifferences(schedule, upgraded, since: week.since, until: week.until)
            #expect(differences.isEmpty, "\(schedule.id): \(differences.prefix(3))")
            compared += 1
        }
        #expect(compared == 24)
    }

    @Test func theSimulatorUpgradesInPlaceAndEachAPIFlips() async throws {
        try await withLiveSimulator { live in
            let primary = SmallAccountIDs.primary
            let query = window("2024-01-10T00:00:00Z", "2024-01-17T00:00:00Z")
            let before = try await live.get("/schedules/\(primary)/users?\(query)")
            #expect(try await live.get("/v3/schedules/\(primary)").status == 400)
            #expect(try await live.get("/oncalls?schedule_ids%5B%5D=\(primary)").list("oncalls").first.map { ($0["schedule"] as? [String: Any])?["type"] as? String } == "schedule_reference")

            let upgrade = try await live.request("/_simulator/schedules/\(primary)/upgrade", key: nil, method: "POST")
            #expect(upgrade.status == 200)
            #expect(upgrade.json["id"] as? String == primary)
            #expect(upgrade.json["kind"] as? String == "shift_based")
            #expect((upgrade.json["rotations"] as? [[String: Any]])?.first?["id"] as? String == "PLAYER1")

            #expect(try await live.get("/schedules/\(primary)").status == 400)
            #expect(try await live.get("/schedules/\(primary)/overrides?\(query)").status == 400)
            #expect(try await live.get("/schedules").list("schedules").compactMap { $0["id"] as? String } == [SmallAccountIDs.secondary])
            #expect(try await live.get("/v3/schedules").list("schedules").compactMap { $0["id"] as? String } == [primary])
            let detail = try await live.get("/v3/schedules/\(primary)?\(window(atHour(0), atHour(6)))&\(includeFinal)&time_zone=UTC")
            #expect(detail.status == 200)
            #expect(computedAssignments(detail.schedule) == [
                "2024-01-10T15:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation PLAYER1",
                "2024-01-10T17:00:00Z 2024-01-10T19:00:00Z PDANA01 override PLAYER1/POVER01",
                "2024-01-10T19:00:00Z 2024-01-10T21:00:00Z PALICE1 rotation PLAYER1",
            ])
            // The upgraded layer is shown as one event: daily turns from Alice's.
            let event = ((detail.schedule["rotations"] as? [[String: Any]])?.first?["events"] as? [[String: Any]])?.first ?? [:]
            #expect(event["recurrence"] as? [String] == ["RRULE:FREQ=DAILY"])
            let members = (event["assignment_strategy"] as? [String: Any])?["members"] as? [[String: Any]] ?? []
            #expect(members.compactMap { $0["user_id"] as? String } == [SmallAccountIDs.alice, SmallAccountIDs.bob])
            let overrides = try await live.get("/v3/schedules/\(primary)/overrides?\(query)").list("overrides")
            #expect(overrides.compactMap { $0["id"] as? String } == ["POVER01"])

            let after = try await live.get("/schedules/\(primary)/users?\(query)")
            #expect(after.list("users").compactMap { $0["id"] as? String } == before.list("users").compactMap { $0["id"] as? String })
            let target = (try await live.get("/escalation_policies").list("escalation_policies").first?["escalation_rules"] as? [[String: Any]])?
                .first?["targets"] as? [[String: Any]]
            #expect(target?.first?["type"] as? String == "schedule_v3_reference")
            #expect(try await live.get("/oncalls?schedule_ids%5B%5D=\(primary)").list("oncalls").first.map { ($0["schedule"] as? [String: Any])?["type"] as? String } == "schedule_v3_reference")

            let again = try await live.request("/_simulator/schedules/\(primary)/upgrade", key: nil, method: "POST")
            #expect(again.status == 400)
            #expect(again.error["code"] as? Int == 2001)
            let unknown = try await live.request("/_simulator/schedules/PNOSUCH/upgrade", key: nil, method: "POST")
            #expect(unknown.status == 404)
            #expect(live.simulator.stats.requests == 12, "admin routes are not counted")
        }
    }

    @Test func theLibraryCallThrowsForUnknownAndShiftBasedSchedules() throws {
        let simulator = PagerDutySimulator(account: .smallWithShifts(now: testNow))
        #expect(throws: ScheduleUpgradeError.noSuchSchedule("PNOSUCH")) { try simulator.upgradeSchedule(id: "PNOSUCH") }
        #expect(throws: ScheduleUpgradeError.alreadyShiftBased(SmallAccountIDs.shifts)) { try simulator.upgradeSchedule(id: SmallAccountIDs.shifts) }
        let upgraded = try simulator.upgradeSchedule(id: SmallAccountIDs.secondary)
        #expect(simulator.account.schedules.first { $0.id == SmallAccountIDs.secondary } == upgraded)
        #expect(simulator.account.schedules.map(\.id) == [SmallAccountIDs.primary, SmallAccountIDs.secondary, SmallAccountIDs.shifts], "in place")
    }
}
