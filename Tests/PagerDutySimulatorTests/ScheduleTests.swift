import Foundation
import PagerDuty
@testable import PagerDutySimulator
import Testing
import Timestamps

/// A one-schedule account: `layers` in `zone`, users PALICE1, PBOB001, PCHAND1.
func scheduleAccount(zone: String, layers: [SimulatedLayer], overrides: [SimulatedOverride] = []) -> SimulatedAccount {
    SimulatedAccount(
        timeZone: "America/New_York",
        users: [
            SimulatedUser(id: "PALICE1", name: "Alice", email: "Alice@Example.com"),
            SimulatedUser(id: "PBOB001", name: "Bob", email: "bob@example.com"),
            SimulatedUser(id: "PCHAND1", name: "Chandra", email: "Chandra@example.com"),
        ],
        schedules: [SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: zone, layers: layers, overrides: overrides)]
    )
}

func dailyLayer(_ start: String, users: [String], turn: Int = 86_400, restrictions: [SimulatedRestriction] = [], id: String = "PLAYER1") -> SimulatedLayer {
    SimulatedLayer(id: id, name: "Layer", start: iso(start), rotationVirtualStart: iso(start), rotationTurnLengthSeconds: turn, userIds: users, restrictions: restrictions)
}

func formatted(_ entries: [SimulatedEntry], _ zone: String = "UTC") -> [String] {
    entries.map { "\(RFC3339.format($0.start, in: TimeZone(identifier: zone)!)) \(RFC3339.format($0.end, in: TimeZone(identifier: zone)!)) \($0.userId)" }
}

/// Rendering: layers, restrictions, overrides, truncation and time zones.
@Suite struct ScheduleTests {
    @Test func entriesAreTruncatedAtTheWindowUnlessOverflow() async throws {
        let account = scheduleAccount(zone: "UTC", layers: [dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1", "PBOB001"])])
        try await withLiveSimulator(account) { live in
            let query = window("2024-01-10T10:00:00Z", "2024-01-10T14:00:00Z")
            let truncated = try await live.get("/schedules/PSCHED1?\(query)")
            let schedule = truncated.json["schedule"] as? [String: Any] ?? [:]
            let final = entries((schedule["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(final.map(\.start) == ["2024-01-10T10:00:00Z"])
            #expect(final.map(\.end) == ["2024-01-10T14:00:00Z"])
            #expect(final.map(\.user) == ["PBOB001"], "turn 9 of a two-person rotation")
            #expect((schedule["final_schedule"] as? [String: Any])?["rendered_coverage_percentage"] as? Double == 100)

            let overflowing = try await live.get("/schedules/PSCHED1?\(query)&overflow=true")
            let overflowFinal = entries(((overflowing.json["schedule"] as? [String: Any])?["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(overflowFinal.map(\.start) == ["2024-01-10T00:00:00Z"])
            #expect(overflowFinal.map(\.end) == ["2024-01-11T00:00:00Z"])
        }
    }

    @Test func withoutAWindowItIsTheNextTwoWeeks() async throws {
        let account = scheduleAccount(zone: "UTC", layers: [dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1", "PBOB001"])])
        try await withLiveSimulator(account) { live in
            let schedule = try await live.get("/schedules/PSCHED1").json["schedule"] as? [String: Any] ?? [:]
            let final = entries((schedule["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(final.first?.start == "2024-01-10T15:30:00Z")
            #expect(final.last?.end == "2024-01-24T15:30:00Z")
            #expect(final.count == 15)
        }
    }

    @Test func overridesWinOverLayersInTheFinalSchedule() async throws {
        let account = scheduleAccount(
            zone: "UTC", layers: [dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1"])],
            overrides: [SimulatedOverride(id: "POVER01", start: iso("2024-01-10T12:00:00Z"), end: iso("2024-01-10T15:00:00Z"), userId: "PBOB001")]
        )
        try await withLiveSimulator(account) { live in
            let schedule = try await live.get("/schedules/PSCHED1?\(window("2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"))").json["schedule"] as? [String: Any] ?? [:]
            let final = entries((schedule["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(final.map { "\($0.start) \($0.end) \($0.user)" } == [
                "2024-01-10T00:00:00Z 2024-01-10T12:00:00Z PALICE1",
                "2024-01-10T12:00:00Z 2024-01-10T15:00:00Z PBOB001",
                "2024-01-10T15:00:00Z 2024-01-11T00:00:00Z PALICE1",
            ])
            let overrides = schedule["overrides_subschedule"] as? [String: Any] ?? [:]
            #expect(overrides["name"] as? String == "Overrides")
            #expect(entries(overrides["rendered_schedule_entries"]).map(\.user) == ["PBOB001"])
            #expect(overrides["rendered_coverage_percentage"] as? Double == 12.5)
            let layer = (schedule["schedule_layers"] as? [[String: Any]])?.first ?? [:]
            #expect(entries(layer["rendered_schedule_entries"]).map(\.user) == ["PALICE1"], "a layer shows its own entries, before overrides")

            let listed = try await live.get("/schedules/PSCHED1/overrides?\(window("2024-01-10T13:00:00Z", "2024-01-11T00:00:00Z"))")
            #expect(entries(listed.json["overrides"]).map(\.start) == ["2024-01-10T13:00:00Z"], "cut at the window")
            let overflowing = try await live.get("/schedules/PSCHED1/overrides?\(window("2024-01-10T13:00:00Z", "2024-01-11T00:00:00Z"))&overflow=true")
            #expect(entries(overflowing.json["overrides"]).map(\.start) == ["2024-01-10T12:00:00Z"])
            #expect(overflowing.list("overrides").first?["id"] as? String == "POVER01")
        }
    }

    @Test func laterLayersWinAndAdjacentEntriesOfOnePersonMerge() {
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: "UTC", layers: [
            dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1", "PALICE1"]),
            dailyLayer("2024-01-01T00:00:00Z", users: ["PBOB001"],
                       restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "09:00:00", durationSeconds: 8 * 3600)], id: "PLAYER2"),
        ])
        let rendered = schedule.render(since: iso("2024-01-10T00:00:00Z"), until: iso("2024-01-12T00:00:00Z"))
        #expect(formatted(rendered.layers[0]) == ["2024-01-10T00:00:00Z 2024-01-12T00:00:00Z PALICE1"])
        #expect(formatted(rendered.final) == [
            "2024-01-10T00:00:00Z 2024-01-10T09:00:00Z PALICE1",
            "2024-01-10T09:00:00Z 2024-01-10T17:00:00Z PBOB001",
            "2024-01-10T17:00:00Z 2024-01-11T09:00:00Z PALICE1",
            "2024-01-11T09:00:00Z 2024-01-11T17:00:00Z PBOB001",
            "2024-01-11T17:00:00Z 2024-01-12T00:00:00Z PALICE1",
        ])
        #expect(rendered.coveragePercentage(of: rendered.layers[1]) == 33.33)
    }

    @Test func timesCarryTheScheduleZonesOffsetOrTheOneAskedFor() async throws {
        var account = scheduleAccount(zone: "America/New_York", layers: [dailyLayer("2024-01-01T05:00:00Z", users: ["PALICE1", "PBOB001"])])
        account.schedules.append(SimulatedSchedule(id: "PSCHED2", name: "Kolkata", timeZone: "Asia/Kolkata", layers: [
            dailyLayer("2024-01-01T03:30:00Z", users: ["PCHAND1"], id: "PLAYER2"),
        ]))
        try await withLiveSimulator(account) { live in
            let query = window("2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z")
            let newYork = try await live.get("/schedules/PSCHED1?\(query)").json["schedule"] as? [String: Any] ?? [:]
            let newYorkFinal = entries((newYork["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(newYorkFinal.first?.start == "2024-01-09T19:00:00-05:00")
            #expect(newYorkFinal.first?.end == "2024-01-10T00:00:00-05:00")
            let layer = (newYork["schedule_layers"] as? [[String: Any]])?.first ?? [:]
            #expect(layer["rotation_virtual_start"] as? String == "2024-01-01T00:00:00-05:00")

            let kolkata = try await live.get("/schedules/PSCHED2?\(query)&overflow=true").json["schedule"] as? [String: Any] ?? [:]
            let kolkataFinal = entries((kolkata["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(kolkataFinal.first?.start.hasSuffix("+05:30") == true)
            #expect(kolkata["time_zone"] as? String == "Asia/Kolkata")

            let utc = try await live.get("/schedules/PSCHED1?\(query)&time_zone=UTC").json["schedule"] as? [String: Any] ?? [:]
            let utcFinal = entries((utc["final_schedule"] as? [String: Any])?["rendered_schedule_entries"])
            #expect(utcFinal.first?.start == "2024-01-10T00:00:00Z")
            #expect(utcFinal.first?.end == "2024-01-10T05:00:00Z")
        }
    }

    @Test func dailyRestrictionsKeepLocalTimeAcrossDaylightSaving() {
        // New York moves to -04:00 on Sunday 2024-03-10.
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: "America/New_York", layers: [
            dailyLayer("2024-03-01T05:00:00Z", users: ["PALICE1"],
                       restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "08:00:00", durationSeconds: 9 * 3600)]),
        ])
        let rendered = schedule.render(since: iso("2024-03-09T05:00:00Z"), until: iso("2024-03-11T04:00:00Z"))
        #expect(formatted(rendered.final, "America/New_York") == [
            "2024-03-09T08:00:00-05:00 2024-03-09T17:00:00-05:00 PALICE1",
            "2024-03-10T08:00:00-04:00 2024-03-10T17:00:00-04:00 PALICE1",
        ])
    }

    @Test func rotationHandoffsKeepLocalTimeAcrossDaylightSaving() {
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: "America/New_York", layers: [
            dailyLayer("2024-03-01T14:00:00Z", users: ["PALICE1", "PBOB001"]),  // 09:00 EST
        ])
        let rendered = schedule.render(since: iso("2024-03-09T14:00:00Z"), until: iso("2024-03-11T13:00:00Z"))
        #expect(formatted(rendered.final, "America/New_York") == [
            "2024-03-09T09:00:00-05:00 2024-03-10T09:00:00-04:00 PALICE1",
            "2024-03-10T09:00:00-04:00 2024-03-11T09:00:00-04:00 PBOB001",
        ])
    }

    @Test func weeklyRestrictionsCoverTheirDaysOnly() {
        // Weekends only: from Saturday 00:00 for two days, in Berlin.
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", timeZone: "Europe/Berlin", layers: [
            dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1"], turn: 7 * 86_400,
                       restrictions: [SimulatedRestriction(type: .weekly, startTimeOfDay: "00:00:00", durationSeconds: 2 * 86_400, startDayOfWeek: 6)]),
        ])
        let rendered = schedule.render(since: iso("2024-01-08T00:00:00Z"), until: iso("2024-01-22T00:00:00Z"))
        #expect(formatted(rendered.final, "Europe/Berlin") == [
            "2024-01-13T00:00:00+01:00 2024-01-15T00:00:00+01:00 PALICE1",
            "2024-01-20T00:00:00+01:00 2024-01-22T00:00:00+01:00 PALICE1",
        ])
    }

    @Test func layerBoundsClipTurns() {
        var layer = dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1", "PBOB001"])
        layer.start = iso("2024-01-10T06:00:00Z")
        layer.end = iso("2024-01-11T06:00:00Z")
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Test", layers: [layer])
        let rendered = schedule.render(since: iso("2024-01-09T00:00:00Z"), until: iso("2024-01-13T00:00:00Z"))
        #expect(formatted(rendered.final) == [
            "2024-01-10T06:00:00Z 2024-01-11T00:00:00Z PBOB001",
            "2024-01-11T00:00:00Z 2024-01-11T06:00:00Z PALICE1",
        ])
        #expect(rendered.coveragePercentage(of: rendered.final) == 25)
    }

    @Test func scheduleUsersAreThoseOnCallInTheWindow() async throws {
        try await withLiveSimulator { live in
            let query = window("2024-01-10T15:00:00Z", "2024-01-10T18:00:00Z")
            let reply = try await live.get("/schedules/\(SmallAccountIDs.primary)/users?\(query)")
            #expect(reply.status == 200)
            #expect(Set(reply.list("users").compactMap { $0["id"] as? String }) == [SmallAccountIDs.alice, SmallAccountIDs.dana])
            #expect(reply.list("users").first?["email"] as? String == "Alice.Nguyen@Example.com", "email as typed")
        }
    }

    @Test func smallAccountIsAsDocumented() {
        let account = SimulatedAccount.small(now: testNow)
        let primary = account.schedules[0].render(since: testHour.addingTimeInterval(-6 * hour), until: testHour.addingTimeInterval(42 * hour))
        #expect(primary.final == [
            SimulatedEntry(userId: SmallAccountIDs.alice, start: testHour.addingTimeInterval(-6 * hour), end: testHour.addingTimeInterval(2 * hour)),
            SimulatedEntry(userId: SmallAccountIDs.dana, start: testHour.addingTimeInterval(2 * hour), end: testHour.addingTimeInterval(4 * hour)),
            SimulatedEntry(userId: SmallAccountIDs.alice, start: testHour.addingTimeInterval(4 * hour), end: testHour.addingTimeInterval(18 * hour)),
            SimulatedEntry(userId: SmallAccountIDs.bob, start: testHour.addingTimeInterval(18 * hour), end: testHour.addingTimeInterval(42 * hour)),
        ])
        let secondary = account.schedules[1].render(since: testNow, until: testNow, overflow: true)
        #expect(secondary.final == [
            SimulatedEntry(userId: SmallAccountIDs.chandra, start: testHour.addingTimeInterval(-3 * day), end: testHour.addingTimeInterval(4 * day)),
        ])
    }

    /// Turns of the same person merge into one entry longer than the rendering's margin of one
    /// turn; with `overflow` (as `/oncalls` answers) the entry keeps its real start and end.
    @Test func anEntryLongerThanATurnOverflowsWhole() {
        let layer = dailyLayer("2024-01-01T00:00:00Z", users: ["PALICE1", "PALICE1", "PALICE1", "PBOB001"])
        let schedule = scheduleAccount(zone: "UTC", layers: [layer]).schedules[0]
        let rendered = schedule.render(since: iso("2024-01-02T12:00:00Z"), until: iso("2024-01-02T13:00:00Z"), overflow: true)
        #expect(formatted(rendered.final) == ["2024-01-01T00:00:00Z 2024-01-04T00:00:00Z PALICE1"])
        let cut = schedule.render(since: iso("2024-01-02T12:00:00Z"), until: iso("2024-01-02T13:00:00Z"))
        #expect(formatted(cut.final) == ["2024-01-02T12:00:00Z 2024-01-02T13:00:00Z PALICE1"])
    }

    @Test func aThousandSchedulesRenderQuickly() {
        let account = SimulatedAccount.generate(users: 2000, schedules: 1000, seed: 5, now: testNow)
        let clock = ContinuousClock()
        var entryCount = 0
        let elapsed = clock.measure {
            for schedule in account.schedules {
                entryCount += schedule.render(since: testNow, until: testNow.addingTimeInterval(8 * day)).final.count
            }
        }
        #expect(entryCount > 8000)
        // Tens of microseconds each in release, well under a millisecond in a debug build.
        #expect(elapsed < .seconds(3), "rendering 1,000 schedules × 8 days took \(elapsed)")
    }
}
