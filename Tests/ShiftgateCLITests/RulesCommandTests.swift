import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Approval
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
@testable import shiftgate
#if canImport(Glibc)
import Glibc
#endif

/// `rules check`, `serve --rules` (refusals at start, SIGHUP reloads) and `check --resource`, as an
/// operator runs them: the built binary over a real SQLite file.
@Suite(.serialized) struct RulesCommandTests {
    /// A cache whose one snapshot has Jane on call in Primary (level 1) from an hour ago to two
    /// hours from now.
    func cache(_ directory: TemporaryDirectory) throws -> String {
        let now = Date()
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        try database.writeSnapshot(SnapshotContents(
            info: SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400), windowEnd: now.addingTimeInterval(7 * 86_400)),
            users: [User(id: "PJANE01", name: "Jane Engineer", email: "jane@example.com", timeZone: "UTC")],
            schedules: [Schedule(id: "PPRIMAR", name: "Primary", timeZone: "UTC")],
            shifts: [Shift(scheduleId: "PPRIMAR", userId: "PJANE01", start: now.addingTimeInterval(-3600), end: now.addingTimeInterval(2 * 3600))],
            policies: [EscalationPolicy(id: "PPOL", name: "Platform")],
            targets: [EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMAR")]), keep: 5)
        return path
    }

    @Test func rulesCheckAcceptsTheExampleAndLocatesEveryProblem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let example = repositoryRoot.appendingPathComponent("deploy/rules.example.yaml").path
        let good = try await run(["rules", "check", example, "--database", directory.path("none.sqlite")])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("3 rules") && good.stdout.contains("prod-write-sre-l1"))

        // With a snapshot, schedules it does not know are warnings, located, and still exit 0.
        let database = try cache(directory)
        let warned = try await run(["rules", "check", example, "--database", database])
        #expect(warned.status == 0)
        #expect(warned.stderr.contains("\(example):22:17: warning: rule prod-write-sre-l1: schedule 'SRE Primary' is not in snapshot 1"), "\(warned.stderr)")

        let bad = directory.path("bad.yaml")
        try "rules:\n  - name: a\n    resources: [{kind: \"pg.[\"}]\n    max_duration: soon\n  - name: a\n    resources: [{kind: x}]\n    colour: red\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try await run(["rules", "check", bad])
        #expect(refused.status == 64)
        let lines = refused.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(refused.stderr)")
        #expect(lines.allSatisfy { $0.range(of: #"^.+bad\.yaml:\d+:\d+: "#, options: .regularExpression) != nil }, "\(refused.stderr)")
        #expect(lines[0].contains("bad.yaml:3:24: kind 'pg.['"))
        #expect(lines[3].contains("bad.yaml:7:5: unknown key 'colour'"))
    }

    @Test func serveRefusesTheVariablesARulesFileReplacesAndAnInvalidFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let example = repositoryRoot.appendingPathComponent("deploy/rules.example.yaml").path
        let base = ["INDENT_WEBHOOK_SECRET": "s3cr3t-value", "SHIFTGATE_DATABASE": directory.path("c.sqlite")]
        for variable in ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL"] {
            let refused = try await run(["serve", "--port", "0", "--rules", example], environment: base.merging([variable: "1"]) { $1 })
            #expect(refused.status == 64)
            #expect(refused.stderr.contains(variable) && refused.stderr.contains("replaces"), "\(refused.stderr)")
        }
        let bad = directory.path("bad.yaml")
        try "rules:\n  - name: a\n    resources: [{kind: x}]\n    approve: sometimes\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let invalid = try await run(["serve", "--port", "0"], environment: base.merging(["SHIFTGATE_RULES": bad]) { $1 })
        #expect(invalid.status == 64)
        #expect(invalid.stderr.contains("bad.yaml:4:14: 'approve'"), "\(invalid.stderr)")
    }

    @Test func checkExplainsWhichRuleDecided() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try cache(directory)
        let rules = directory.path("rules.yaml")
        try """
            rules:
              - name: prod-never
                resources: [{kind: "postgres.*", id: "*prod*"}]
                approve: never
              - name: ssh-primary
                resources: [{kind: ssh.host}]
                schedules: [Primary]
                max_duration: 45m
            """.write(toFile: rules, atomically: true, encoding: .utf8)
        let approved = try await run(["check", "jane@example.com", "--database", database, "--rules", rules, "--resource", "ssh.host:web-1"])
        #expect(approved.status == 0, "\(approved.stdout)\(approved.stderr)")
        #expect(approved.stdout.contains("ssh.host:web-1 -> ssh-primary (rule 2, \(rules):5: on call in Primary, at most 45m)"), "\(approved.stdout)")
        #expect(approved.stdout.contains("would grant: 45m0s"))
        let refused = try await run(["check", "jane@example.com", "--database", database, "--rules", rules,
                                     "--resource", "ssh.host:web-1", "--resource", "postgres.db:orders-prod", "--resource", "s3.bucket"])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("postgres.db:orders-prod -> prod-never (rule 1, \(rules):2: never)"), "\(refused.stdout)")
        #expect(refused.stdout.contains("s3.bucket -> no rule"))
        #expect(refused.stdout.contains("rule_never"))
    }

    @Test func serveReloadsTheRulesOnSIGHUPAndKeepsThemWhenTheNewFileIsInvalid() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try cache(directory)
        let rules = directory.path("rules.yaml")
        try "rules:\n  - name: everything\n    resources: [{kind: \"*\"}]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let token = "api-token-\(UUID().uuidString)"
        let port = 20_000 + Int.random(in: 0..<20_000)
        let (process, _, errors) = try launch(["serve", "--port", String(port), "--database", database, "--rules", rules],
                                              environment: ["INDENT_WEBHOOK_SECRET": "secret-\(UUID().uuidString)", "SHIFTGATE_API_TOKEN": "other-token,\(token)"])
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        var ready = false
        for _ in 0..<200 where !ready {
            try await Task.sleep(nanoseconds: 50_000_000)
            ready = (try? await httpGet(port: port, path: "/healthz")) == 200
        }
        try #require(ready)
        let body = #"{"email": "jane@example.com", "resources": [{"kind": "ssh.host", "id": "web-1"}]}"#
        let first = try await httpPost(port: port, path: "/v1/decisions", body: body, token: token)
        #expect(first.status == 200)
        #expect(first.json["approved"] as? Bool == true && first.json["rules"] as? [String] == ["everything"])

        // A valid new file: the next decisions follow it.
        try "rules:\n  - name: lockdown\n    resources: [{kind: \"*\"}]\n    approve: never\n".write(toFile: rules, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        var reloaded: [String: Any] = [:]
        for _ in 0..<100 where reloaded["outcome"] as? String != "rule_never" {
            try await Task.sleep(nanoseconds: 50_000_000)
            reloaded = try await httpPost(port: port, path: "/v1/decisions", body: body, token: token).json
        }
        #expect(reloaded["outcome"] as? String == "rule_never" && reloaded["rules"] as? [String] == ["lockdown"])

        // An invalid file: logged with its place, the rules in use stay.
        try "rules:\n  - name: broken\n    resourcez: [{kind: \"*\"}]\n".write(toFile: rules, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(process.isRunning)
        let kept = try await httpPost(port: port, path: "/v1/decisions", body: body, token: token)
        #expect(kept.status == 200 && kept.json["rules"] as? [String] == ["lockdown"])

        kill(process.processIdentifier, SIGTERM)
        await waitForExit(process)
        #expect(process.terminationStatus == 0)
        let log = String(decoding: await readToEnd(errors), as: UTF8.self)
        #expect(log.contains("rules reloaded"), "\(log)")
        #expect(log.contains("rules file invalid; keeping the rules in use"), "\(log)")
        #expect(log.contains("\(rules):3:5: unknown key 'resourcez'"), "\(log)")
        #expect(!log.contains(token))
    }
}

/// POST with a bearer token on loopback; the status and the JSON body.
func httpPost(port: Int, path: String, body: String, token: String) async throws -> (status: Int, json: [String: Any]) {
    try await withCheckedThrowingContinuation { continuation in
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 5
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { return continuation.resume(throwing: error) }
            let json = data.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
            continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, json))
        }.resume()
    }
}

/// deploy/ passes the rules file to serve as a configuration file, and that file is the example.
@Suite struct RulesDeployTests {
    func text(_ path: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func theUnitAndTheManifestsPassTheRulesFile() throws {
        let unit = try text("deploy/shiftgate-serve.service")
        #expect(unit.contains("ExecStart=/usr/local/bin/shiftgate serve ") && unit.contains("--rules /etc/shiftgate/rules.yaml\n"))
        #expect(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"))
        for manifest in ["deploy/kubernetes/deployment.yaml", "deploy/kubernetes/postgres/webhook.yaml"] {
            let yaml = try text(manifest)
            #expect(yaml.contains(#""serve", "--host", "0.0.0.0", "--port", "8080", "--max-staleness", "15m", "--rules", "/etc/shiftgate/rules.yaml"]"#), "\(manifest)")
            #expect(yaml.contains("configMap:\n            name: shiftgate-rules") && yaml.contains("mountPath: /etc/shiftgate\n"), "\(manifest)")
        }
        #expect(try text("deploy/README.md").contains("--from-file=rules.yaml=deploy/rules.example.yaml"))
    }

    /// The README's worked example is deploy/rules.example.yaml, rule for rule, and valid.
    @Test func theReadmesExampleIsTheDeployExample() throws {
        let readme = try text("README.md")
        let section = try #require(readme.range(of: "## Rules\n"))
        let start = try #require(readme.range(of: "```yaml\n", range: section.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "```", range: start.upperBound..<readme.endIndex))
        let shown = try RulesFile.parse(String(readme[start.upperBound..<end.lowerBound]), file: "README.md", defaults: ApprovalPolicy())
        let example = try RulesFile.load(path: repositoryRoot.appendingPathComponent("deploy/rules.example.yaml").path, defaults: ApprovalPolicy())
        #expect(shown.rules.map(\.name) == example.rules.map(\.name))
        #expect(shown.rules.map(\.resources) == example.rules.map(\.resources))
        #expect(shown.rules.map(\.schedules) == example.rules.map(\.schedules))
        #expect(shown.rules.map(\.maxDuration) == example.rules.map(\.maxDuration))
    }
}

/// The decision API's tokens: several, from the variable (commas or newlines), the file (one a
/// line) or systemd's credential; none turns the API off.
@Suite struct APITokenTests {
    @Test func tokensComeFromTheFileTheCredentialOrTheVariable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        try "first-token\n\n  second-token  \n".write(toFile: directory.path("tokens"), atomically: true, encoding: .utf8)
        try "credential-token\n".write(toFile: directory.path("shiftgate-api-token"), atomically: true, encoding: .utf8)
        #expect(try ServeCommand.apiTokens(file: directory.path("tokens"), environment: ["SHIFTGATE_API_TOKEN": "ignored"]) == ["first-token", "second-token"])
        #expect(try ServeCommand.apiTokens(file: nil, environment: ["CREDENTIALS_DIRECTORY": directory.url.path]) == ["credential-token"])
        #expect(try ServeCommand.apiTokens(file: nil, environment: ["SHIFTGATE_API_TOKEN": " old , new\nnewest "]) == ["old", "new", "newest"])
        #expect(try ServeCommand.apiTokens(file: nil, environment: [:]) == [])
        #expect(try ServeCommand.apiTokens(file: nil, environment: ["SHIFTGATE_API_TOKEN": " , "]) == [])
        #expect(throws: (any Error).self) { _ = try ServeCommand.apiTokens(file: directory.path("missing"), environment: [:]) }
    }

    @Test(arguments: [("ssh.host", "ssh.host", ""), ("aws.iam.v1.Role:arn:aws:iam::1:role/prod-x", "aws.iam.v1.Role", "arn:aws:iam::1:role/prod-x"),
                      ("k8s.namespace:payments", "k8s.namespace", "payments")])
    func resourceArguments(text: String, kind: String, id: String) throws {
        let argument = try #require(ResourceArgument(argument: text))
        #expect(argument.resource.kind == kind && argument.resource.id == id)
    }

    @Test func anEmptyKindIsRefused() {
        #expect(ResourceArgument(argument: ":x") == nil)
        #expect(ResourceArgument(argument: "") == nil)
    }
}
