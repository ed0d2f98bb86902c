import Foundation
import PagerDuty
import PagerDutySimulator
import Testing

/// The shift-based ("v3") routes and how the v2 routes treat shift-based schedules, over real HTTP,
/// against `SimulatedAccount.smallWithShifts(now: testNow)` unless said otherwise (H = 15:00Z).
@Suite struct V3RouteTests {
    let shifts = SmallAccountIDs.shifts
    let day = window(atHour(0), atHour(24))

    @Test func eachListHoldsOneKind() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let v2 = try await live.get("/schedules?total=true")
            #expect(v2.list("schedules").compactMap { $0["id"] as? String } == [SmallAccountIDs.primary, SmallAccountIDs.secondary])
            #expect(v2.json["total"] as? Int == 2)
            let v3 = try await live.get("/v3/schedules")
            #expect(v3.list("schedules").compactMap { $0["id"] as? String } == [shifts])
            #expect(v3.list("schedules").first?["type"] as? String == "schedule_v3_reference")
            #expect(v3.json["limit"] as? Int == 100)
        }
    }

    @Test func eachAPIAnswers400ForTheOtherKind() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let shiftBasedMessage = #"{"error":{"message":"This is a shift-based schedule. Use the v3 Schedules API to access it.","code":2001}}"#
            for path in ["/schedules/\(shifts)", "/schedules/\(shifts)?\(day)", "/schedules/\(shifts)/overrides?\(day)"] {
                let reply = try await live.get(path)
                #expect(reply.status == 400, "\(path)")
                #expect(String(decoding: reply.body, as: UTF8.self) == shiftBasedMessage, "\(path)")
            }
            let layerBasedMessage = #"{"error":{"message":"This is a layer-based schedule. Use the v2 Schedules API to access it.","code":2001}}"#
            let primary = SmallAccountIDs.primary
            for path in ["/v3/schedules/\(primary)", "/v3/schedules/\(primary)?\(day)&\(includeFinal)",
                         "/v3/schedules/\(primary)/overrides?\(day)", "/v3/schedules/\(primary)/custom_shifts?\(day)"] {
                let reply = try await live.get(path)
                #expect(reply.status == 400, "\(path)")
                #expect(String(decoding: reply.body, as: UTF8.self) == layerBasedMessage, "\(path)")
            }
            for path in ["/v3/schedules/PNOSUCH", "/v3/schedules/PNOSUCH/overrides?\(day)", "/v3/schedules/PNOSUCH/custom_shifts?\(day)"] {
                let reply = try await live.get(path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.error["code"] as? Int == 2100, "\(path)")
            }
        }
    }

    @Test func scheduleUsersAnswersForBothKinds() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let reply = try await live.get("/schedules/\(shifts)/users?\(window(atHour(0), atHour(3)))")
            #expect(reply.status == 200)
            #expect(reply.list("users").compactMap { $0["id"] as? String }
                == [SmallAccountIDs.alice, SmallAccountIDs.bob, SmallAccountIDs.chandra, SmallAccountIDs.dana, SmallAccountIDs.emeka])
        }
    }

    @Test func theV3ListHasNoTotalAndPagesUpToAThousand() async throws {
        let account = SimulatedAccount.generate(users: 30, schedules: 1203, seed: 3, now: testNow, v3Share: 1)
        try await withLiveSimulator(account) { live in
            let first = try await live.get("/v3/schedules?total=true")
            #expect(first.json["limit"] as? Int == 100)
            #expect(first.json.keys.sorted() == ["limit", "more", "offset", "schedules"], "no total, even when asked")
            #expect(first.list("schedules").count == 100)

            var ids: [String] = []
            var mores: [Bool] = []
            for offset in [0, 1000] {
                let page = try await live.get("/v3/schedules?limit=1000&offset=\(offset)")
                #expect(page.status == 200)
                #expect(page.json["limit"] as? Int == 1000)
                #expect(page.json["offset"] as? Int == offset)
                mores.append(page.json["more"] as? Bool ?? true)
                ids += page.list("schedules").compactMap { $0["id"] as? String }
            }
            #expect(mores == [true, false])
            #expect(ids.count == 1203)
            #expect(ids == ids.sorted(), "sorted by id")
            #expect(Set(ids) == Set(account.schedules.map(\.id)))

            let clamped = try await live.get("/v3/schedules?limit=5000")
            #expect(clamped.json["limit"] as? Int == 1000)
            #expect(clamped.list("schedules").count == 1000)
            let far = try await live.get("/v3/schedules?offset=9500&limit=1000")
            #expect(far.status == 200, "v2's offset + limit ≤ 10,000 is not applied to v3")
            #expect(far.list("schedules").isEmpty)
            #expect(far.json["more"] as? Bool == false)
            #expect(try await live.get("/v3/schedules?limit=0").status == 400)
            #expect(try await live.get("/v3/schedules?offset=-1").status == 400)
        }
    }

    @Test func teamIdsFilterTheV3List() async throws {
        var account = SimulatedAccount.smallWithShifts(now: testNow)
        account.teams.append(SimulatedTeam(id: "PTEAM02", name: "Payments"))
        var other = shiftSchedule(rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", members: [SmallAccountIDs.bob])])
        other.id = "PSHIFT2"
        other.teamIds = ["PTEAM02"]
        account.schedules.append(other)
        try await withLiveSimulator(account) { live in
            func ids(_ query: String) async throws -> [String] {
                try await live.get("/v3/schedules\(query)").list("schedules").compactMap { $0["id"] as? String }
            }
            let all = try await ids("")
            #expect(all == [shifts, "PSHIFT2"])
            let payments = try await ids("?team_ids%5B%5D=PTEAM02")
            #expect(payments == ["PSHIFT2"])
            let both = try await ids("?team_ids%5B%5D=PTEAM02&team_ids%5B%5D=\(SmallAccountIDs.team)")
            #expect(both == [shifts, "PSHIFT2"])
            let bare = try await live.get("/v3/schedules?team_ids=PTEAM02")
            #expect(bare.status == 400, "an array parameter needs its brackets")
        }
    }

    @Test func theDetailDescribesRotationsAndGivesTheFinalScheduleOnlyWhenAsked() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let plain = try await live.get("/v3/schedules/\(shifts)").schedule
            #expect(plain["final_schedule"] == nil)
            #expect(try await live.get("/v3/schedules/\(shifts)?\(includeFinal)&since=\(encoded(atHour(0)))").schedule["final_schedule"] == nil,
                    "a final schedule needs both since and until")
            #expect(try await live.get("/v3/schedules/\(shifts)?\(day)").schedule["final_schedule"] == nil, "and include[]=final_schedule")

            #expect(plain["type"] as? String == "schedule_v3")
            #expect(plain["time_zone"] as? String == "America/New_York")
            #expect((plain["escalation_policies"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [SmallAccountIDs.shiftsPolicy])
            #expect((plain["teams"] as? [[String: Any]])?.first?["type"] as? String == "team_reference")
            let rotations = plain["rotations"] as? [[String: Any]] ?? []
            #expect(rotations.compactMap { $0["id"] as? String } == [SmallAccountIDs.dailyRotation, SmallAccountIDs.pairRotation])
            let daily = (rotations.first?["events"] as? [[String: Any]])?.first ?? [:]
            #expect(daily["recurrence"] as? [String] == ["RRULE:FREQ=DAILY"])
            #expect((daily["start_time"] as? [String: Any])?["date_time"] as? String == "2024-01-01T00:00:00-05:00")
            #expect((daily["start_time"] as? [String: Any])?["time_zone"] as? String == "America/New_York")
            #expect((daily["end_time"] as? [String: Any])?["date_time"] as? String == "2024-01-02T00:00:00-05:00")
            #expect(daily["effective_since"] as? String == "2024-01-01T05:00:00Z")
            #expect(daily["effective_until"] is NSNull)
            let strategy = daily["assignment_strategy"] as? [String: Any] ?? [:]
            #expect(strategy["type"] as? String == "rotating_member_assignment_strategy")
            #expect((strategy["members"] as? [[String: Any]])?.map { $0["type"] as? String ?? "" } == ["user_member", "empty_member", "user_member"])
            let pairs = ((rotations.last?["events"] as? [[String: Any]])?.first?["assignment_strategy"] as? [String: Any]) ?? [:]
            #expect(pairs["type"] as? String == "every_member_assignment_strategy")

            let final = try await live.get("/v3/schedules/\(shifts)?\(window(atHour(13), atHour(15)))&\(includeFinal)&time_zone=UTC").schedule
            #expect(computedAssignments(final) == [
                "2024-01-11T04:00:00Z 2024-01-11T05:00:00Z PALICE1 rotation PROT001",
                "2024-01-11T05:00:00Z 2024-01-11T06:00:00Z empty rotation PROT001",
            ])
            #expect((final["final_schedule"] as? [String: Any])?["rendered_coverage_percentage"] as? Double == 50, "an empty slot is no coverage")
        }
    }

    @Test func finalScheduleTimesAreInTheSchedulesZoneUnlessOneIsAskedFor() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let base = "/v3/schedules/\(shifts)?\(window(atHour(1), atHour(2)))&\(includeFinal)"
            let local = computedAssignments(try await live.get(base).schedule)
            #expect(local.first == "2024-01-10T11:00:00-05:00 2024-01-10T12:00:00-05:00 PALICE1 rotation PROT001")
            let utc = computedAssignments(try await live.get(base + "&time_zone=UTC").schedule)
            #expect(utc.first == "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation PROT001")
            let kolkata = computedAssignments(try await live.get(base + "&time_zone=Asia%2FKolkata").schedule)
            #expect(kolkata.first == "2024-01-10T21:30:00+05:30 2024-01-10T22:30:00+05:30 PALICE1 rotation PROT001")
            #expect(try await live.get(base + "&time_zone=Mars%2FOlympus_Mons").status == 400)

            let overrides = try await live.get("/v3/schedules/\(shifts)/overrides?\(day)").list("overrides")
            #expect(overrides.first?["start_time"] as? String == "2024-01-10T12:00:00-05:00")
            let utcOverrides = try await live.get("/v3/schedules/\(shifts)/overrides?\(day)&time_zone=UTC").list("overrides")
            #expect(utcOverrides.first?["start_time"] as? String == "2024-01-10T17:00:00Z")
        }
    }

    @Test func finalScheduleIsCutAtTheWindowUnlessOverflow() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let base = "/v3/schedules/\(shifts)?\(window(atHour(1), atHour(2)))&\(includeFinal)&time_zone=UTC"
            let cut = try await live.get(base).schedule
            let whole = try await live.get(base + "&overflow=true").schedule
            #expect(computedAssignments(cut) == [
                "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PALICE1 rotation PROT001",
                "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PCHAND1 rotation PROT002",
                "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PDANA01 rotation PROT002",
                "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PEMEKA1 custom PCUST01",
            ])
            #expect(computedAssignments(whole) == [
                "2024-01-10T05:00:00Z 2024-01-11T05:00:00Z PALICE1 rotation PROT001",
                "2024-01-10T14:00:00Z 2024-01-10T22:00:00Z PCHAND1 rotation PROT002",
                "2024-01-10T14:00:00Z 2024-01-10T19:00:00Z PDANA01 rotation PROT002",
                "2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PEMEKA1 custom PCUST01",
            ])
        }
    }

    @Test func overridesAndCustomShiftsNeedAWindowAndAreCutAtIt() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            for list in ["overrides", "custom_shifts"] {
                let path = "/v3/schedules/\(shifts)/\(list)"
                #expect(try await live.get(path).status == 400, "\(list) without a window")
                #expect(try await live.get("\(path)?since=\(encoded(atHour(0)))").status == 400, "\(list) without until")
                #expect(try await live.get("\(path)?\(window(atHour(2), atHour(1)))").status == 400, "\(list) with since after until")
            }
            let overrides = try await live.get("/v3/schedules/\(shifts)/overrides?\(window(atHour(2.5), atHour(5)))&time_zone=UTC")
            #expect(overrides.list("overrides").map { "\($0["id"]!) \($0["start_time"]!) \($0["end_time"]!)" } == [
                "PORV002 2024-01-10T17:30:00Z 2024-01-10T18:00:00Z",
                "PORV001 2024-01-10T19:00:00Z 2024-01-10T20:00:00Z",
            ])
            let first = overrides.list("overrides").first ?? [:]
            #expect(first["custom_shift_id"] as? String == SmallAccountIDs.customShift)
            #expect(first["rotation_id"] == nil)
            #expect((first["overridden_member"] as? [String: Any])?["user_id"] as? String == SmallAccountIDs.emeka)
            #expect((first["overriding_member"] as? [String: Any])?["user_id"] as? String == SmallAccountIDs.bob)
            #expect((first["self"] as? String)?.hasSuffix("/v3/schedules/\(shifts)/overrides/PORV002") == true)
            #expect(overrides.list("overrides").last?["rotation_id"] as? String == SmallAccountIDs.pairRotation)

            let whole = try await live.get("/v3/schedules/\(shifts)/overrides?\(window(atHour(2.5), atHour(5)))&time_zone=UTC&overflow=true")
            #expect(whole.list("overrides").map { "\($0["start_time"]!) \($0["end_time"]!)" } == [
                "2024-01-10T17:00:00Z 2024-01-10T18:00:00Z", "2024-01-10T19:00:00Z 2024-01-10T21:00:00Z",
            ])

            let custom = try await live.get("/v3/schedules/\(shifts)/custom_shifts?\(window(atHour(2), atHour(5)))&time_zone=UTC")
            let shift = custom.list("custom_shifts").first ?? [:]
            #expect(custom.list("custom_shifts").count == 1)
            #expect(shift["start_time"] as? String == "2024-01-10T17:00:00Z")
            #expect(shift["end_time"] as? String == "2024-01-10T18:00:00Z")
            let assignment = (shift["assignments"] as? [[String: Any]])?.first ?? [:]
            #expect((assignment["member"] as? [String: Any])?["user_id"] as? String == SmallAccountIDs.emeka,
                    "the custom shift's own member; the override is listed under overrides")
        }
    }

    @Test func overridesPageBy25UpTo100WithoutTotal() async throws {
        let overrides = (0..<130).map { index in
            SimulatedOverride(
                id: String(format: "O%03d", index), start: iso("2024-01-10T00:00:00Z").addingTimeInterval(Double(index) * 600),
                end: iso("2024-01-10T00:00:00Z").addingTimeInterval(Double(index + 1) * 600), userId: "PBOB001", rotationId: "R1",
                overriddenUserId: "PALICE1"
            )
        }
        let schedule = shiftSchedule(rotations: [rotation("R1", start: "2024-01-01T00:00:00Z", members: ["PALICE1"])], overrides: overrides)
        try await withLiveSimulator(shiftAccount(schedule)) { live in
            let query = window("2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z")
            let first = try await live.get("/v3/schedules/PSHIFT1/overrides?\(query)&total=true")
            #expect(first.json.keys.sorted() == ["limit", "more", "offset", "overrides"])
            #expect(first.json["limit"] as? Int == 25)
            #expect(first.list("overrides").count == 25)
            #expect(first.json["more"] as? Bool == true)
            let clamped = try await live.get("/v3/schedules/PSHIFT1/overrides?\(query)&limit=500&offset=100")
            #expect(clamped.json["limit"] as? Int == 100)
            #expect(clamped.list("overrides").compactMap { $0["id"] as? String } == (100..<130).map { String(format: "O%03d", $0) })
            #expect(clamped.json["more"] as? Bool == false)
        }
    }

    @Test func onCallsListEveryoneAShiftBasedScheduleHasAtOnce() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let now = try await live.get("/oncalls?escalation_policy_ids%5B%5D=\(SmallAccountIDs.shiftsPolicy)&time_zone=UTC")
            #expect(now.list("oncalls").map { entry in
                let user = (entry["user"] as? [String: Any])?["id"] as? String ?? "?"
                let schedule = (entry["schedule"] as? [String: Any])?["id"] as? String ?? "-"
                return "\(entry["escalation_level"]!) \(user) \(schedule) \(entry["start"]!) \(entry["end"]!)"
            } == [
                "1 PCHAND1 PSCHED2 2024-01-07T15:00:00Z 2024-01-14T15:00:00Z",
                "1 PALICE1 PSHIFT1 2024-01-10T05:00:00Z 2024-01-11T05:00:00Z",
                "1 PCHAND1 PSHIFT1 2024-01-10T14:00:00Z 2024-01-10T22:00:00Z",
                "1 PDANA01 PSHIFT1 2024-01-10T14:00:00Z 2024-01-10T19:00:00Z",
                "2 PDANA01 - <null> <null>",
            ])
            let later = try await live.get("/oncalls?schedule_ids%5B%5D=\(shifts)&\(window(atHour(20), atHour(21)))")
            #expect(later.list("oncalls").isEmpty, "an empty slot puts nobody on call")
        }
    }

    @Test func statisticsNameTheV3Routes() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            _ = try await live.get("/v3/schedules")
            _ = try await live.get("/v3/schedules/\(shifts)")
            _ = try await live.get("/v3/schedules/\(SmallAccountIDs.primary)")
            _ = try await live.get("/v3/schedules/\(shifts)/overrides?\(day)")
            _ = try await live.get("/v3/schedules/\(shifts)/custom_shifts?\(day)")
            #expect(live.simulator.stats.requestsByPath == [
                "/v3/schedules": 1, "/v3/schedules/{id}": 2, "/v3/schedules/{id}/overrides": 1, "/v3/schedules/{id}/custom_shifts": 1,
            ])
            #expect(live.simulator.stats.failures == 1, "the layer-based schedule's 400")
        }
    }
}
