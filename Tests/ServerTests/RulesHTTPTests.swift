import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OnCallStore
import Server
import SQLiteStore
import Testing
import TestSupport
import Timestamps

/// The webhook and `POST /v1/decisions` with a rules file, over real HTTP on loopback and a real
/// SQLite file. Roster (Fixtures.swift): Jane in Primary (level 1) to T+1h then Secondary (level 2)
/// to T+3h; Raj in Primary from T+4m59s.
@Suite struct RulesHTTPTests {
    static let rules = try! RulesFile.parse("""
        rules:
          - name: prod-data-never
            resources: [{kind: "postgres.*", id: "*prod*"}]
            approve: never
          - name: prod-aws
            resources: [{kind: aws.iam.v1.Role, id: "arn:aws:iam::*:role/prod-*", labels: {env: prod}}]
            schedules: [Primary]
            max_escalation_level: 1
            max_duration: 30m
          - name: read-only
            resources: [{kind: "*", id: "*-readonly"}]
        """, file: "rules.yaml", defaults: ApprovalPolicy())

    static let tokens = ["old-token-\(UUID().uuidString)", "new-token-\(UUID().uuidString)"]

    func request(_ email: String, id: String, resources: [[String: Any]]) -> [String: Any] {
        var event = accessRequest(email, id: id)
        event["resources"] = resources
        return event
    }

    func records(_ database: OnCallDatabase, count: Int) async throws -> [DecisionRecord] {
        var records: [DecisionRecord] = []
        for _ in 0..<100 where records.count < count {
            try await Task.sleep(nanoseconds: 20_000_000)
            records = try database.decisions(since: .distantPast)
        }
        return records
    }

    @Test func theWebhookFollowsTheRulesAndItsClaimsAndAuditNameThem() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules)) { client, database, clock in
            let body = requestBody([
                accessRequest("jane@example.com", id: "prod-role"),  // aws.iam.v1.Role prod-admin, env prod
                request("jane@example.com", id: "prod-db", resources: [["kind": "postgres.database", "id": "orders-prod"]]),
                request("jane@example.com", id: "unmatched", resources: [["kind": "ssh.host", "id": "web-1"]]),
                request("jane@example.com", id: "both", resources: [["kind": "grafana.dashboard", "id": "ops-readonly"],
                                                                   ["kind": "aws.iam.v1.Role", "id": "arn:aws:iam::1:role/prod-x", "labels": ["env": "prod"]]]),
            ])
            let all = try await postClaims(client, body, clock: clock)
            #expect(all.count == 2)
            let prod = try #require(all.first)
            // 30 minutes: prod-aws's max_duration, under Jane's hour left in Primary.
            #expect(labels(prod)["indent.com/time/duration"] == "30m0s")
            #expect(prod["reason"] as? String == "Auto-approved based on being on-call in Primary until \(IndentTime.format(baseTime.addingTimeInterval(3600))) (rule prod-aws)")
            #expect((all.last?["reason"] as? String)?.hasSuffix("(rules read-only, prod-aws)") == true)

            let audit = try await records(database, count: 4)
            let byId = Dictionary(uniqueKeysWithValues: audit.map { ($0.requestId, $0) })
            #expect(byId["prod-role"]?.outcome == "approved" && byId["prod-role"]?.reason.contains("prod-aws") == true)
            #expect(byId["prod-db"]?.outcome == "rule_never")
            #expect(byId["prod-db"]?.reason == "rule prod-data-never never approves postgres.database:orders-prod")
            #expect(byId["unmatched"]?.outcome == "no_rule")
            #expect(byId["both"]?.grantedSeconds == 1800)
        }
    }

    func decide(_ client: any TestClientProtocol, _ body: String, token: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/v1/decisions", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    @Test func withoutATokenTheDecisionAPIIsOffAndOnCallIsOpen() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules)) { client, _, _ in
            let off = try await decide(client, #"{"email": "jane@example.com", "resources": [{"kind": "x"}]}"#, token: nil)
            #expect(off.status == .notFound)
            let lookup = try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get)
            #expect(lookup.status == .ok)
            let ready = json(try await client.execute(uri: "/readyz", method: .get))
            #expect(ready["rules_file"] as? String == "rules.yaml")
            #expect(ready["rules"] as? [String] == ["prod-data-never", "prod-aws", "read-only"])
        }
    }

    @Test func tokensAreRequiredAndEitherRotatingTokenWorks() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules, apiTokens: Self.tokens)) { client, _, _ in
            let body = #"{"email": "jane@example.com", "resources": [{"kind": "grafana.dashboard", "id": "ops-readonly"}]}"#
            for token in [nil, "wrong", Self.tokens[0] + "x", String(Self.tokens[0].dropLast())] {
                let refused = try await decide(client, body, token: token)
                #expect(refused.status == .unauthorized)
                #expect(json(refused)["error"] is String)
                #expect(refused.headers[.wwwAuthenticate] == "Bearer")
            }
            for token in Self.tokens {
                let answered = try await decide(client, body, token: token)
                #expect(answered.status == .ok)
                #expect(json(answered)["approved"] as? Bool == true)
            }
            let lookup = try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get)
            #expect(lookup.status == .unauthorized && json(lookup)["error"] is String)
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(Self.tokens[1])"
            let allowed = try await client.execute(uri: "/v1/oncall?email=jane@example.com", method: .get, headers: headers)
            #expect(allowed.status == .ok && json(allowed)["on_call"] as? Bool == true)
        }
    }

    @Test func decisionsAnswerWithTheRulesAndAreAudited() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules, apiTokens: Self.tokens)) { client, database, clock in
            let approved = try await decide(client, """
                {"email": "JANE@example.com", "duration": "20m",
                 "resources": [{"kind": "aws.iam.v1.Role", "id": "arn:aws:iam::1:role/prod-admin", "labels": {"env": "prod"}}]}
                """, token: Self.tokens[0])
            #expect(approved.status == .ok)
            let reply = json(approved)
            #expect(reply["approved"] as? Bool == true)
            #expect(reply["outcome"] as? String == "approved")
            #expect(reply["rules"] as? [String] == ["prod-aws"])
            #expect(reply["granted_seconds"] as? Int == 1200)
            #expect(reply["until"] as? String == RFC3339.format(clock.now.addingTimeInterval(1200)))
            #expect((reply["schedules"] as? [[String: String]]) == [["id": "PPRIMAR", "name": "Primary"]])
            #expect(reply["snapshot_id"] as? Int == 1)
            #expect(reply["snapshot_age_seconds"] as? Int == 0)
            #expect((reply["reason"] as? String)?.contains("prod-aws") == true)

            let never = json(try await decide(client, #"{"email": "jane@example.com", "resources": [{"kind": "postgres.db", "id": "prod"}]}"#, token: Self.tokens[0]))
            #expect(never["approved"] as? Bool == false && never["outcome"] as? String == "rule_never" && never["rules"] as? [String] == ["prod-data-never"])
            #expect(never["granted_seconds"] is NSNull && never["until"] is NSNull)

            let audit = try await records(database, count: 2)
            #expect(audit.map(\.outcome).sorted() == ["approved", "rule_never"])
            #expect(audit.allSatisfy { $0.requester.lowercased() == "jane@example.com" && !$0.reason.contains(Self.tokens[0]) })
            #expect(audit.first { $0.outcome == "approved" }?.grantedSeconds == 1200)
        }
    }

    @Test(arguments: [
        "not json", "[]", "{}", #"{"email": 3}"#, #"{"email": "a@b.c", "resources": {}}"#, #"{"email": "a@b.c", "resources": [{"id": "x"}]}"#,
        #"{"email": "a@b.c", "resources": [{"kind": "x", "labels": {"a": 1}}]}"#, #"{"email": "a@b.c", "duration": "soon"}"#,
    ])
    func badBodiesAre400WithAJSONError(body: String) async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules, apiTokens: Self.tokens)) { client, _, _ in
            let response = try await decide(client, body, token: Self.tokens[1])
            #expect(response.status == .badRequest)
            #expect(json(response)["error"] is String)
        }
    }

    /// One reader for a requested duration on both routes: what the API refuses with 400, the webhook
    /// refuses too (200 without a claim, outcome `invalid_duration`, audited), with or without rules.
    @Test(arguments: ["0s", "-1h", "forever", "PT1H", "0", "", "-0s", "1h-1m"], [true, false])
    func aDurationThatIsNotOneApprovesNothingOnEitherRoute(duration: String, withRules: Bool) async throws {
        let configuration = ServerConfiguration.forTests(rules: withRules ? Self.rules : nil, apiTokens: Self.tokens)
        try await withWebhook(contents: roster(), configuration: configuration) { client, database, clock in
            var event = request("jane@example.com", id: "odd-duration", resources: [["kind": "grafana.dashboard", "id": "ops-readonly"]])
            event["meta"] = ["labels": ["indent.com/time/duration": duration]]
            let response = try await post(client, requestBody([event]), clock: clock)
            #expect(response.status == .ok)
            #expect(claims(response).isEmpty, "\(duration) approved by the webhook")
            let audit = try await records(database, count: 1)
            #expect(audit.first?.outcome == "invalid_duration")
            #expect(audit.first?.reason.contains("is not a positive duration") == true)

            let body = "{\"email\": \"jane@example.com\", \"duration\": \(String(reflecting: duration)), \"resources\": [{\"kind\": \"grafana.dashboard\", \"id\": \"ops-readonly\"}]}"
            let refused = try await decide(client, body, token: Self.tokens[0])
            #expect(refused.status == .badRequest)
            #expect((json(refused)["error"] as? String)?.contains("is not a positive duration") == true)
        }
    }

    /// Indent's "indefinite" and a huge request both get the shortest limit, on both routes.
    @Test(arguments: ["-1ns", "99999999h"])
    func anEndlessOrHugeDurationIsCappedByTheRule(duration: String) async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules, apiTokens: Self.tokens)) { client, _, clock in
            var event = request("jane@example.com", id: "long", resources: [["kind": "aws.iam.v1.Role", "id": "arn:aws:iam::1:role/prod-admin", "labels": ["env": "prod"]]])
            event["meta"] = ["labels": ["indent.com/time/duration": duration]]
            let claim = try #require(try await postClaims(client, requestBody([event]), clock: clock).first)
            #expect(labels(claim)["indent.com/time/duration"] == "30m0s")
            let body = #"{"email": "jane@example.com", "duration": "\#(duration)", "resources": [{"kind": "aws.iam.v1.Role", "id": "arn:aws:iam::1:role/prod-admin", "labels": {"env": "prod"}}]}"#
            #expect(json(try await decide(client, body, token: Self.tokens[0]))["granted_seconds"] as? Int == 1800)
        }
    }

    /// A key repeated in the decision API's body is refused as the webhook refuses it.
    @Test func repeatedKeysInADecisionBodyAre400() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: Self.rules, apiTokens: Self.tokens)) { client, _, _ in
            let body = #"{"email": "nobody@example.com", "email": "jane@example.com", "resources": [{"kind": "x", "id": "a-readonly"}]}"#
            let response = try await decide(client, body, token: Self.tokens[0])
            #expect(response.status == .badRequest)
            #expect((json(response)["error"] as? String)?.contains("appears twice in one object") == true)
        }
    }

    @Test func aStaleCacheIs503AndApprovesNothing() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(maxStaleness: 900, rules: Self.rules, apiTokens: Self.tokens)) { client, _, clock in
            clock.set(baseTime.addingTimeInterval(901))
            let response = try await decide(client, #"{"email": "jane@example.com", "resources": [{"kind": "x", "id": "a-readonly"}]}"#, token: Self.tokens[0])
            #expect(response.status == .serviceUnavailable)
            let reply = json(response)
            #expect(reply["approved"] as? Bool == false && reply["outcome"] as? String == "stale_cache")
            #expect((reply["error"] as? String)?.contains("stale") == true)
            #expect(reply["snapshot_age_seconds"] as? Int == 901)
        }
    }

    /// Without a rules file the API decides with the AUTO_APPROVAL_* variables, resources or not.
    @Test func withoutARulesFileTheAPIUsesTheVariables() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(apiTokens: Self.tokens)) { client, _, _ in
            let reply = json(try await decide(client, #"{"email": "jane@example.com", "resources": [{"kind": "postgres.db", "id": "prod"}]}"#, token: Self.tokens[0]))
            #expect(reply["approved"] as? Bool == true && reply["granted_seconds"] as? Int == 3 * 3600)
            #expect(reply["rules"] as? [String] == [])
            #expect(reply["reason"] as? String == "Auto-approved based on being on-call in Primary, Secondary until \(IndentTime.format(baseTime.addingTimeInterval(3 * 3600)))")
        }
    }
}

/// Indent bodies whose resources are odd (missing kinds, ids of other types, labels that are not
/// strings, many resources) with a rules file: always a 200 in Indent's shape or a 400, never a
/// crash, and an approval only where every resource's rule allows it.
@Suite struct RulesWebhookRobustnessTests {
    @Test func oddResourcesAreDecidedOrRefusedCleanly() async throws {
        try await withWebhook(contents: roster(), configuration: .forTests(rules: RulesHTTPTests.rules)) { client, _, clock in
            var random = SeededRandom(seed: seed(0x0018_0DD5))
            let kinds: [Any] = ["postgres.db", "aws.iam.v1.Role", "grafana.dashboard", "", 7, NSNull(), ["nested": true], "ssh.host"]
            let ids: [Any] = ["orders-prod", "arn:aws:iam::1:role/prod-x", "ops-readonly", "", 3.5, NSNull(), ["x"]]
            let labels: [Any] = [["env": "prod"], ["env": 1], [:], "prod", NSNull(), ["env": "prod", "extra": ["deep": "x"]]]
            for round in 0..<150 {
                var resources: [[String: Any]] = []
                for _ in 0..<random.below(5) {
                    var resource: [String: Any] = [:]
                    if random.chance(0.9) { resource["kind"] = random.pick(kinds) }
                    if random.chance(0.8) { resource["id"] = random.pick(ids) }
                    if random.chance(0.5) { resource["labels"] = random.pick(labels) }
                    resources.append(resource)
                }
                var event = accessRequest("jane@example.com", id: "odd-\(round)")
                event["resources"] = resources
                let response = try await post(client, requestBody([event]), clock: clock)
                #expect(response.status == .ok || response.status == .badRequest, "round \(round): \(response.status)")
                guard response.status == .ok else { continue }
                let granted = claims(response)
                // Approved only when every resource has a kind and id the rules approve.
                let approvable = !resources.isEmpty && resources.allSatisfy { resource in
                    let kind = resource["kind"] as? String ?? ""
                    let id = resource["id"] as? String ?? ""
                    if kind.hasPrefix("postgres.") && id.contains("prod") { return false }
                    if kind == "aws.iam.v1.Role" && id.hasPrefix("arn:aws:iam::") && id.contains(":role/prod-") {
                        return (resource["labels"] as? [String: Any])?["env"] as? String == "prod"
                    }
                    return id.hasSuffix("-readonly")
                }
                #expect(granted.count == (approvable ? 1 : 0), "round \(round): \(resources)")
            }
        }
    }
}
