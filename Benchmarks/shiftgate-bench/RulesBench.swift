import Approval
import Foundation
import OnCallStore
import SQLiteStore

/// Issue #18: decision latency with a 50-rule file against the same server without one. The
/// request's one resource matches only the last rule, so every decision tries all 50.
func benchRules(_ fixture: WebhookFixture, lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    let rulesPath = lab.path("rules-50.yaml")
    try fiftyRules(allowList: fixture.allowList).write(toFile: rulesPath, atomically: true, encoding: .utf8)
    // The allow-list moves into the last rule: with a rules file the variable is refused.
    let (server, port) = try WebhookFixture.spawnServer(lab: lab, database: fixture.database, secret: fixture.secret, allowList: [],
                                                        label: "serve-rules", extraArguments: ["--rules", rulesPath])
    do {
        try await WebhookFixture.waitUntilReady(server, port: port)
    } catch {
        _ = await stopChild(server)
        throw error
    }
    // Both servers must decide alike before their latencies are compared.
    for target in [fixture.port, port] {
        let result = try await FixedRateLoad.run(port: target, requests: [fixture.onCallRequest(port: target)], rate: 50, seconds: 1)
        guard result.errors == 0 else {
            _ = await stopChild(server)
            throw BenchError("rules: the server on port \(target) did not approve the on-call requester (\(result.errors) errors)")
        }
    }
    let quiet = await waitForQuietMachine(limit: settings.quietWaitSeconds)
    let (rows, p99s) = try await alternatingDecisionRuns(
        fixture, [("no rules file (the variables)", fixture.port, fixture.server.pid), ("50 rules, the last one matching", port, server.pid)],
        rounds: settings.quick ? 2 : 3, section: "rules", settings: settings, report: report)
    _ = await stopChild(server)
    func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let without = middle(p99s["no rules file (the variables)"] ?? [.nan])
    let with = middle(p99s["50 rules, the last one matching"] ?? [.nan])
    report.line("\n## Rules (#18): decisions with a 50-rule file\n")
    report.line("""
        Two `shiftgate serve` processes over the webhook section's cache, alternating: the fixture's server (the \
        `AUTO_APPROVAL_*` variables, an allow-list of \(fixture.allowList.count)) and one with `--rules` naming a file of 50 \
        rules (`rules-50.yaml` in the lab) whose last rule alone matches the request's resource and carries the same \
        allow-list. Every decision therefore tries all 50 rules' kind, id and label globs. On-call requester, approved, \
        \(grouped(Int(settings.rate))) requests/second for \(fmt(settings.fixedRateSeconds, 0)) s each.\n
        """)
    report.table(["server", "achieved/s", "p50", "p99", "p99.9", "max", "errors", "other processes (cores)"], rows)
    report.line("\nMedian p99 of the rounds: \(micros(without)) without a rules file, \(micros(with)) with 50 rules: **\(fmt(with / without, 2))×** (target ≤ 1.10×). Machine: \(quiet).")
    try inProcessDecisions(fixture, rulesText: try String(contentsOfFile: rulesPath, encoding: .utf8), report: report)
}

/// The decision alone, in this process, over the same snapshot: `Decider.decide` for the on-call
/// requester with the variables and with the 50 rules, 200,000 times each after 20,000 to warm up.
private func inProcessDecisions(_ fixture: WebhookFixture, rulesText: String, report: BenchReport) throws {
    guard let snapshot = try OnCallDatabase(path: fixture.database, mustExist: true).currentSnapshot() else {
        throw BenchError("the webhook cache has no snapshot")
    }
    let plain = OnCallIndex(snapshot, policy: ApprovalPolicy(allowedSchedules: fixture.allowList))
    let rules = try RulesFile.parse(rulesText, file: "rules-50.yaml", defaults: ApprovalPolicy())
    let ruled = OnCallIndex(snapshot, rules: rules)
    let resources = [ResourceRef(kind: "aws.iam.v1.Role", id: "arn:aws:iam::123456789012:role/prod-admin", labels: ["env": "prod"])]
    let now = Date()
    let email = fixture.onCall.email
    func measure(_ decide: () -> Decision) throws -> (p50: Double, p99: Double) {
        var samples: [UInt64] = []
        samples.reserveCapacity(200_000)
        for round in 0..<220_000 {
            let start = DispatchTime.now().uptimeNanoseconds
            let decision = decide()
            let end = DispatchTime.now().uptimeNanoseconds
            guard decision.isApproved else { throw BenchError("rules: in process, the on-call requester was not approved: \(decision.reason)") }
            if round >= 20_000 { samples.append(end - start) }
        }
        samples.sort()
        return (Double(samples[samples.count / 2]) / 1000, Double(samples[samples.count * 99 / 100]) / 1000)
    }
    var rows: [[String]] = []
    for round in 1...3 {
        let without = try measure { Decider.decide(email: email, requestedDuration: nil, now: now, index: plain) }
        let with = try measure { Decider.decide(email: email, resources: resources, requestedDuration: nil, now: now, index: ruled) }
        rows.append(["\(round)", "\(fmt(without.p50, 2)) / \(fmt(without.p99, 2)) µs", "\(fmt(with.p50, 2)) / \(fmt(with.p99, 2)) µs"])
    }
    report.line("\n**The decision alone, in process** (`Decider.decide` over the same snapshot, the on-call requester, 200,000 decisions a round after 20,000 to warm up; p50 / p99):\n")
    report.table(["round", "the variables", "50 rules, the last one matching"], rows)
}

/// 50 rules: 49 that never match `aws.iam.v1.Role` `arn:aws:iam::123456789012:role/prod-admin`
/// with `env: prod` (other kinds, other ids, other labels), then one that does.
func fiftyRules(allowList: [String]) -> String {
    var lines = ["rules:"]
    for index in 0..<49 {
        lines.append("  - name: rule-\(index)")
        lines.append("    resources:")
        switch index % 4 {
        case 0:
            lines.append("      - kind: \"postgres.\(index).*\"")
            lines.append("        id: \"*prod*\"")
        case 1:
            lines.append("      - kind: aws.iam.v1.Role")
            lines.append("        id: \"arn:aws:iam::*:role/staging-\(index)-*\"")
        case 2:
            lines.append("      - kind: \"aws.iam.v1.*\"")
            lines.append("        labels: {env: staging, team: team-\(index)}")
        default:
            lines.append("      - kind: \"k8s.io/\(index)/*\"")
            lines.append("      - kind: \"ssh.host.\(index)\"")
        }
        if index % 5 == 0 {
            lines.append("    approve: never")
        } else {
            lines.append("    max_duration: \(1 + index % 6)h")
        }
    }
    lines.append("  - name: prod-aws")
    lines.append("    resources:")
    lines.append("      - kind: aws.iam.v1.Role")
    lines.append("        id: \"arn:aws:iam::*:role/prod-*\"")
    lines.append("        labels: {env: prod}")
    if !allowList.isEmpty {
        lines.append("    schedules: [\(allowList.map { "\"\($0)\"" }.joined(separator: ", "))]")
    }
    return lines.joined(separator: "\n") + "\n"
}
