import Approval
import Foundation
import JSON
import NIOHTTP1
import OnCallStore
import SQLiteStore
import PagerDutySimulator
#if canImport(Glibc)
import Glibc
import Timestamps
#endif

/// The webhook under test: a simulated account synced by the real `shiftgate sync` into a cache, and
/// the real `shiftgate serve` over that cache, with one requester on call and one off call.
final class WebhookFixture {
    static let apiKey = "bench-key"
    let simulator: PagerDutySimulator
    let running: RunningSimulator
    /// The account as generated, before the under-sync run changes it.
    let originalAccount: SimulatedAccount
    let database: String
    let now: Date
    let onCall: OnCallStore.User
    let offCall: OnCallStore.User
    let onCallSchedules: [String]
    /// AUTO_APPROVAL_PAGERDUTY_SCHEDULES, by id; all on the first page of `GET /schedules`.
    let allowList: [String]
    let secret: String
    let timestamp: String
    let bodies: (onCall: Data, offCall: Data)
    let signatures: (onCall: String, offCall: String)
    let server: ChildProcess
    let port: Int
    let bodyFiles: (onCall: String, offCall: String)

    private init(simulator: PagerDutySimulator, running: RunningSimulator, originalAccount: SimulatedAccount, database: String, now: Date,
                 onCall: OnCallStore.User, offCall: OnCallStore.User, onCallSchedules: [String], allowList: [String], secret: String,
                 timestamp: String, bodies: (Data, Data), signatures: (String, String), server: ChildProcess, port: Int,
                 bodyFiles: (String, String)) {
        self.simulator = simulator
        self.running = running
        self.originalAccount = originalAccount
        self.database = database
        self.now = now
        self.onCall = onCall
        self.offCall = offCall
        self.onCallSchedules = onCallSchedules
        self.allowList = allowList
        self.secret = secret
        self.timestamp = timestamp
        self.bodies = bodies
        self.signatures = signatures
        self.server = server
        self.port = port
        self.bodyFiles = bodyFiles
    }

    static func prepare(lab: Lab, settings: BenchSettings, report: BenchReport) async throws -> WebhookFixture {
        let now = Date()
        report.progress("generating \(settings.webhookSchedules) schedules / \(settings.webhookUsers) users and syncing them")
        let account = SimulatedAccount.generate(users: settings.webhookUsers, schedules: settings.webhookSchedules, seed: 7, now: now)
        // The webhook's cache only has to exist; its sync runs unthrottled (the sync section measures pacing).
        let simulator = PagerDutySimulator(account: account, options: SimulatorOptions(apiKeys: [apiKey], rateLimitPerWindow: 1_000_000_000))
        let running = try await RunningSimulator.start(simulator)
        let database = lab.path("webhook.sqlite")
        let (usage, child) = try await lab.sync(apiURL: running.baseURL, key: apiKey, database: database, rateLimit: 1_000_000, label: "webhook-sync-1")
        guard usage.succeeded else {
            await running.shutdown()
            throw BenchError("the webhook cache's sync failed (\(usage.status)): \(child.stderr.suffix(2000))")
        }
        report.progress("first sync: \(fmt(usage.wallSeconds)) s, \(child.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")

        guard let snapshot = try OnCallDatabase(path: database, mustExist: true).currentSnapshot() else {
            throw BenchError("the sync left no snapshot")
        }
        let (onCall, onCallSchedules, allowList, offCall) = try chooseRequesters(snapshot, allowed: settings.allowedSchedules, now: now)

        let secret = (0..<2).map { _ in UUID().uuidString.replacingOccurrences(of: "-", with: "") }.joined()
        let timestamp = IndentTime.format(Date())
        let onBody = indentBody(email: onCall.email.lowercased(), name: onCall.name, id: "bench-on")
        let offBody = indentBody(email: offCall.email.lowercased(), name: offCall.name, id: "bench-off")
        let onSignature = IndentSignature.sign(secret: secret, timestamp: timestamp, body: onBody)
        let offSignature = IndentSignature.sign(secret: secret, timestamp: timestamp, body: offBody)
        let onFile = lab.path("oncall-body.json")
        let offFile = lab.path("offcall-body.json")
        try onBody.write(to: URL(fileURLWithPath: onFile))
        try offBody.write(to: URL(fileURLWithPath: offFile))

        try writeReproduceScript(lab: lab, database: database, secret: secret, allowList: allowList, timestamp: timestamp,
                                 signatures: (onSignature, offSignature), bodyFiles: (onFile, offFile))
        let (server, port) = try spawnServer(lab: lab, database: database, secret: secret, allowList: allowList, label: "serve")
        let fixture = WebhookFixture(
            simulator: simulator, running: running, originalAccount: account, database: database, now: now, onCall: onCall, offCall: offCall,
            onCallSchedules: onCallSchedules, allowList: allowList, secret: secret, timestamp: timestamp, bodies: (onBody, offBody),
            signatures: (onSignature, offSignature), server: server, port: port, bodyFiles: (onFile, offFile))
        do {
            try await waitUntilReady(server, port: port)
        } catch {
            await fixture.stop()
            throw error
        }
        return fixture
    }

    /// The real `shiftgate serve` on a free loopback port over `database` (a SQLite path or a
    /// PostgreSQL URL), with the fixture's secret and allow list; `environment` adds to it.
    static func spawnServer(lab: Lab, database: String, secret: String, allowList: [String], label: String,
                            environment: [String: String] = [:], extraArguments: [String] = []) throws -> (ChildProcess, Int) {
        let port = try freeLoopbackPort()
        let server = try ChildProcess.spawn(lab.shiftgate, [
            "serve", "--database", database, "--host", "127.0.0.1", "--port", String(port),
            "--max-clock-skew", "1h", "--max-staleness", "24h",
        ] + extraArguments, environment: [
            "INDENT_WEBHOOK_SECRET": secret, "AUTO_APPROVAL_PAGERDUTY_SCHEDULES": allowList.joined(separator: ","), "LOG_LEVEL": "info",
        ].merging(environment) { $1 }, stdoutPath: lab.path("\(label).out"), stderrPath: lab.path("\(label).err"))
        return (server, port)
    }

    /// Waits (up to a minute) for `/readyz` on `port` to answer 200.
    static func waitUntilReady(_ server: ChildProcess, port: Int) async throws {
        let deadline = monotonicSeconds() + 60
        while true {
            if let reply = await httpGet(URL(string: "http://127.0.0.1:\(port)/readyz")!, timeout: 2), reply.status == 200 { return }
            if monotonicSeconds() > deadline || kill(server.pid, 0) != 0 {
                throw BenchError("shiftgate serve did not become ready: \(server.stderr.suffix(2000))")
            }
            await sleep(seconds: 0.1)
        }
    }

    /// With `--keep`, `serve.sh` in the lab starts the same server again (port 8080 unless `PORT` is set)
    /// and prints the wrk commands of the throughput runs, for profiling by hand.
    static func writeReproduceScript(lab: Lab, database: String, secret: String, allowList: [String], timestamp: String,
                                     signatures: (onCall: String, offCall: String), bodyFiles: (onCall: String, offCall: String)) throws {
        let wrk = "\(lab.wrk) -t\(wrkThreads) -c\(wrkConnections) -d15s -s \(lab.luaScript) http://127.0.0.1:${PORT}/indent/webhook"
        let script = """
            #!/bin/sh
            # Written by shiftgate-bench: the webhook section's server, as it ran. The secret is a throwaway.
            PORT=${PORT:-8080}
            echo "healthz:  \(lab.wrk) -t\(wrkThreads) -c\(wrkConnections) -d15s -s \(lab.luaScript) http://127.0.0.1:${PORT}/healthz -- GET" >&2
            echo "on call:  \(wrk) -- \(bodyFiles.onCall) \(timestamp) \(signatures.onCall)" >&2
            echo "off call: \(wrk) -- \(bodyFiles.offCall) \(timestamp) \(signatures.offCall)" >&2
            INDENT_WEBHOOK_SECRET=\(secret) AUTO_APPROVAL_PAGERDUTY_SCHEDULES=\(allowList.joined(separator: ",")) LOG_LEVEL=info \\
                exec \(lab.shiftgate) serve --database \(database) --host 127.0.0.1 --port "$PORT" --max-clock-skew 1h --max-staleness 24h "$@"

            """
        let path = lab.path("serve.sh")
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    /// An on-call requester who stays on call for the next three hours in an allow list of
    /// `allowed` schedules from the first page of `GET /schedules`, and one who stays off call.
    static func chooseRequesters(_ snapshot: SnapshotContents, allowed: Int, now: Date)
        throws -> (OnCallStore.User, [String], [String], OnCallStore.User) {
        // The original integration read the first page of /schedules (PagerDuty's default limit, 25;
        // the simulator orders by id), so the allow list must be on it for both to decide alike.
        let firstPage = snapshot.schedules.map(\.id).sorted().prefix(25).map { $0 }
        let checkTimes = stride(from: 0.0, through: 3 * 3600, by: 300).map { now.addingTimeInterval($0) }
        let pageIndex = OnCallIndex(snapshot, policy: ApprovalPolicy(allowedSchedules: firstPage))
        for user in snapshot.users.sorted(by: { $0.id < $1.id }) {
            let decision = Decider.decide(email: user.email, requestedDuration: nil, now: now, index: pageIndex)
            guard decision.isApproved, let scheduleId = decision.scheduleIds.first else { continue }
            let allowList = [scheduleId] + firstPage.filter { $0 != scheduleId }.prefix(max(0, allowed - 1))
            let index = OnCallIndex(snapshot, policy: ApprovalPolicy(allowedSchedules: allowList))
            guard checkTimes.allSatisfy({ Decider.decide(email: user.email, requestedDuration: nil, now: $0, index: index).isApproved }) else { continue }
            let schedules = Decider.decide(email: user.email, requestedDuration: nil, now: now, index: index).scheduleIds
            let allowSet = Set(allowList)
            let teammates = Set(snapshot.members.filter { allowSet.contains($0.scheduleId) }.map(\.userId))
            let candidates = snapshot.users.filter { teammates.contains($0.id) }.sorted { $0.id < $1.id }
                + snapshot.users.filter { !teammates.contains($0.id) }.sorted { $0.id < $1.id }
            guard let off = candidates.first(where: { candidate in
                candidate.id != user.id && checkTimes.allSatisfy {
                    // Not on call in an allowed schedule (on call elsewhere is its own outcome now).
                    [.notOnCall, .outsideRuleSchedules, .escalationLevelTooHigh]
                        .contains(Decider.decide(email: candidate.email, requestedDuration: nil, now: $0, index: index).outcome)
                }
            }) else { continue }
            return (user, schedules, allowList, off)
        }
        throw BenchError("no user is on call for the next three hours in a schedule on the first page of /schedules")
    }

    /// An Indent `access/request` body as Indent sends it (one event, one resource).
    static func indentBody(email: String, name: String, id: String) -> Data {
        let event: [String: Any] = [
            "event": "access/request", "id": id, "timestamp": IndentTime.format(Date()),
            "actor": ["id": "U-\(id)", "kind": "slack/user", "displayName": name, "email": email],
            "resources": [[
                "id": "arn:aws:iam::123456789012:role/prod-admin", "kind": "aws.iam.v1.Role", "displayName": "prod-admin",
                "labels": ["env": "prod"],
            ]],
            "reason": "Investigating an incident",
            "meta": ["labels": ["indent.com/workflow/origin/id": "run-1", "indent.com/workflow/origin/run/id": "bench"]],
        ]
        return try! JSONSerialization.data(withJSONObject: ["events": [event]], options: [.sortedKeys])
    }

    func url(_ path: String) -> URL {
        URL(string: "http://127.0.0.1:\(port)\(path)")!
    }

    var onCallRequest: LoadRequest {
        webhookRequest(body: bodies.onCall, signature: signatures.onCall, expect: "\"access/approve\"")
    }

    /// The on-call request, addressed to another server of the same fixture.
    func onCallRequest(port other: Int) -> LoadRequest {
        webhookRequest(body: bodies.onCall, signature: signatures.onCall, expect: "\"access/approve\"", port: other)
    }

    var offCallRequest: LoadRequest {
        webhookRequest(body: bodies.offCall, signature: signatures.offCall, expect: "\"claims\":[]")
    }

    var healthzRequest: LoadRequest {
        LoadRequest(method: .GET, uri: "/healthz", headers: [("Host", "127.0.0.1:\(port)")], body: [], expectedText: "\"ok\"")
    }

    private func webhookRequest(body: Data, signature: String, expect: String, port other: Int? = nil) -> LoadRequest {
        LoadRequest(method: .POST, uri: "/indent/webhook", headers: [
            ("Host", "127.0.0.1:\(other ?? port)"), ("Content-Type", "application/json"),
            ("X-Indent-Timestamp", timestamp), ("X-Indent-Signature", signature),
        ], body: Array(body), expectedText: expect)
    }

    /// The snapshot the server holds, from `/readyz`.
    func servedSnapshotId() async -> Int64? {
        guard let reply = await httpGet(url("/readyz")),
              let object = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
              let id = object["snapshot_id"] as? NSNumber else { return nil }
        return id.int64Value
    }

    func stop() async {
        _ = await stopChild(server)
        await running.shutdown()
    }
}

/// SIGTERM, then SIGKILL after `grace` seconds if it is still there; returns its rusage.
func stopChild(_ child: ChildProcess, grace: Double = 10) async -> ChildUsage {
    child.signal(SIGTERM)
    let killer = Task {
        await sleep(seconds: grace)
        if !Task.isCancelled { child.signal(SIGKILL) }
    }
    let usage = await child.wait()
    killer.cancel()
    return usage
}

// MARK: Webhook latency and throughput

struct WebhookNumbers {
    var onCall: LoadResult
    var offCall: LoadResult
    var healthz: LoadResult
}

struct WrkResult: Decodable {
    var requests: Int
    var duration_us: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double
    var connect: Int
    var read: Int
    var write: Int
    var status: Int
    var timeout: Int

    var rate: Double { Double(requests) / (Double(duration_us) / 1e6) }
    var errors: Int { connect + read + write + status + timeout }
}

/// wrk's closed-loop throughput settings: two threads (the machine has two cores) and 32 connections.
let wrkThreads = 2
let wrkConnections = 32

func runWrk(lab: Lab, url: URL, arguments: [String], seconds: Int, label: String) async throws -> WrkResult {
    let child = try ChildProcess.spawn(lab.wrk, [
        "-t\(wrkThreads)", "-c\(wrkConnections)", "-d\(seconds)s", "--timeout", "5s", "-s", lab.luaScript, url.absoluteString, "--",
    ] + arguments, stdoutPath: lab.path("\(label).wrk.out"), stderrPath: lab.path("\(label).wrk.err"))
    let usage = await child.wait()
    guard usage.succeeded, let line = child.stdout.split(separator: "\n").first(where: { $0.hasPrefix("SHIFTGATE-WRK ") }) else {
        throw BenchError("wrk failed (\(usage.status)): \(child.stdout.suffix(1000)) \(child.stderr.suffix(1000))")
    }
    return try JSONDecoder().decode(WrkResult.self, from: Data(line.dropFirst("SHIFTGATE-WRK ".count).utf8))
}

func benchWebhook(_ fixture: WebhookFixture, lab: Lab, settings: BenchSettings, report: BenchReport) async throws -> WebhookNumbers {
    report.heading("Webhook: cached decisions next to /healthz")
    report.line("""
        The real release binary `shiftgate serve` (info-level logging to a file, one line per decision, as in \
        production) over a cache written by a real `shiftgate sync` of a simulated account of \
        \(grouped(settings.webhookSchedules)) schedules and \(grouped(settings.webhookUsers)) users. \
        AUTO_APPROVAL_PAGERDUTY_SCHEDULES names \(fixture.allowList.count) schedules. Requests are signed Indent \
        `access/request` bodies (\(fixture.bodies.onCall.count) bytes; signed once by the harness, server run with \
        `--max-clock-skew 1h`). On call: \(fixture.onCall.email.lowercased()) (approved); off call: \
        \(fixture.offCall.email.lowercased()) (a teammate with no shift: no claim).
        """)

    let targets: [(name: String, request: LoadRequest, path: String, wrkArguments: [String])] = [
        ("`GET /healthz` (framework floor)", fixture.healthzRequest, "/healthz", ["GET"]),
        ("`POST /indent/webhook`, on call (approved)", fixture.onCallRequest, "/indent/webhook",
         [fixture.bodyFiles.onCall, fixture.timestamp, fixture.signatures.onCall]),
        ("`POST /indent/webhook`, off call (no claim)", fixture.offCallRequest, "/indent/webhook",
         [fixture.bodyFiles.offCall, fixture.timestamp, fixture.signatures.offCall]),
    ]

    // Every answer is checked once before anything is timed.
    for target in targets {
        let check = try await FixedRateLoad.run(port: fixture.port, requests: [target.request], rate: 50, seconds: 0.2, connections: 1)
        guard check.errors == 0, check.completed > 0 else {
            throw BenchError("\(target.name) did not answer as expected (\(check.wrongAnswers) wrong, \(check.transportErrors) failed)")
        }
    }
    let startRSS = fixture.server.sample()?.rssKiB ?? 0

    // Latency at the fixed rate first, for every endpoint, so that no run follows a saturating one
    // (whose decision-log backlog the server is still writing for a while after).
    let quiet = await waitForQuietMachine(limit: settings.quietWaitSeconds)
    var fixedRows: [[String]] = []
    var fixed: [LoadResult] = []
    for target in targets {
        report.progress("webhook: \(target.name) at \(Int(settings.rate))/s")
        _ = try await FixedRateLoad.run(port: fixture.port, requests: [target.request], rate: settings.rate, seconds: 1)
        let before = fixture.server.sample()
        let machineBefore = MachineCPU.sample(also: fixture.server.pid)
        let commitsBefore = await auditCommits(port: fixture.port)
        let result = try await FixedRateLoad.run(port: fixture.port, requests: [target.request], rate: settings.rate,
                                                 seconds: settings.fixedRateSeconds)
        let commitsAfter = await auditCommits(port: fixture.port)
        let foreign = MachineCPU.sample(also: fixture.server.pid).foreignCores(since: machineBefore)
        let after = fixture.server.sample()
        let cpu = ((after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0)) / Double(max(1, result.completed)) * 1e6
        fixed.append(result)
        report.progress("  p99 \(micros(result.latency.p99)); slowest per second: \(result.worstPerSecond.map { micros($0) }.joined(separator: " · "))")
        fixedRows.append([target.name, fmt(result.achievedRate, 0), micros(result.latency.p50), micros(result.latency.p90),
                          micros(result.latency.p99), micros(result.latency.p999), micros(result.latency.max),
                          micros(result.serviceTime.p99), "\(result.overOneMillisecond)", "\(result.errors)", "\(fmt(cpu, 0)) µs", fmt(foreign, 2),
                          commitsPerSecond(commitsBefore, commitsAfter, result)])
    }

    var wrkRows: [[String]] = []
    var throughput: [Double] = []
    for (position, target) in targets.enumerated() where lab.hasWrk {
        report.progress("webhook: \(target.name) with wrk")
        _ = try await runWrk(lab: lab, url: fixture.url(target.path), arguments: target.wrkArguments, seconds: 2, label: "warm-\(position)")
        let before = fixture.server.sample()
        let result = try await runWrk(lab: lab, url: fixture.url(target.path), arguments: target.wrkArguments,
                                      seconds: settings.wrkSeconds, label: "wrk-\(position)")
        let after = fixture.server.sample()
        let cpu = ((after?.cpuSeconds ?? 0) - (before?.cpuSeconds ?? 0)) / Double(max(1, result.requests)) * 1e6
        throughput.append(result.rate)
        wrkRows.append([target.name, grouped(Int(result.rate)), micros(result.p50), micros(result.p99), micros(result.p999),
                        micros(result.max), "\(result.errors)", "\(fmt(cpu, 0)) µs", mib(kib: after?.rssKiB ?? 0)])
        // Let the server write out the decision log of the burst before the next run.
        await sleep(seconds: 2)
    }
    let peak = fixture.server.sample()

    report.line("\n**Latency at a fixed \(grouped(Int(settings.rate))) requests/second** (\(fmt(settings.fixedRateSeconds, 0)) s per endpoint, 8 keep-alive connections):\n")
    report.table(["endpoint", "achieved/s", "p50", "p90", "p99", "p99.9", "max", "p99 uncorrected", "> 1 ms", "errors", "server CPU / request",
                  "other processes (cores)", "durable audit commits/s (approvals per commit)"], fixedRows)
    report.line("\"Other processes\" is the machine's busy CPU (/proc/stat) less the server's and the harness's own, averaged over the run: work that is not part of the benchmark (another build on this shared machine). Near 0 is a clean run.")
    report.line("Machine: \(quiet); load average after: \(loadAverage()).")
    report.line("Server RSS: \(mib(kib: startRSS)) after loading the snapshot, \(mib(kib: peak?.rssKiB ?? 0)) after the runs, peak (VmHWM) \(mib(kib: peak?.peakRSSKiB ?? 0)).")
    report.line("_How measured: the harness's open-loop generator (Swift NIO, one event loop) sends each request at its slot in a fixed schedule whether or not earlier ones have been answered, and times it from that slot to the last byte of the reply (wrk2's correction for coordinated omission; \"p99 uncorrected\" is from the write instead). Every reply is checked (status 200, a claim for the on-call requester, `\"claims\":[]` for the off-call one); a wrong answer counts as an error. Plain `wrk` has no fixed-rate mode (`-R` is wrk2's), so it is used for throughput only._")
    if lab.hasWrk {
        report.line("\n**Throughput** (wrk, closed loop, \(wrkThreads) threads × \(wrkConnections) connections, \(settings.wrkSeconds) s after a 2 s warm-up):\n")
        report.table(["endpoint", "requests/s", "p50", "p99", "p99.9", "max", "errors", "server CPU / request", "server RSS after"], wrkRows)
        if throughput.count == 3 {
            let ratio = min(throughput[1], throughput[2]) / throughput[0]
            report.line("Decision throughput ÷ /healthz throughput: **\(fmt(ratio, 2))** (on call \(fmt(throughput[1] / throughput[0], 2)), off call \(fmt(throughput[2] / throughput[0], 2)); target ≥ 0.5).")
        }
        report.line("_How measured: `wrk -t\(wrkThreads) -c\(wrkConnections) -d\(settings.wrkSeconds)s -s Benchmarks/webhook.lua URL -- BODY TIMESTAMP SIGNATURE` against the server on loopback; the load generator shares the two cores with the server. Latencies here are closed-loop at saturation (queueing included), so they describe overload, not the service time. Server CPU per request is the server's utime+stime from /proc over the run ÷ requests._")
    }
    try decisionCost(fixture, report: report)
    return WebhookNumbers(onCall: fixed[1], offCall: fixed[2], healthz: fixed[0])
}

// MARK: Durable audit

/// `shiftgate_audit_commits` from the server's `/metrics`: the durable audit path's transactions
/// since start (nil when the server does not report it).
func auditCommits(port: Int) async -> Double? {
    guard let reply = await httpGet(URL(string: "http://127.0.0.1:\(port)/metrics")!, timeout: 5), reply.status == 200 else { return nil }
    let text = String(decoding: reply.body, as: UTF8.self)
    for line in text.split(separator: "\n") where line.hasPrefix("shiftgate_audit_commits ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// Commits per second over a run and the approvals each carried on average ("-" when none).
func commitsPerSecond(_ before: Double?, _ after: Double?, _ result: LoadResult) -> String {
    guard let before, let after, after > before, result.achievedRate > 0 else { return "-" }
    let commits = after - before
    let seconds = Double(result.completed) / result.achievedRate
    return "\(fmt(commits / seconds, 0)) (\(fmt(Double(result.completed) / commits, 1)))"
}

// MARK: Under sync

/// One fixed-rate run that spans a whole `shiftgate sync` into the server's cache, from 1 s before
/// the sync starts to 2 s after the server swapped to its snapshot.
struct LoadDuringSync {
    var load: LoadResult
    var sync: ChildUsage
    var summary: String
    var swappedAfter: Double?
    var snapshot: Int64?
    var serverRSSAfter: ProcessSample?
    /// Cores used by processes outside the benchmark (see `MachineCPU`), averaged over the run.
    var foreignCores: Double
}

func loadDuringSync(_ fixture: WebhookFixture, lab: Lab, settings: BenchSettings, report: BenchReport, rateLimit: Int, label: String) async throws -> LoadDuringSync {
    let requests = [fixture.onCallRequest, fixture.offCallRequest]
    let before = await fixture.servedSnapshotId()
    let machineBefore = MachineCPU.sample(also: fixture.server.pid)
    let load = try await FixedRateLoad.start(port: fixture.port, requests: requests, rate: settings.rate, maxSeconds: 900)
    await sleep(seconds: 1)
    let (usage, child) = try await lab.sync(apiURL: fixture.running.baseURL, key: WebhookFixture.apiKey, database: fixture.database,
                                            rateLimit: rateLimit, label: label)
    let syncEnded = monotonicSeconds()
    var swappedAfter: Double?
    var after = before
    while monotonicSeconds() - syncEnded < 15 {
        after = await fixture.servedSnapshotId()
        if after != before {
            swappedAfter = monotonicSeconds() - syncEnded
            break
        }
        await sleep(seconds: 0.05)
    }
    await sleep(seconds: 2)
    load.stop()
    let result = try await load.finish()
    let foreign = MachineCPU.sample(also: fixture.server.pid).foreignCores(since: machineBefore, alsoExcluded: usage.userSeconds + usage.systemSeconds)
    guard usage.succeeded else { throw BenchError("the under-sync sync failed: \(child.stderr.suffix(2000))") }
    report.progress("  p99 \(micros(result.latency.p99)); slowest per second: \(result.worstPerSecond.map { micros($0) }.joined(separator: " · "))")
    return LoadDuringSync(load: result, sync: usage, summary: child.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                          swappedAfter: swappedAfter, snapshot: after, serverRSSAfter: fixture.server.sample(), foreignCores: foreign)
}

func benchUnderSync(_ fixture: WebhookFixture, lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    report.heading("Webhook while a sync writes a new snapshot")
    let changes = plantChanges(fixture)
    let requests = [fixture.onCallRequest, fixture.offCallRequest]

    let quiet = await waitForQuietMachine(limit: settings.quietWaitSeconds)
    report.progress("under sync: idle run")
    _ = try await FixedRateLoad.run(port: fixture.port, requests: requests, rate: settings.rate, seconds: 1)
    let idleStart = MachineCPU.sample(also: fixture.server.pid)
    let idle = try await FixedRateLoad.run(port: fixture.port, requests: requests, rate: settings.rate, seconds: settings.underSyncIdleSeconds)
    let idleForeign = MachineCPU.sample(also: fixture.server.pid).foreignCores(since: idleStart)
    let rssBefore = fixture.server.sample()

    report.progress("under sync: load while an unthrottled `shiftgate sync` runs")
    let fast = try await loadDuringSync(fixture, lab: lab, settings: settings, report: report, rateLimit: 1_000_000, label: "webhook-sync-2")
    var paced: LoadDuringSync?
    if !settings.quick {
        report.progress("under sync: load while a paced `shiftgate sync --rate-limit 960` runs")
        paced = try await loadDuringSync(fixture, lab: lab, settings: settings, report: report, rateLimit: 960, label: "webhook-sync-3")
    }

    report.line("""
        The server of the webhook section answers a fixed \(grouped(Int(settings.rate))) requests/second (on-call and \
        off-call bodies alternating) while the real `shiftgate sync` re-reads the same \(grouped(settings.webhookSchedules))-schedule / \
        \(grouped(settings.webhookUsers))-user account (\(changes) planted first, for the drift section) and writes a new snapshot \
        into the cache the server reads. **Unthrottled**: `--rate-limit 1000000` against a simulator whose limit is lifted, so \
        that the sync's JSON decoding, the simulator's rendering (in the harness process) and the SQLite write all land in a few \
        seconds on the same two cores: the worst case. \(settings.quick ? "" : "**Paced**: `--rate-limit 960`, as a real sync runs (idle between requests, the same write at the end).")\n
        """)
    func row(_ name: String, _ run: LoadResult, _ foreign: Double) -> [String] {
        [name, grouped(run.completed), "\(run.errors)", micros(run.latency.p50), micros(run.latency.p99), micros(run.latency.p999),
         micros(run.latency.max), "\(run.overOneMillisecond)", fmt(foreign, 2)]
    }
    var rows = [row("idle", idle, idleForeign), row("during an unthrottled sync (\(fmt(fast.sync.wallSeconds)) s)", fast.load, fast.foreignCores)]
    if let paced { rows.append(row("during a paced sync (\(fmt(paced.sync.wallSeconds)) s)", paced.load, paced.foreignCores)) }
    report.table(["run", "requests", "errors", "p50", "p99", "p99.9", "max", "> 1 ms", "other processes (cores)"], rows)
    for (name, run) in [("Unthrottled", fast), ("Paced", paced)] {
        guard let run else { continue }
        report.line("""
            \(name) sync: \(fmt(run.sync.wallSeconds)) s wall, peak RSS \(fmt(run.sync.peakRSSMiB)) MiB (\(run.summary)). The server swapped to \
            snapshot \(run.snapshot.map(String.init) ?? "?") \(run.swappedAfter.map { "\(fmt($0, 2)) s" } ?? "not within 15 s") after the sync exited \
            (it polls every second); server RSS after: \(mib(kib: run.serverRSSAfter?.rssKiB ?? 0)), peak \(mib(kib: run.serverRSSAfter?.peakRSSKiB ?? 0)).
            """)
    }
    report.line("""
        Server RSS before: \(mib(kib: rssBefore?.rssKiB ?? 0)). Errors count refused connections, resets, non-200 replies and wrong \
        answers (a fail-closed reply for the on-call requester would be one). Machine: \(quiet); load average after: \(loadAverage()).
        """)
    report.line("_How measured: the same open-loop generator as above (latency from each request's slot), \(fmt(settings.underSyncIdleSeconds, 0)) s idle, then from 1 s before each sync to 2 s after the server swapped snapshots._")
}

/// Changes the simulated account in schedules that neither requester nor the allow list touches:
/// swaps, overrides, renames, two schedules removed and two added. Returns a description.
func plantChanges(_ fixture: WebhookFixture) -> String {
    var protected = Set(fixture.allowList)
    for schedule in fixture.originalAccount.schedules {
        let people = Set(schedule.layers.flatMap(\.userIds) + schedule.overrides.map(\.userId))
        if people.contains(fixture.onCall.id) || people.contains(fixture.offCall.id) { protected.insert(schedule.id) }
    }
    var swapped = 0, overridden = 0, renamed = 0
    var removed: [String] = []
    let hour = (fixture.now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
    fixture.simulator.updateAccount { account in
        let candidates = account.schedules.indices.filter { !protected.contains(account.schedules[$0].id) }
        for (position, index) in candidates.enumerated() {
            if position % 50 == 0, !account.schedules[index].layers.isEmpty, account.schedules[index].layers[0].userIds.count >= 2 {
                account.schedules[index].layers[0].userIds.swapAt(0, 1)
                swapped += 1
            }
            if position % 125 == 7, let stand = account.schedules[index].layers.first?.userIds.last {
                let start = Date(timeIntervalSince1970: hour + 30 * 3600)
                account.schedules[index].overrides.append(SimulatedOverride(id: "PBOV\(String(format: "%03d", overridden))", start: start,
                                                                            end: start.addingTimeInterval(4 * 3600), userId: stand))
                overridden += 1
            }
            if position % 200 == 3 {
                account.schedules[index].name += " (renamed)"
                renamed += 1
            }
        }
        removed = candidates.suffix(2).map { account.schedules[$0].id }
        let gone = Set(removed)
        account.schedules.removeAll { gone.contains($0.id) }
        for policy in account.escalationPolicies.indices {
            for rule in account.escalationPolicies[policy].rules.indices {
                account.escalationPolicies[policy].rules[rule].targets.removeAll { $0.type == .schedule && gone.contains($0.id) }
            }
            account.escalationPolicies[policy].rules.removeAll { $0.targets.isEmpty }
        }
        if let template = candidates.first.map({ account.schedules[$0] }) {
            for number in 1...2 {
                var copy = template
                copy.id = "PBNEW0\(number)"
                copy.name = "Added by the benchmark \(number)"
                copy.overrides = []
                for layer in copy.layers.indices { copy.layers[layer].id = "PBNL\(number)\(layer)" }
                account.schedules.append(copy)
            }
        }
    }
    return "\(swapped) rotations swapped, \(overridden) overrides added, \(renamed) schedules renamed, 2 removed, 2 added"
}

// MARK: Where a decision's time goes

/// The decision path's steps, timed in process on the same snapshot and bodies: what the server's
/// CPU per request is made of, and what a reload costs.
func decisionCost(_ fixture: WebhookFixture, report: BenchReport) throws {
    let database = try OnCallDatabase(path: fixture.database, mustExist: true)
    let clock = ContinuousClock()
    var contents: SnapshotContents?
    let read = try clock.measure { contents = try database.currentSnapshot() }
    guard let snapshot = contents else { throw BenchError("no snapshot") }
    let policy = ApprovalPolicy(allowedSchedules: fixture.allowList)
    var index: OnCallIndex?
    let build = clock.measure { index = OnCallIndex(snapshot, policy: policy) }
    guard let index else { throw BenchError("no index") }
    let body = fixture.bodies.onCall
    let email = fixture.onCall.email.lowercased()
    let parsedBody = try JSONValue.parse(body)
    let now = Date()
    var sink = 0
    let reply = try JSONValue.parse(Data(try IndentResponder.respond(to: body, roster: .ready(index), now: now).reply))

    func perCall(_ iterations: Int = 3000, _ work: () throws -> Int) rethrows -> String {
        for _ in 0..<200 { sink &+= try work() }
        let elapsed = try clock.measure { for _ in 0..<iterations { sink &+= try work() } }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return "\(fmt(seconds / Double(iterations) * 1e6, 1)) µs"
    }

    let verifier = IndentRequestVerifier(secret: fixture.secret, maxClockSkew: 300)
    let headers = IndentRequestHeaders(signature: fixture.signatures.onCall, timestamp: fixture.timestamp)
    let rows: [[String]] = [
        ["verify the request (HMAC-SHA256 with the server's one keyed state, then the timestamp's skew)", perCall {
            (try? verifier.verify(headers, body: body, now: now).get()) == nil ? 0 : 1
        }],
        ["for scale: signing with the key set up per call (`IndentSignature.sign`)", perCall {
            IndentSignature.sign(secret: fixture.secret, timestamp: fixture.timestamp, body: body).utf8.count
        }],
        ["parse X-Indent-Timestamp (`RFC3339.parse`)", perCall { RFC3339.parse(fixture.timestamp) == nil ? 0 : 1 }],
        ["parse the body (`JSONValue.parse`, Shiftgate's reader)", try perCall { if case .array(let events)? = try JSONValue.parse(body)["events"] { events.count } else { 0 } }],
        ["for scale: `JSONSerialization` alone (before: this, then a cast of its tree)", try perCall { (try JSONSerialization.jsonObject(with: body) as? [String: Any])?.count ?? 0 }],
        ["read `IndentBody` from the parsed tree", try perCall { try IndentBody(parsedBody).events?.count ?? 0 }],
        ["the decision (`Decider.decide`)", perCall { Decider.decide(email: email, requestedDuration: nil, now: now, index: index).isApproved ? 1 : 0 }],
        ["format one time (`IndentTime.format`)", perCall { IndentTime.format(now).utf8.count }],
        ["for scale: the on-call reply written from a `JSONValue` tree (the server writes it without one)", perCall { reply.serialized(sortingKeys: true).count }],
        ["for scale: the same reply through `JSONEncoder` (what it cost before)", try perCall {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(EncodableJSON(reply)).count
        }],
        ["parse + decide + write the reply (`IndentResponder.respond`)", try perCall {
            try IndentResponder.respond(to: body, roster: .ready(index), now: now).reply.count
        }],
    ]
    let sameMeaning = try { () -> Bool in
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try JSONValue.parse(encoder.encode(EncodableJSON(reply))) == reply
    }()
    report.line("\n**Where a decision's CPU goes** (in process, same snapshot and on-call body, per call, single thread):\n")
    report.table(["step", "time per call"], rows)
    report.line("`JSONEncoder`'s text of this reply parses back to \(sameMeaning ? "the same" : "**a different**") tree.")
    report.line("""
        A reload of this snapshot (what the server does once per new snapshot, on SwiftNIO's blocking pool): reading it \
        with `OnCallDatabase.currentSnapshot()` took \(ms(read)), building the `OnCallIndex` \(ms(build)) \
        (\(grouped(snapshot.shifts.count)) shifts, \(grouped(snapshot.users.count)) users).
        """)
    keepAlive(sink)
}

/// `JSONValue` through `JSONEncoder`, to time the encoder the webhook used before its own writer.
struct EncodableJSON: Encodable {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .number(let number): try container.encode(number)
        case .string(let text): try container.encode(text)
        case .array(let elements): try container.encode(elements.map(EncodableJSON.init))
        case .object(let object): try container.encode(Dictionary(object.map { ($0.key, EncodableJSON($0.value)) }, uniquingKeysWith: { $1 }))
        }
    }
}

/// Keeps a timed loop's result alive so that the optimiser cannot drop the work.
@inline(never)
func keepAlive(_ value: Int) {
    if value == Int.min { print("") }
}
