import Approval
import ArgumentParser
import Drift
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import OnCallStore
import PagerDuty
import PagerDutySimulator
import Server
import SQLiteStore
import Sync

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "See Shiftgate work end to end against a simulated PagerDuty, no account needed.",
        discussion: """
            Starts the PagerDuty simulator on a free loopback port, syncs it into ./shiftgate-demo.sqlite,
            starts the webhook with a generated secret, sends signed Indent requests for someone on call in
            a layer-based schedule, someone on call in a shift-based (v3) one, two people on call at once in
            one shift-based schedule, and someone not on call; changes the account (a swap, an override, a
            renamed schedule, a schedule upgraded in place to shift-based), syncs again and prints the drift
            report. Half of the simulated schedules are shift-based (--v3-share).

            Examples:
              swift run -c release shiftgate demo
              shiftgate demo --keep-running     # leave both servers up and print curl lines to try
            """
    )

    @Option(help: ArgumentHelp("The demo's cache.", valueName: "path"))
    var database = "./shiftgate-demo.sqlite"

    @Option(help: "Simulated users.")
    var users = 60

    @Option(help: "Simulated schedules.")
    var schedules = 8

    @Option(help: "The share of simulated schedules that are shift-based (v3), from 0 to 1.")
    var v3Share = 0.5

    @Flag(help: "Leave the simulator and webhook running and print curl lines to try.")
    var keepRunning = false

    func validate() throws {
        guard (0...1).contains(v3Share) else { throw ValidationError("--v3-share must be between 0 and 1") }
        guard users >= 4, schedules >= 3 else { throw ValidationError("the demo needs at least 4 --users and 3 --schedules") }
    }

    func run() async throws {
        LoggingBootstrap.once(level: .warning)
        let logger = LoggingBootstrap.logger("demo")
        let now = Date()
        for suffix in ["", "-wal", "-shm", ".sync-lock"] { try? FileManager.default.removeItem(atPath: database + suffix) }

        // 1. A simulated PagerDuty on loopback.
        let apiKey = "demo-\(UUID().uuidString.prefix(8).lowercased())"
        var options = SimulatorOptions()
        options.apiKeys = [apiKey]
        let simulator = PagerDutySimulator(account: SimulatedAccount.generate(users: users, schedules: schedules, seed: 42, now: now, v3Share: v3Share), options: options)
        let pagerDuty = try await RunningSimulator.start(simulator)
        let shiftBasedCount = simulator.account.schedules.count { $0.kind == .shiftBased }
        say("① Simulated PagerDuty at \(pagerDuty.baseURL.absoluteString): \(users) users, \(schedules) schedules (\(shiftBasedCount) shift-based), \(simulator.account.escalationPolicies.count) escalation policies")

        // 2. Sync it into the cache.
        let cache = SQLiteCacheStore(try OnCallDatabase(path: database))
        let first = try await sync(pagerDuty, apiKey: apiKey, into: cache)
        say("② shiftgate sync → \(database): snapshot \(first.id) with \(first.userCount) users, \(first.scheduleCount) schedules (\(first.shiftBasedScheduleCount) shift-based), \(first.shiftCount) shifts, \(first.onCallCount) on-call entries in \(first.apiRequests) API requests")

        // 3. The webhook, answering from the cache only.
        let secret = (0..<4).map { _ in UUID().uuidString.replacingOccurrences(of: "-", with: "") }.joined()
        var quietLogger = logger
        quietLogger.logLevel = .critical  // the demo prints its own lines; shutdown chatter is noise here
        let (port, webhook) = try await startWebhook(cache: cache, secret: secret, logger: quietLogger)
        say("③ shiftgate serve on http://127.0.0.1:\(port) (webhook secret generated for this run)")

        // 4. Signed Indent requests: someone on call in each kind of schedule, two people on call at
        //    once in one shift-based schedule, someone not on call, and a stranger.
        guard let snapshot = try await cache.currentSnapshot() else { throw fail("the demo's sync left no snapshot") }
        let index = OnCallIndex(snapshot, policy: ApprovalPolicy())
        let kinds = Dictionary(snapshot.schedules.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first })
        let decided = snapshot.users.map { ($0, Decider.decide(email: $0.email, requestedDuration: nil, now: now, index: index)) }
        func onCall(in kind: ScheduleKind, besides others: [OnCallStore.User?] = []) -> OnCallStore.User? {
            decided.first { user, decision in
                decision.isApproved && decision.scheduleIds.contains { kinds[$0] == kind } && !others.contains { $0?.id == user.id }
            }?.0
        }
        let layerBased = onCall(in: .layerBased)
        let shiftBased = onCall(in: .shiftBased, besides: [layerBased])
        let offCall = decided.first { $0.1.outcome == .notOnCall }?.0
        let pair = snapshot.schedules.filter { $0.kind == .shiftBased }.lazy.compactMap { schedule -> (OnCallStore.Schedule, [OnCallStore.User])? in
            let people = index.onCall(scheduleId: schedule.id, at: now).compactMap(\.user)
            return people.count >= 2 ? (schedule, Array(people.prefix(2))) : nil
        }.first
        say("④ Indent asks for access to prod-admin:")
        if let layerBased { try await ask(port: port, secret: secret, layerBased, note: "on call in a layer-based schedule") }
        if let shiftBased { try await ask(port: port, secret: secret, shiftBased, note: "on call in a shift-based (v3) schedule") }
        if let (schedule, people) = pair {
            say("   Two people on call at once in \(schedule.name), a shift-based schedule; both ask:")
            for person in people { try await ask(port: port, secret: secret, person, note: "one of the pair", indent: "     ") }
        }
        if let offCall { try await ask(port: port, secret: secret, offCall, note: nil) }
        let stranger = try await askForAccess(port: port, secret: secret, email: "stranger@elsewhere.example", name: "Stranger")
        say("   stranger@elsewhere.example: \(stranger.claims.isEmpty ? "no approval (not a PagerDuty user)" : "APPROVED (unexpected!)")")

        // 5. The account changes under the rotations: a swap, an override, a rename, an upgrade.
        var changes: [String] = []
        simulator.updateAccount { account in
            let layerBasedIndices = account.schedules.indices.filter { account.schedules[$0].kind == .layerBased }
            if let s = layerBasedIndices.first(where: { account.schedules[$0].layers.first.map { $0.userIds.count >= 2 } ?? false }) {
                account.schedules[s].layers[0].userIds.swapAt(0, 1)
                changes.append("swapped the first two people of \(account.schedules[s].name)")
            }
            if let s = layerBasedIndices.dropFirst().first, let stand = account.users.last {
                let start = Date(unixSeconds: now.unixSeconds - now.unixSeconds % 3600 + 2 * 3600)
                account.schedules[s].overrides.append(SimulatedOverride(id: "PDEMOOV", start: start, end: start.addingTimeInterval(4 * 3600), userId: stand.id))
                changes.append("added an override for \(stand.name) on \(account.schedules[s].name)")
            }
            if account.schedules.count > 2 {
                let old = account.schedules[2].name
                account.schedules[2].name = old + " (renamed)"
                changes.append("renamed \(old)")
            }
        }
        if let upgrade = simulator.account.schedules.last(where: { $0.kind == .layerBased }) {
            _ = try simulator.upgradeSchedule(id: upgrade.id)
            changes.append("upgraded \(upgrade.name) in place to shift-based (same id)")
        }
        say("⑤ PagerDuty changes: " + changes.joined(separator: "; "))
        let second = try await sync(pagerDuty, apiKey: apiKey, into: cache)
        say("   shiftgate sync → snapshot \(second.id)")

        // 6. Drift between the two snapshots.
        guard let before = try await cache.snapshot(id: first.id), let after = try await cache.snapshot(id: second.id) else {
            throw fail("a demo snapshot is missing")
        }
        say("⑥ shiftgate drift:\n")
        print(Drift.render(Drift.diff(from: before, to: after), as: .text))

        if keepRunning {
            let onCall = shiftBased ?? layerBased
            let stamp = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
            say("""
                Running until Ctrl-C. Try:
                  curl -s 'http://127.0.0.1:\(port)/v1/oncall?email=\(onCall?.email.lowercased() ?? "someone@example.com")'
                  curl -s 'http://127.0.0.1:\(port)/v1/oncall?schedule=\(pair?.0.id ?? snapshot.schedules.first?.id ?? "PXXXXXX")'
                  curl -s http://127.0.0.1:\(port)/readyz
                  curl -s http://127.0.0.1:\(port)/metrics | grep shiftgate_
                  BODY='{"events":[{"event":"access/request","actor":{"email":"\(onCall?.email.lowercased() ?? "someone@example.com")"},"resources":[{"id":"prod-admin"}]}]}'
                  TS=\(stamp); SIG=$(printf 'v0:%s:%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac '\(secret)' -hex | sed 's/^.* //')
                  curl -s -X POST http://127.0.0.1:\(port)/indent/webhook -H "X-Indent-Timestamp: $TS" -H "X-Indent-Signature: $SIG" -d "$BODY"
                  PAGERDUTY_KEY=\(apiKey) PAGERDUTY_API_URL=\(pagerDuty.baseURL.absoluteString) shiftgate sync --database \(database)
                """)
            try? await Task.sleep(nanoseconds: .max)
        }
        webhook.cancel()
        _ = await webhook.result
        await pagerDuty.shutdown()
        say("Done. The demo cache stays in \(database): try `shiftgate status --database \(database)`.")
    }

    func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    func sync(_ pagerDuty: RunningSimulator, apiKey: String, into cache: any CacheStore) async throws -> SnapshotInfo {
        let client = PagerDutyClient(configuration: PagerDutyConfiguration(baseURL: pagerDuty.baseURL, apiKey: apiKey, requestsPerMinute: 6000),
                                     logger: LoggingBootstrap.logger("pagerduty"))
        return try await Syncer(client: client, store: cache, logger: LoggingBootstrap.logger("sync")).run()
    }

    func startWebhook(cache: any CacheStore, secret: String, logger: Logger) async throws -> (Int, Task<Void, any Error>) {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try await buildApplication(configuration: ServerConfiguration(port: 0, webhookSecret: secret), store: cache, logger: logger,
                                       onServerRunning: { port in continuation.yield(port) })
        let task = Task { try await app.run() }
        for await port in ports { return (port, task) }
        throw fail("the webhook did not start")
    }

    struct Claim {
        var duration: String
        var expires: String
        var reason: String
    }

    struct Reply {
        var claims: [Claim]
    }

    /// One access request for `user`, and a line with the answer.
    func ask(port: Int, secret: String, _ user: OnCallStore.User, note: String?, indent: String = "   ") async throws {
        // Indent sends whatever case the identity provider has: matching ignores it.
        let email = user.email.lowercased()
        let reply = try await askForAccess(port: port, secret: secret, email: email, name: user.name)
        let who = "\(email) (\(user.name)\(note.map { ", \($0)" } ?? ""))"
        if let claim = reply.claims.first {
            say("\(indent)\(who): APPROVED for \(claim.duration), expires \(claim.expires) — \(claim.reason)")
        } else {
            say("\(indent)\(who): no approval (not on call) — Indent leaves it to a human reviewer")
        }
    }

    func askForAccess(port: Int, secret: String, email: String, name: String) async throws -> Reply {
        let event: [String: Any] = [
            "event": "access/request", "id": UUID().uuidString,
            "actor": ["id": "U\(abs(email.hashValue) % 1_000_000)", "kind": "slack/user", "displayName": name, "email": email],
            "resources": [["id": "arn:aws:iam::123456789012:role/prod-admin", "kind": "aws.iam.v1.Role", "displayName": "prod-admin"]],
            "meta": ["labels": ["indent.com/workflow/origin/id": "demo"]],
        ]
        let body = try JSONSerialization.data(withJSONObject: ["events": [event]])
        let timestamp = IndentTime.format(Date())
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/indent/webhook")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(timestamp, forHTTPHeaderField: "X-Indent-Timestamp")
        request.setValue(IndentSignature.sign(secret: secret, timestamp: timestamp, body: body), forHTTPHeaderField: "X-Indent-Signature")
        let (data, _) = try await URLSession.shared.data(for: request)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let claims = (json["claims"] as? [[String: Any]] ?? []).map { claim -> Claim in
            let labels = (claim["meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
            return Claim(duration: labels["indent.com/time/duration"] ?? "?", expires: labels["indent.com/time/expires"] ?? "?",
                         reason: claim["reason"] as? String ?? "")
        }
        return Reply(claims: claims)
    }
}
