import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OnCallStore
import SQLiteStore
import PagerDutySimulator
import Server
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Simulator options for runs that make thousands of requests: no rate limit in the way.
func unlimitedSimulator(faults: SimulatorFaults = SimulatorFaults()) -> SimulatorOptions {
    SimulatorOptions(apiKeys: [testAPIKey], rateLimitPerWindow: 1_000_000, rateLimitWindowSeconds: 60, faults: faults)
}

/// `shiftgate sync` (the built binary) killed with SIGKILL, and two syncs started together.
@Suite(.serialized) struct KilledSyncTests {
    /// Full reads: the kill points are fractions of a full read's requests (a refresh is far shorter).
    static let syncArguments = ["sync", "--quiet", "--full", "--concurrency", "4", "--rate-limit", "60000"]

    /// Where one kill lands: after the simulator has admitted `afterRequest` requests (during the
    /// fetch), or `intoWrite` seconds after it has admitted all of them (the write to SQLite).
    enum KillPoint: CustomStringConvertible {
        case fetch(afterRequest: Int)
        case write(intoWrite: Double)

        var description: String {
            switch self {
            case .fetch(let count): "fetch, after request \(count)"
            case .write(let seconds): "write, +\(milliseconds(seconds))"
            }
        }
    }

    // About 40 s alone, after `politeStart()`; the limit is a backstop for a saturated machine.
    @Test(.timeLimit(.minutes(4)))
    func aSyncKilledAtRandomPointsLeavesAWholeSnapshotAndServeAnswersThroughout() async throws {
        await politeStart()
        let runSeed = seed(0x5EED_0001)
        // Big enough that the write is measurable; the users list alone is 50 pages.
        let userCount = 5000, scheduleCount = 60
        let account = SimulatedAccount.generate(users: userCount, schedules: scheduleCount, seed: 31)
        try await withSettledSimulator(account, options: unlimitedSimulator()) { running, directory in
            let path = directory.path("cache.sqlite")
            let environment = syncEnvironment(running, database: path)

            // A reference sync: how many requests a whole sync makes, and how long its write takes.
            running.simulator.resetStats()
            let reference = try Child(Self.syncArguments, environment: environment, niceness: 10)
            let referenceStatus = await reference.finish(timeout: 60)
            try #require(referenceStatus == 0, "\(reference.stderr.text)")
            let requestsPerSync = running.simulator.stats.requests
            let database = try OnCallDatabase(path: path, mustExist: true)
            let good = try #require(try database.currentSnapshot())
            let scratch = try OnCallDatabase(path: directory.path("scratch.sqlite"))
            let writeStarted = Date()
            try scratch.writeSnapshot(good, keep: 5)
            let writeSeconds = Date().timeIntervalSince(writeStarted)

            // Someone on call now and for the next hour: serve must approve them throughout.
            let now = Date()
            let probeShift = try #require(good.shifts.first { $0.start <= now.addingTimeInterval(-120) && $0.end >= now.addingTimeInterval(3600) })
            let probeEmail = try #require(good.users.first { $0.id == probeShift.userId }?.email)

            let app = try await buildApplication(configuration: ServerConfiguration.forTests(maxStaleness: 3600, reloadInterval: 0.05, auditSpool: AuditSpool.besideCache(database.path)),
                                           store: SQLiteCacheStore(database), logger: quietLogger)
            try await app.test(.router) { client in
                let served = Tally()
                let serving = Task {
                    var iteration = 0
                    while !Task.isCancelled, iteration < 100_000 {
                        iteration += 1
                        let started = Date()
                        do {
                            let response = try await post(client, requestBody([accessRequest(probeEmail)]), at: Date())
                            let approved = claims(response).count
                            served.add(response.status == .ok && approved == 1 ? "approved" : "wrong")
                            if response.status != .ok || approved != 1 { served.note("webhook \(response.status.code): \(String(buffer: response.body).prefix(200))") }
                            let ready = try await client.execute(uri: "/readyz", method: .get)
                            served.add(ready.status == .ok ? "ready" : "not_ready")
                            if ready.status != .ok { served.note("readyz \(ready.status.code): \(String(buffer: ready.body).prefix(200))") }
                        } catch {
                            served.add("error")
                            served.note("\(error)")
                        }
                        served.add("latency_ms", Int(Date().timeIntervalSince(started) * 1000))
                        try? await Task.sleep(nanoseconds: 15_000_000)
                    }
                }
                defer { serving.cancel() }

                // 24 seeded kill points: half in the fetch, half from the last request's arrival to
                // 1.5 × (the write's time + 30 ms) after it, so that they span the write and its commit.
                var random = SeededRandom(seed: runSeed)
                let points: [KillPoint] = (0..<24).map { index in
                    index % 2 == 0
                        ? .fetch(afterRequest: 1 + random.below(max(1, requestsPerSync - 1)))
                        : .write(intoWrite: Double(random.below(Int((writeSeconds + 0.03) * 1500) + 1)) / 1000)
                }
                var outcomes: [String] = []
                var kept = 0, committed = 0, finishedFirst = 0
                for (index, point) in points.enumerated() {
                    // A little latency stretches the fetch so that kill points spread across it.
                    running.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 3))
                    running.simulator.resetStats()
                    let before = try database.currentSnapshotId()
                    let child = try Child(Self.syncArguments, environment: environment, niceness: 10)
                    let target: Int = switch point {
                    case .fetch(let count): count
                    case .write: requestsPerSync
                    }
                    let deadline = Date().addingTimeInterval(30)
                    while child.process.isRunning, running.simulator.stats.requests < target, Date() < deadline {
                        try await Task.sleep(nanoseconds: 1_000_000)
                    }
                    if case .write(let delay) = point, delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                    let wasRunning = child.process.isRunning
                    child.signal(SIGKILL)
                    let status = await child.finish(timeout: 10)
                    if !wasRunning { finishedFirst += 1 }
                    #expect(!wasRunning ? status == 0 : true, "a sync that ended before its kill failed: \(child.stderr.text)")

                    #expect(try database.integrityCheck() == "ok", "integrity after kill \(index) (\(point))")
                    let problems = try snapshotProblems(database, expectUsers: userCount, expectSchedules: scheduleCount)
                    #expect(problems.isEmpty, "after kill \(index) (\(point)): \(problems)")
                    let after = try database.currentSnapshotId()
                    if after == before { kept += 1 } else { committed += 1 }
                    outcomes.append("\(index): \(point) → \(after == before ? "previous snapshot kept" : "new snapshot committed")")

                    // The next sync after a kill runs to the end.
                    running.simulator.setFaults(SimulatorFaults())
                    let next = try Child(Self.syncArguments, environment: environment, niceness: 10)
                    let nextStatus = await next.finish(timeout: 60)
                    #expect(nextStatus == 0, "the sync after kill \(index) failed: \(next.stderr.text)")
                    #expect(try database.currentSnapshotId() != after, "the sync after kill \(index) wrote no snapshot")
                    #expect(try snapshotProblems(database, expectUsers: userCount, expectSchedules: scheduleCount).isEmpty)
                }
                serving.cancel()
                _ = await serving.result

                let requests = served["approved"] + served["wrong"] + served["error"]
                print("""
                    [reliability] killed sync: seed \(runSeed), \(requestsPerSync) requests per sync, write ≈ \(milliseconds(writeSeconds)); \
                    \(points.count) kills: \(kept) kept the previous snapshot, \(committed) found a new one committed, \(finishedFirst) finished before the kill; \
                    serve answered \(requests) webhook requests during the run (\(served["approved"]) approved as expected, \(served["wrong"]) wrong, \(served["error"]) errors), \
                    readyz \(served["ready"]) ready / \(served["not_ready"]) not; mean round trip \(requests > 0 ? served["latency_ms"] / requests : 0) ms
                    """)
                print(outcomes.map { "  " + $0 }.joined(separator: "\n"))
                #expect(served["wrong"] == 0 && served["error"] == 0 && served["not_ready"] == 0, "\(served.problems)")
                #expect(requests > 50, "serve was barely exercised")
                #expect(kept > 0, "no kill landed before a commit: the kill points missed the sync")
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func twoSyncsStartedTogetherOneRunsTheOtherExits75() async throws {
        await politeStart()
        var options = unlimitedSimulator()
        // Slow enough that both are surely alive at once.
        options.faults.latencyMilliseconds = 25
        try await withSettledSimulator(SimulatedAccount.generate(users: 150, schedules: 12, seed: 8), options: options) { running, directory in
            let path = directory.path("cache.sqlite")
            let environment = syncEnvironment(running, database: path)
            var rounds: [String] = []
            for round in 0..<6 {
                let count = round < 4 ? 2 : 3
                let before = try? OnCallDatabase(path: path, mustExist: true).snapshots().count
                let children = try (0..<count).map { _ in try Child(["sync", "--rate-limit", "60000"], environment: environment) }
                // Each child's exit, timed from its own start.
                let exits = await withTaskGroup(of: (Int, Int32, Double).self) { group in
                    for (index, child) in children.enumerated() {
                        group.addTask { (index, await child.finish(timeout: 60), Date().timeIntervalSince(child.started)) }
                    }
                    var exits: [(Int, Int32, Double)] = []
                    for await exit in group { exits.append(exit) }
                    return exits.sorted { $0.0 < $1.0 }
                }
                let statuses = exits.map(\.1)
                let database = try OnCallDatabase(path: path, mustExist: true)
                #expect(statuses.sorted() == [0] + Array(repeating: 75, count: count - 1), "round \(round): \(statuses)")
                for (child, exit) in zip(children, exits) where exit.1 == 75 {
                    #expect(child.stderr.text.contains("another sync is running"), "\(child.stderr.text)")
                    // It gives up at once instead of waiting for the lock (the winner takes about a second).
                    #expect(exit.2 < 5, "the second sync took \(exit.2)s to give up")
                }
                #expect(try database.integrityCheck() == "ok")
                #expect(try snapshotProblems(database, expectUsers: 150, expectSchedules: 12).isEmpty)
                #expect(try database.snapshots().count == (before ?? 0) + 1, "round \(round): exactly one new snapshot")
                rounds.append("\(count) at once → " + exits.map { "\($0.1) in \(String(format: "%.2f", $0.2))s" }.joined(separator: ", "))
            }
            print("[reliability] overlapping syncs: \(rounds.joined(separator: "; "))")
        }
    }
}
