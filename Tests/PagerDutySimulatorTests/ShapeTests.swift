import Foundation
import PagerDutySimulator
import Testing

/// One reply compared with PagerDuty's example of it.
struct ShapeCase: Sendable, CustomTestStringConvertible {
    var example: String
    var path: String
    /// The reply's top-level list or object, which must not be empty for the comparison to mean anything.
    var key: String
    /// Keys the simulator adds on purpose, by path.
    var extra: [String: Set<String>] = [:]
    /// Paths that may be null where the example has a value.
    var nullable: Set<String> = []

    var testDescription: String { example }
}

private let primaryWindow = window("2024-01-10T15:00:00Z", "2024-01-11T15:00:00Z")

/// Every reply has the keys of PagerDuty's own example, at every level: `type`, `summary`, `self`,
/// `html_url` on objects and references, pagination fields on lists.
@Suite struct ShapeTests {
    static let cases: [ShapeCase] = [
        ShapeCase(example: "get-user.json", path: "/users/\(SmallAccountIDs.alice)", key: "user"),
        ShapeCase(example: "list-users.json", path: "/users", key: "users"),
        ShapeCase(example: "list-schedule-users.json", path: "/schedules/\(SmallAccountIDs.primary)/users?\(primaryWindow)", key: "users"),
        ShapeCase(
            example: "get-schedule.json", path: "/schedules/\(SmallAccountIDs.primary)?\(primaryWindow)&user_id=\(SmallAccountIDs.bob)",
            key: "schedule",
            // PagerDuty's example leaves out an open-ended layer's `end`; the simulator writes null.
            extra: [".schedule.schedule_layers[]": ["end"]]
        ),
        ShapeCase(example: "list-escalation-policies.json", path: "/escalation_policies", key: "escalation_policies"),
        ShapeCase(
            example: "list-oncalls.json", path: "/oncalls", key: "oncalls",
            nullable: [".oncalls[].schedule", ".oncalls[].start", ".oncalls[].end"]
        ),
        ShapeCase(example: "list-schedule-overrides.json", path: "/schedules/\(SmallAccountIDs.primary)/overrides?\(primaryWindow)", key: "overrides"),
        ShapeCase(
            example: "list-schedules-basic-example.json", path: "/schedules", key: "schedules",
            // API.md lists `teams[]` on schedules, which this example happens not to show.
            extra: [".schedules[]": ["teams"]]
        ),
        ShapeCase(
            example: "list-schedules-with-schedule-layers.json", path: "/schedules?include%5B%5D=schedule_layers", key: "schedules",
            extra: [".schedules[]": ["teams"], ".schedules[].schedule_layers[]": ["id"]],
            nullable: [".schedules[].schedule_layers[].end"]
        ),
        ShapeCase(example: "list-teams.json", path: "/teams", key: "teams"),
    ]

    @Test(arguments: cases)
    func replyHasTheExamplesShape(_ shape: ShapeCase) async throws {
        let expected = try example(shape.example)
        try await withLiveSimulator { live in
            let reply = try await live.get(shape.path)
            #expect(reply.status == 200)
            let value = reply.json[shape.key]
            let nonEmpty = (value as? [Any]).map { !$0.isEmpty } ?? (value is [String: Any])
            #expect(nonEmpty, "\(shape.path) gave nothing to compare")
            let differences = shapeDifferences(reply.json, expected, extra: shape.extra, nullable: shape.nullable)
            #expect(differences.isEmpty, "\(shape.example): \(differences)")
        }
    }

    @Test func nextOnCallForUserOnlyWhenAsked() async throws {
        try await withLiveSimulator { live in
            let plain = try await live.get("/schedules/\(SmallAccountIDs.primary)?\(primaryWindow)")
            #expect((plain.json["schedule"] as? [String: Any])?["next_oncall_for_user"] == nil)
            let asked = try await live.get("/schedules/\(SmallAccountIDs.primary)?\(primaryWindow)&user_id=\(SmallAccountIDs.bob)&time_zone=UTC")
            let next = (asked.json["schedule"] as? [String: Any])?["next_oncall_for_user"] as? [String: Any] ?? [:]
            #expect(next["start"] as? String == "2024-01-11T09:00:00Z")
            #expect((next["user"] as? [[String: Any]])?.first?["id"] as? String == SmallAccountIDs.bob)
        }
    }
}
