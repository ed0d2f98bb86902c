import Foundation
import PagerDutySimulator
import Testing

/// One reply about shift-based schedules compared with PagerDuty's example of it
/// (`Tests/Fixtures/pagerduty/v3`).
struct V3ShapeCase: Sendable, CustomTestStringConvertible {
    var example: String
    var path: String
    var key: String
    /// The account served; `smallWithShifts` unless a case needs another.
    var account: @Sendable () -> SimulatedAccount = { .smallWithShifts(now: testNow) }
    /// Keys the simulator adds on purpose, by path.
    var extra: [String: Set<String>] = [:]
    /// Paths that may be null where the example has a value.
    var nullable: Set<String> = []
    /// The reply's `key` may be an empty list (the example is one).
    var mayBeEmpty = false
    /// Builds what to compare against from the example (e.g. a list from a single item's example).
    var expected: @Sendable (Any) -> Any = { $0 }

    var testDescription: String { example + (mayBeEmpty ? " (empty)" : "") }
}

/// H … H+24h of `smallWithShifts`: both rotations, an empty slot, the custom shift and both overrides.
private let shiftsDay = window(atHour(0), atHour(24))
private let shifts = SmallAccountIDs.shifts

/// "Weekday business hours" in Los Angeles, one member: the schedule of PagerDuty's upgrade guide.
private func guideAccount() -> SimulatedAccount {
    shiftAccount(shiftSchedule(zone: "America/Los_Angeles", rotations: [
        rotation("ABCDEFGHIJKLMNOPQRSTUVWXY2", start: "2024-01-01T17:00:00Z", shift: 8 * 3600, repeat: 86_400, weekdays: [1, 2, 3, 4, 5], members: ["PALICE1"]),
    ]))
}

/// Every v3 reply, and the v2 replies that name shift-based schedules, have the keys of PagerDuty's
/// examples at every level.
@Suite struct V3ShapeTests {
    static let cases: [V3ShapeCase] = [
        V3ShapeCase(example: "v3/list-v3-schedules.json", path: "/v3/schedules?total=true", key: "schedules"),
        V3ShapeCase(
            example: "v3/get-v3-schedule-final_schedule-from-schema.json", path: "/v3/schedules/\(shifts)?\(shiftsDay)&\(includeFinal)",
            key: "schedule",
            // The example shows every source type but `custom_shift_override`, which has a custom
            // shift's `shift_id` and an override's `override_id`.
            extra: [".schedule.final_schedule.computed_shift_assignments[].source": ["override_id"]]
        ),
        V3ShapeCase(
            example: "v3/get-v3-schedule-final_schedule-from-upgrade-guide.json",
            path: "/v3/schedules/PSHIFT1?\(window("2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"))&\(includeFinal)", key: "schedule",
            account: { guideAccount() }
        ),
        V3ShapeCase(
            example: "v3/get-v3-schedule.json", path: "/v3/schedules/\(shifts)", key: "schedule",
            // PagerDuty's minimal example leaves out the optional keys; without `include[]` there is
            // no final schedule, which this comparison checks.
            extra: [".schedule": ["description", "teams", "escalation_policies", "rotations", "http_cal_url", "web_cal_url", "html_url"]]
        ),
        V3ShapeCase(
            example: "v3/list-v3-overrides-from-schema.json", path: "/v3/schedules/\(shifts)/overrides?\(shiftsDay)", key: "overrides",
            expected: { example in
                // `rotation_id` or `custom_shift_id`, "mutually exclusive": the example shows the first.
                var list = example as! [String: Any]
                var item = (list["overrides"] as! [[String: Any]])[0]
                item["custom_shift_id"] = item.removeValue(forKey: "rotation_id")
                list["overrides"] = (list["overrides"] as! [[String: Any]]) + [item]
                return list
            }
        ),
        V3ShapeCase(
            example: "v3/list-v3-overrides.json", path: "/v3/schedules/\(shifts)/overrides?\(window(atHour(30), atHour(31)))", key: "overrides",
            mayBeEmpty: true
        ),
        V3ShapeCase(
            example: "v3/list-v3-custom-shifts.json", path: "/v3/schedules/\(shifts)/custom_shifts?\(shiftsDay)&total=true", key: "custom_shifts",
            expected: { listExample in
                // The list's example is empty; its items are the single custom shift's example.
                var list = listExample as! [String: Any]
                let single = try! example("v3/get-v3-custom-shift.json") as! [String: Any]
                list["custom_shifts"] = [single["custom_shift"]!]
                return list
            }
        ),
        V3ShapeCase(
            example: "v3/list-v3-custom-shifts.json", path: "/v3/schedules/\(shifts)/custom_shifts?\(window(atHour(30), atHour(31)))",
            key: "custom_shifts", mayBeEmpty: true
        ),
        V3ShapeCase(
            example: "v3/list-oncalls-v3-schedule-from-schema.json", path: "/oncalls?schedule_ids%5B%5D=\(shifts)", key: "oncalls"
        ),
        V3ShapeCase(
            example: "v3/list-oncalls-openapi-example-legacy-schedule.json", path: "/oncalls?schedule_ids%5B%5D=\(SmallAccountIDs.secondary)",
            key: "oncalls"
        ),
        V3ShapeCase(
            example: "v3/get-escalation-policy-v3-target-from-schema.json", path: "/escalation_policies?query=Shifts", key: "escalation_policies",
            expected: { example in
                // The simulator has no single-policy route; the list's items have the same shape.
                let policy = (example as! [String: Any])["escalation_policy"]!
                return ["escalation_policies": [policy], "limit": 25, "offset": 0, "more": false, "total": NSNull()] as [String: Any]
            }
        ),
    ]

    @Test(arguments: cases)
    func replyHasTheExamplesShape(_ shape: V3ShapeCase) async throws {
        let expected = shape.expected(try example(shape.example))
        try await withLiveSimulator(shape.account()) { live in
            let reply = try await live.get(shape.path)
            #expect(reply.status == 200)
            let value = reply.json[shape.key]
            if shape.mayBeEmpty {
                #expect((value as? [Any])?.isEmpty == true)
            } else {
                let nonEmpty = (value as? [Any]).map { !$0.isEmpty } ?? (value is [String: Any])
                #expect(nonEmpty, "\(shape.path) gave nothing to compare")
            }
            let differences = shapeDifferences(reply.json, expected, extra: shape.extra, nullable: shape.nullable)
            #expect(differences.isEmpty, "\(shape.example): \(differences)")
        }
    }

    @Test func shiftBasedSchedulesAreNamedAsV3InPoliciesAndOnCalls() async throws {
        try await withLiveSimulator(.smallWithShifts(now: testNow)) { live in
            let policies = try await live.get("/escalation_policies?query=Shifts").list("escalation_policies")
            let rules = policies.first?["escalation_rules"] as? [[String: Any]] ?? []
            let targets = rules.first?["targets"] as? [[String: Any]] ?? []
            #expect(targets.map { $0["type"] as? String } == ["schedule_v3_reference", "schedule_reference"])
            #expect((targets.first?["self"] as? String)?.hasSuffix("/v3/schedules/\(shifts)") == true)
            #expect(targets.first?["html_url"] as? String == "https://simulated.pagerduty.com/schedules/\(shifts)")
            #expect((targets.last?["self"] as? String)?.hasSuffix("/schedules/\(SmallAccountIDs.secondary)") == true)
            #expect(targets.first?["summary"] as? String == "Shifts")

            let onCalls = try await live.get("/oncalls?schedule_ids%5B%5D=\(shifts)").list("oncalls")
            let schedules = onCalls.compactMap { $0["schedule"] as? [String: Any] }
            #expect(schedules.count == 3)
            #expect(schedules.allSatisfy { $0["type"] as? String == "schedule_v3_reference" })
            #expect(schedules.allSatisfy { ($0["self"] as? String)?.hasSuffix("/v3/schedules/\(shifts)") == true })

            let list = try await live.get("/v3/schedules").list("schedules")
            #expect(list.first?["self"] as? String == "\(live.running.baseURL.absoluteString)/v3/schedules/\(shifts)")
            #expect(list.first?["summary"] as? String == "Shifts")
        }
    }
}
