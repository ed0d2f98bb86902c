import Foundation
import PagerDutySimulator
import Testing

/// `SimulatorFaults.bodyEdits`: bad input on purpose, in good answers only.
@Suite struct BodyEditTests {
    let shifts = SmallAccountIDs.shifts
    let day = window(atHour(0), atHour(24))

    @Test func editsChangeGoodAnswersUnderTheirPrefixOnly() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let detail = "/v3/schedules/\(shifts)?\(day)&\(includeFinal)"
            let original = String(decoding: try await live.get(detail).body, as: UTF8.self)
            #expect(original.contains("\"user_member\""))

            live.simulator.setFaults(SimulatorFaults(bodyEdits: [
                BodyEdit(pathPrefix: "/v3/schedules/\(shifts)", find: "\"user_member\"", replace: "\"group_member\""),
                BodyEdit(pathPrefix: "/v3/schedules/\(shifts)", find: "\"final_schedule\":", replace: "\"final_schedulx\":"),
            ]))
            let edited = try await live.get(detail)
            #expect(edited.status == 200)
            let text = String(decoding: edited.body, as: UTF8.self)
            #expect(!text.contains("\"user_member\""))
            #expect(text.contains("\"group_member\""))
            #expect(edited.schedule["final_schedule"] == nil, "a key renamed away")
            #expect(edited.schedule["final_schedulx"] != nil)
            #expect(text.replacingOccurrences(of: "\"group_member\"", with: "\"user_member\"")
                .replacingOccurrences(of: "\"final_schedulx\":", with: "\"final_schedule\":") == original, "nothing else changed")

            let overrides = String(decoding: try await live.get("/v3/schedules/\(shifts)/overrides?\(day)").body, as: UTF8.self)
            #expect(overrides.contains("\"group_member\""), "the prefix matches the sub-routes too")
            let onCalls = String(decoding: try await live.get("/oncalls").body, as: UTF8.self)
            #expect(!onCalls.contains("group_member"))
            let refused = try await live.get("/v3/schedules/\(shifts)/overrides")
            #expect(refused.status == 400)
            #expect(refused.error["message"] as? String == "Invalid Input Provided", "error answers are left alone")
        }
    }

    @Test func editsAreNotCountedAsFailures() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            live.simulator.setFaults(SimulatorFaults(
                failingPaths: ["/teams": 503], failuresRemaining: 1,
                bodyEdits: [BodyEdit(pathPrefix: "/users", find: "Alice", replace: "Alicia")]
            ))
            for _ in 0..<3 {
                let users = try await live.get("/users")
                #expect(users.status == 200)
                #expect(users.list("users").first?["name"] as? String == "Alicia Nguyen")
            }
            #expect(live.simulator.faults.failuresRemaining == 1)
            #expect(live.simulator.stats.failures == 0)
            #expect(try await live.get("/teams").status == 503, "the counted fault is still there")
        }
    }

    @Test func editsRoundTripThroughTheAdminRoute() async throws {
        try await withLiveSimulator { live in
            let json = #"{"bodyEdits": [{"pathPrefix": "/users", "find": "\"user\"", "replace": "\"robot\""}]}"#
            let put = try await live.request("/_simulator/faults", key: nil, method: "PUT", body: Data(json.utf8))
            #expect(put.status == 200)
            let expected = SimulatorFaults(bodyEdits: [BodyEdit(pathPrefix: "/users", find: "\"user\"", replace: "\"robot\"")])
            #expect(live.simulator.faults == expected)
            let current = try await live.get("/_simulator/faults", key: nil)
            #expect(try JSONDecoder().decode(SimulatorFaults.self, from: current.body) == expected)
            #expect((current.json["bodyEdits"] as? [[String: Any]])?.first?["pathPrefix"] as? String == "/users")
            #expect(try await live.get("/users").list("users").first?["type"] as? String == "robot")
            #expect(try JSONDecoder().decode(SimulatorFaults.self, from: Data("{}".utf8)).bodyEdits.isEmpty)
        }
    }
}
