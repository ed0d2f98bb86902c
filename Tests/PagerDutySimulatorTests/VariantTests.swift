import Foundation
import PagerDutySimulator
import Testing

/// `PagerDutyVariants`: the readings of PagerDuty's unverified behaviour a client can be tested
/// against, each against the default, over real HTTP with `smallWithShifts` (H = 15:00Z).
@Suite struct VariantTests {
    let shifts = SmallAccountIDs.shifts

    func options(_ variants: PagerDutyVariants) -> SimulatorOptions {
        SimulatorOptions(clock: { testNow }, variants: variants)
    }

    @Test func theFinalScheduleMayKeepTheOverriddenMember() async throws {
        let path = "/v3/schedules/\(shifts)?\(window(atHour(4), atHour(6)))&\(includeFinal)&time_zone=UTC"
        let danaReplaced = "2024-01-10T19:00:00Z 2024-01-10T21:00:00Z PBOB001 override PROT002/PORV001"
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let plain = computedAssignments(try await live.get(path).schedule)
            #expect(plain.contains(danaReplaced))
            #expect(!plain.contains { $0.contains("PDANA01") }, "replaced means left out")
        }
        try await withLiveSimulator(.smallWithShifts(now: testNow), options: options(.init(finalScheduleKeepsOverriddenMembers: true))) { live in
            let kept = computedAssignments(try await live.get(path).schedule)
            #expect(kept.contains(danaReplaced))
            #expect(kept.contains("2024-01-10T19:00:00Z 2024-01-10T21:00:00Z PDANA01 rotation PROT002"))
            // Who is on call does not change: only the v3 listing does.
            let onCalls = try await live.get("/oncalls?schedule_ids%5B%5D=\(shifts)&\(window(atHour(5), atHour(5)))").list("oncalls")
            #expect(!onCalls.contains { ($0["user"] as? [String: Any])?["id"] as? String == SmallAccountIDs.dana })
        }
    }

    @Test func overflowFalseMayDropCrossingEntriesInsteadOfCuttingThem() async throws {
        let final = "/v3/schedules/\(shifts)?\(window(atHour(1), atHour(2)))&\(includeFinal)&time_zone=UTC"
        let overrides = "/v3/schedules/\(shifts)/overrides?\(window(atHour(4.5), atHour(5)))"
        let customShifts = "/v3/schedules/\(shifts)/custom_shifts?\(window(atHour(2), atHour(5)))"
        /// How many final-schedule assignments, overrides and custom shifts each reply has.
        func counts(_ live: LiveSimulator, overflow: Bool = false) async throws -> [Int] {
            let suffix = overflow ? "&overflow=true" : ""
            return [
                computedAssignments(try await live.get(final + suffix).schedule).count,
                try await live.get(overrides + suffix).list("overrides").count,
                try await live.get(customShifts + suffix).list("custom_shifts").count,
            ]
        }
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let cut = try await counts(live)
            #expect(cut == [4, 1, 1])
        }
        try await withLiveSimulator(.smallWithShifts(now: testNow), options: options(.init(v3OverflowFalseDropsCrossingEntries: true))) { live in
            let inside = computedAssignments(try await live.get(final).schedule)
            #expect(inside == ["2024-01-10T16:00:00Z 2024-01-10T17:00:00Z PEMEKA1 custom PCUST01"], "only what lies inside the window")
            let dropped = try await counts(live)
            #expect(dropped == [1, 0, 0])
            let whole = try await counts(live, overflow: true)
            #expect(whole == [4, 1, 1], "overflow=true keeps them whole")
        }
    }

    @Test func theV2DetailOfAShiftBasedScheduleMayAnswer404() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let detail = try await live.get("/schedules/\(shifts)")
            #expect(detail.status == 400)
        }
        try await withLiveSimulator(.smallWithShifts(now: testNow), options: options(.init(v2DetailOfShiftBasedAnswers404: true))) { live in
            let detail = try await live.get("/schedules/\(shifts)")
            #expect(detail.status == 404)
            #expect(detail.error["code"] as? Int == 2100)
            let overrides = try await live.get("/schedules/\(shifts)/overrides?\(window(atHour(0), atHour(1)))")
            #expect(overrides.status == 400, "the detail only")
            let v3 = try await live.get("/v3/schedules/\(SmallAccountIDs.primary)")
            #expect(v3.status == 400, "v3 is unchanged")
            let layerBased = try await live.get("/schedules/\(SmallAccountIDs.primary)")
            #expect(layerBased.status == 200)
        }
    }

    @Test func variantsRoundTripThroughJSONWithEveryFieldOptional() throws {
        let decoded = try JSONDecoder().decode(PagerDutyVariants.self, from: Data(#"{"v3OverflowFalseDropsCrossingEntries": true}"#.utf8))
        #expect(decoded == PagerDutyVariants(v3OverflowFalseDropsCrossingEntries: true))
        let all = PagerDutyVariants(finalScheduleKeepsOverriddenMembers: true, v3OverflowFalseDropsCrossingEntries: true, v2DetailOfShiftBasedAnswers404: true)
        #expect(try JSONDecoder().decode(PagerDutyVariants.self, from: JSONEncoder().encode(all)) == all)
        #expect(SimulatorOptions().variants == PagerDutyVariants(), "all false by default")
    }
}
