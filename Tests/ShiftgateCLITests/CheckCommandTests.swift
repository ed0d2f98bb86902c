import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
import Timestamps

/// `check` as an operator runs it, the built binary over a real SQLite file: times outside the
/// cached window, refusals that say why, resources with labels, and PagerDuty text kept printable.
@Suite struct CheckCommandTests {
    /// A whole minute well inside the snapshot, so the times printed are exact.
    static let T = Date(unixSeconds: Date().unixSeconds - Date().unixSeconds % 60)

    /// One snapshot, window T−1d to T+7d: Jane on call in Identity Pairs 16 (reached only at level 3)
    /// from an hour ago to two hours from now, then in Primary (level 1) from T+1d 09:00 for 8 hours;
    /// Raj on call in Primary now; Sam nowhere. Escape sequences in the Lab schedule's name.
    static func cache(_ directory: TemporaryDirectory) throws -> String {
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        try database.writeSnapshot(SnapshotContents(
            info: SnapshotInfo(startedAt: T, finishedAt: T, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(7 * 86_400)),
            users: [User(id: "PJANE01", name: "Jane Engineer", email: "jane@example.com", timeZone: "UTC"),
                    User(id: "PRAJ001", name: "Raj Engineer", email: "raj@example.com", timeZone: "UTC"),
                    User(id: "PSAM001", name: "Sam Engineer", email: "sam@example.com", timeZone: "UTC")],
            schedules: [Schedule(id: "PPRIMAR", name: "Primary", timeZone: "UTC"),
                        Schedule(id: "PIP16", name: "Identity Pairs 16", timeZone: "UTC", kind: .shiftBased),
                        Schedule(id: "PLAB", name: "Lab\u{1b}[2J\u{7}", timeZone: "UTC")],
            shifts: [Shift(scheduleId: "PIP16", userId: "PJANE01", start: T.addingTimeInterval(-3600), end: T.addingTimeInterval(2 * 3600)),
                     Shift(scheduleId: "PPRIMAR", userId: "PJANE01", start: T.addingTimeInterval(86_400 + 9 * 3600), end: T.addingTimeInterval(86_400 + 17 * 3600)),
                     Shift(scheduleId: "PPRIMAR", userId: "PRAJ001", start: T.addingTimeInterval(-3600), end: T.addingTimeInterval(3 * 3600)),
                     Shift(scheduleId: "PLAB", userId: "PSAM001", start: T.addingTimeInterval(-3600), end: T.addingTimeInterval(3600))],
            policies: [EscalationPolicy(id: "PPOL", name: "Platform")],
            targets: [EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMAR"),
                      EscalationTarget(policyId: "PPOL", level: 3, ruleId: "R3", delayMinutes: 30, kind: .schedule, targetId: "PIP16")]), keep: 5)
        return path
    }

    @Test func outsideTheCachedWindowEveryFormCannotDecide() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try Self.cache(directory)
        let rules = directory.path("rules.yaml")
        try "rules:\n  - name: anything\n    resources: [{kind: \"*\"}]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let inside = try await run(["check", "raj@example.com", "--database", database, "--at", RFC3339.format(Self.T)])
        #expect(inside.status == 0, "\(inside.stdout)\(inside.stderr)")
        for at in [Self.T.addingTimeInterval(30 * 86_400), Self.T.addingTimeInterval(-2 * 86_400), Date(unixSeconds: 1_893_456_000)] {
            let when = RFC3339.format(at)
            for words in [["check", "raj@example.com"], ["check", "sam@example.com", "--format", "json"], ["check", "--schedule", "Primary"],
                          ["check", "raj@example.com", "--rules", rules, "--resource", "ssh.host:web-1"]] {
                let answer = try await run(words + ["--database", database, "--at", when])
                #expect(answer.status == 2, "\(words) at \(when): \(answer.stdout)")
                #expect(answer.stdout.isEmpty)
                #expect(answer.stderr.hasPrefix("shiftgate: cannot decide (outside the cached window, "
                                                + "\(ReadableTime.utc(Self.T.addingTimeInterval(-86_400))) to \(ReadableTime.utc(Self.T.addingTimeInterval(7 * 86_400))) in snapshot 1)"),
                        "\(answer.stderr)")
                #expect(answer.stderr.split(separator: "\n").count == 1)
            }
        }
        // The decision's own window counts: a minute before the cache's start is outside it.
        let edge = try await run(["check", "raj@example.com", "--database", database, "--at", RFC3339.format(Self.T.addingTimeInterval(-86_400 + 30))])
        #expect(edge.status == 2, "\(edge.stdout)")
    }

    @Test func aRefusalSaysWhyInOneLineEach() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try Self.cache(directory)
        let nextShift = "  next shift:  starts \(ReadableTime.utc(Self.T.addingTimeInterval(86_400 + 9 * 3600))) in Primary (PPRIMAR)\n"

        let level = try await run(["check", "jane@example.com", "--database", database], environment: ["AUTO_APPROVAL_MAX_ESCALATION_LEVEL": "1"])
        #expect(level.status == 1)
        #expect(level.stdout.hasPrefix("Jane Engineer <jane@example.com>, PJANE01: on call, not approved (escalation_level_too_high)\n"), "\(level.stdout)")
        #expect(level.stdout.contains("  refused:     on call in Identity Pairs 16 (PIP16), but at escalation level 3 (AUTO_APPROVAL_MAX_ESCALATION_LEVEL is 1)\n"),
                "\(level.stdout)")
        #expect(level.stdout.contains(nextShift), "\(level.stdout)")

        let outside = try await run(["check", "jane@example.com", "--database", database], environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "Primary"])
        #expect(outside.status == 1)
        #expect(outside.stdout.contains("(outside_rule_schedules)"))
        #expect(outside.stdout.contains("  refused:     on call in Identity Pairs 16 (PIP16), but AUTO_APPROVAL_PAGERDUTY_SCHEDULES does not list it\n"), "\(outside.stdout)")
        #expect(outside.stdout.contains(nextShift))

        let rules = directory.path("rules.yaml")
        try """
            rules:
              - name: sre-l1
                resources: [{kind: "aws.*"}]
                max_escalation_level: 1
            """.write(toFile: rules, atomically: true, encoding: .utf8)
        let ruled = try await run(["check", "jane@example.com", "--database", database, "--rules", rules, "--resource", "aws.iam.v1.Role:prod", "--format", "json"])
        #expect(ruled.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ruled.stdout.utf8)) as? [String: Any])
        #expect(json["outcome"] as? String == "escalation_level_too_high")
        #expect(json["reason"] as? String == "Jane Engineer is on call in Identity Pairs 16, but at escalation level 3 (rule sre-l1 allows 1)")

        // Not on call at all: the next shift, or that the cache has none.
        let later = try await run(["check", "jane@example.com", "--database", database, "--at", RFC3339.format(Self.T.addingTimeInterval(3 * 3600))])
        #expect(later.status == 1)
        #expect(later.stdout.contains(": not on call (not_on_call)\n") && later.stdout.contains(nextShift), "\(later.stdout)")
        #expect(!later.stdout.contains("refused:"))
        let never = try await run(["check", "raj@example.com", "--database", database, "--at", RFC3339.format(Self.T.addingTimeInterval(4 * 3600))])
        #expect(never.stdout.contains("  next shift:  none in an allowed schedule before \(ReadableTime.utc(Self.T.addingTimeInterval(7 * 86_400)))"),
                "\(never.stdout)")
    }

    @Test func resourcesCarryLabelsSoLabelRulesCanBeExplained() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try Self.cache(directory)
        let rules = directory.path("rules.yaml")
        try """
            rules:
              - name: prod-never
                resources: [{kind: "*", labels: {env: prod, data: "customer*"}}]
                approve: never
              - name: prod-short
                resources: [{kind: "*", labels: {env: prod}}]
                max_duration: 30m
              - name: everything
                resources: [{kind: "*"}]
            """.write(toFile: rules, atomically: true, encoding: .utf8)
        let base = ["check", "raj@example.com", "--database", database, "--rules", rules, "--resource", "k8s.namespace:payments"]
        let plain = try await run(base)
        #expect(plain.status == 0 && plain.stdout.contains("k8s.namespace:payments -> everything"), "\(plain.stdout)\(plain.stderr)")
        let prod = try await run(base + ["--label", "env=prod"])
        #expect(prod.status == 0 && prod.stdout.contains("k8s.namespace:payments -> prod-short") && prod.stdout.contains("would grant: 30m0s"), "\(prod.stdout)")
        let data = try await run(base + ["--label", "env=prod", "--label", "data=customer-eu"])
        #expect(data.status == 1 && data.stdout.contains("-> prod-never") && data.stdout.contains("(rule_never)"), "\(data.stdout)")

        for (words, problem) in [(["--label", "env=prod"], "--label needs a --resource"), (["--resource", "x", "--label", "=prod"], "--label"),
                                 (["--resource", "x", "--label", "env"], "--label"), (["--resource", "x", "--label", "a=1", "--label", "a=2"], "given twice")] {
            let refused = try await run(["check", "raj@example.com", "--database", database, "--rules", rules] + words)
            #expect(refused.status == 64, "\(words)")
            #expect(refused.stderr.contains(problem), "\(words): \(refused.stderr)")
        }
    }

    @Test func pagerDutyTextIsPrintedWithoutControlCharacters() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try Self.cache(directory)
        let listed = try await run(["check", "--schedule", "PLAB", "--database", database])
        #expect(listed.status == 0)
        #expect(listed.stdout.hasPrefix("Lab\\u{1B}[2J\\u{7} (PLAB, layer-based, UTC): 1 on call"), "\(listed.stdout)")
        let refused = try await run(["check", "sam@example.com", "--database", database], environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "Primary"])
        #expect(refused.stdout.contains("on call in Lab\\u{1B}[2J\\u{7} (PLAB)"), "\(refused.stdout)")
        for output in [listed.stdout, refused.stdout] {
            #expect(!output.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{7}" })
        }
    }
}
