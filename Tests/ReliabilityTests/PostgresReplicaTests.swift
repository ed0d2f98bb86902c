import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OnCallStore
import PagerDutySimulator
import PostgresStore
import Server
import Synchronization
import Testing
import Approval
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Several `serve` replicas and `sync` on one PostgreSQL database, all as the built binaries: what
/// a team running the webhook on more than one host relies on. The database is the test cluster
/// (`PostgresTestCluster`): CI's, or a private one started for the run; without either these tests
/// are skipped with the reason.
@Suite(.serialized) struct PostgresReplicaTests {
    /// Two replicas hear of each new snapshot within a second, both decide, and `audit` shows what
    /// both decided; a replica stopped with SIGTERM writes its audit records first.
    @Test(.timeLimit(.minutes(3)))
    func twoReplicasFollowEachSnapshotAndShareOneAuditLog() async throws {
        await politeStart()
        try await withPostgresCache(SimulatedAccount.generate(users: 300, schedules: 16, seed: 41)) { cache in
            let first = try await cache.sync()
            try #require(first.status == 0, "\(first.stderr)")
            let replicas = try await [cache.startReplica(), cache.startReplica()]
            defer { replicas.forEach { $0.child.signal(SIGKILL) } }
            for replica in replicas {
                let ready = try await replica.waitUntilReady(snapshot: 1)
                #expect(ready, "replica on \(replica.port): \(replica.child.stderr.text)")
            }

            // Each new snapshot reaches both replicas: measured from the moment the database shows
            // it current (polled beside them) to the moment each replica's /readyz names it.
            var delays: [Double] = []
            for round in 0..<5 {
                cache.running.simulator.updateAccount { $0.schedules[round].name += " (round \(round))" }
                let expected = Int64(round + 2)
                let sync = try Child(["sync", "--quiet"], environment: cache.environment)
                // Three watchers at once, each in a tight loop of its own so that one's slowness
                // does not delay another's observation: the database, and each replica's /readyz.
                let deadline = Date().addingTimeInterval(30)
                let store = cache.store
                async let committedAt: Date? = firstTime(until: deadline) { try await store.currentSnapshotId() == expected }
                async let firstSeen: Date? = firstTime(until: deadline) { try await replicas[0].readiness()["snapshot_id"] as? Int == Int(expected) }
                async let secondSeen: Date? = firstTime(until: deadline) { try await replicas[1].readiness()["snapshot_id"] as? Int == Int(expected) }
                let (committed, seenAt) = await (committedAt, [firstSeen, secondSeen])
                #expect(await sync.finish(timeout: 30) == 0, "\(sync.stderr.text)")
                let commit = try #require(committed, "round \(round): snapshot \(expected) never became current")
                for (index, seen) in seenAt.enumerated() {
                    let seen = try #require(seen, "round \(round): replica \(index) never showed snapshot \(expected)")
                    delays.append(max(0, seen.timeIntervalSince(commit)))
                }
            }
            print("[postgres] replicas followed 5 snapshots: delays after commit \(delays.map(milliseconds).joined(separator: ", "))")
            #expect(delays.allSatisfy { $0 < 1 }, "a replica took over a second: \(delays.map(milliseconds))")

            // Both decide, from memory; someone on call now is approved by either.
            let email = try #require(try await cache.someoneOnCall())
            var approvals = 0
            for replica in replicas {
                for _ in 0..<3 {
                    let claims = try await replica.decide(email)
                    approvals += claims.count
                }
            }
            #expect(approvals == 6)

            // A clean stop writes what the replica holds; then `audit` shows the decisions of both.
            for replica in replicas {
                replica.child.signal(SIGTERM)
                #expect(await replica.child.finish(timeout: 20) == 0, "\(replica.child.stderr.text)")
            }
            let audit = try await run(["audit", "--format", "json", "--since", "1h"], environment: cache.environment)
            #expect(audit.status == 0, "\(audit.stderr)")
            let records = (try? JSONSerialization.jsonObject(with: Data(audit.stdout.utf8))) as? [[String: Any]] ?? []
            let approved = records.filter { ($0["outcome"] as? String) == "approved" && ($0["requester"] as? String)?.lowercased() == email.lowercased() }
            #expect(approved.count == 6, "audit: \(audit.stdout.prefix(600))")
        }
    }

    /// Syncs started together on one database, from anywhere: one runs, the others exit 75 at once.
    @Test(.timeLimit(.minutes(2)))
    func syncsStartedTogetherOneRunsTheOthersExit75() async throws {
        await politeStart()
        try await withPostgresCache(SimulatedAccount.generate(users: 150, schedules: 12, seed: 8), latencyMilliseconds: 25) { cache in
            var rounds: [String] = []
            for round in 0..<4 {
                let count = round < 3 ? 2 : 3
                let before = try await cache.store.snapshots().count
                let children = try (0..<count).map { _ in try Child(["sync", "--rate-limit", "60000"], environment: cache.environment) }
                var statuses: [Int32] = []
                for child in children { statuses.append(await child.finish(timeout: 60)) }
                #expect(statuses.sorted() == [0] + Array(repeating: 75, count: count - 1), "round \(round): \(statuses)")
                for (child, status) in zip(children, statuses) where status == 75 {
                    #expect(child.stderr.text.contains("another sync is running"), "\(child.stderr.text)")
                }
                #expect(try await cache.store.snapshots().count == before + 1, "round \(round): exactly one new snapshot")
                let problems = try await snapshotProblems(cache.store.currentSnapshot(), expectUsers: 150, expectSchedules: 12)
                #expect(problems.isEmpty, "\(problems)")
                rounds.append("\(count) at once → \(statuses)")
            }
            print("[postgres] overlapping syncs: \(rounds.joined(separator: "; "))")
        }
    }

    /// A sync SIGKILLed in its fetch or its write: the previous snapshot stays current (or the new
    /// one is whole), and both replicas approve the person on call throughout.
    @Test(.timeLimit(.minutes(4)))
    func aSyncKilledMidWriteLeavesTheReplicasDeciding() async throws {
        await politeStart()
        let users = 3000, schedules = 40
        try await withPostgresCache(SimulatedAccount.generate(users: users, schedules: schedules, seed: 31)) { cache in
            cache.running.simulator.resetStats()
            let reference = try await cache.sync(["--concurrency", "4", "--rate-limit", "60000"])
            try #require(reference.status == 0, "\(reference.stderr)")
            let requestsPerSync = cache.running.simulator.stats.requests
            let email = try #require(try await cache.someoneOnCall(forAtLeast: 3600))
            let replicas = try await [cache.startReplica(maxStaleness: "1h"), cache.startReplica(maxStaleness: "1h")]
            defer { replicas.forEach { $0.child.signal(SIGKILL) } }
            for replica in replicas { try #require(try await replica.waitUntilReady(snapshot: 1)) }

            let served = Tally()
            let serving = Task {
                while !Task.isCancelled {
                    for replica in replicas {
                        do {
                            let claims = try await replica.decide(email)
                            served.add(claims.count == 1 ? "approved" : "wrong")
                        } catch {
                            served.add("error")
                            served.note("\(error)")
                        }
                    }
                    try? await Task.sleep(nanoseconds: 20_000_000)
                }
            }
            defer { serving.cancel() }

            // Kills after 1/4, 1/2 and 3/4 of the requests, and 0–600 ms after the last one
            // (the write: thousands of rows in one transaction).
            let points: [(requests: Int, delay: Double)] = [
                (requestsPerSync / 4, 0), (requestsPerSync / 2, 0), (requestsPerSync * 3 / 4, 0),
                (requestsPerSync, 0), (requestsPerSync, 0.05), (requestsPerSync, 0.15), (requestsPerSync, 0.3), (requestsPerSync, 0.6),
            ]
            var kept = 0, committed = 0
            for (index, point) in points.enumerated() {
                cache.running.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 3))
                cache.running.simulator.resetStats()
                let before = try await cache.store.currentSnapshotId()
                let child = try Child(["sync", "--quiet", "--full", "--concurrency", "4", "--rate-limit", "60000"], environment: cache.environment, niceness: 10)
                let deadline = Date().addingTimeInterval(30)
                while child.process.isRunning, cache.running.simulator.stats.requests < point.requests, Date() < deadline {
                    try await Task.sleep(nanoseconds: 1_000_000)
                }
                if point.delay > 0 { try await Task.sleep(nanoseconds: UInt64(point.delay * 1e9)) }
                child.signal(SIGKILL)
                _ = await child.finish(timeout: 10)
                let after = try await cache.store.currentSnapshotId()
                if after == before { kept += 1 } else { committed += 1 }
                let problems = try await snapshotProblems(cache.store.currentSnapshot(), expectUsers: users, expectSchedules: schedules)
                #expect(problems.isEmpty, "after kill \(index): \(problems)")
                cache.running.simulator.setFaults(SimulatorFaults())
            }
            // The next sync runs to the end: the killed ones left no lock behind.
            let next = try await cache.sync(["--concurrency", "4", "--rate-limit", "60000"])
            #expect(next.status == 0, "\(next.stderr)")
            serving.cancel()
            _ = await serving.result
            print("[postgres] killed sync: \(points.count) kills, \(kept) kept the previous snapshot, \(committed) found a new one committed; replicas answered \(served["approved"]) approved, \(served["wrong"]) wrong, \(served["error"]) errors")
            #expect(kept > 0)
            #expect(served["wrong"] == 0 && served["error"] == 0, "\(served.problems)")
            #expect(served["approved"] > 20)
        }
    }

    /// The database stopped under load and started again: the replica decides from memory while the
    /// snapshot is fresh (no error to Indent), each approval's record fsynced to its spool
    /// (`--audit-spool`) before the reply, refuses once it is stale and says why, and the audit
    /// records of the outage reach the database when it is back, each once.
    @Test(.timeLimit(.minutes(3)))
    func theDatabaseStoppedUnderLoadAndStartedAgain() async throws {
        await politeStart()
        // A cluster of this test's own: stopping the shared one would break the other tests.
        let cluster = try await privatePostgresCluster()
        let outcome: Result<Void, any Error>
        do {
            outcome = .success(try await outage(on: cluster))
        } catch {
            outcome = .failure(error)
        }
        await cluster.shutdown()
        try outcome.get()
    }

    private func outage(on cluster: PostgresTestCluster) async throws {
        let address = try await cluster.makeDatabase()
        try await withPostgresCache(SimulatedAccount.generate(users: 200, schedules: 12, seed: 5), cluster: cluster, address: address) { cache in
            let staleness = 20.0
            let sync = try await cache.sync()
            try #require(sync.status == 0, "\(sync.stderr)")
            // Staleness counts from the snapshot's own finish, which a loaded machine may have
            // reached well before the sync process exited.
            let syncedAt = try #require(try await cache.store.currentSnapshotInfo()).finishedAt
            let email = try #require(try await cache.someoneOnCall(forAtLeast: 3600))
            let spoolDirectory = try TemporaryDirectory("shiftgate-spool")
            defer { spoolDirectory.cleanup() }
            let spoolPath = spoolDirectory.path("audit.spool")
            let replica = try await cache.startReplica(maxStaleness: "\(Int(staleness))s", arguments: ["--audit-spool", spoolPath])
            defer { replica.child.signal(SIGKILL) }
            try #require(try await replica.waitUntilReady(snapshot: 1))

            // Load: a decision every 25 ms, each answer noted with the time it came.
            let answers = Mutex<[(at: Date, approved: Int, error: String?)]>([])
            let load = Task {
                while !Task.isCancelled {
                    do {
                        let claims = try await replica.decide(email)
                        answers.withLock { $0.append((Date(), claims.count, nil)) }
                    } catch {
                        answers.withLock { $0.append((Date(), 0, "\(error)")) }
                    }
                    try? await Task.sleep(nanoseconds: 25_000_000)
                }
            }
            defer { load.cancel() }

            try await Task.sleep(nanoseconds: 2_000_000_000)
            try await cluster.stop()
            let stoppedAt = Date()
            // While fresh: ready, approving, and /readyz names the store's trouble.
            try await Task.sleep(nanoseconds: 3_000_000_000)
            let during = try await replica.readiness()
            #expect(during["status"] as? String == "ready", "\(during)")
            #expect(during["store_error"] != nil, "readyz should say the database is unreachable: \(during)")
            #expect(!(during["store_error"] as? String ?? "").contains(cluster.password ?? "\u{0}"))
            // Approvals made durable in the spool meanwhile, and counted where a probe sees them.
            #expect(during["audit_store_error"] != nil, "\(during)")
            let spooledDuring = during["audit_spooled_records"] as? Int ?? 0
            #expect(spooledDuring > 0, "\(during)")
            #expect(AuditSpool.waitingCount(path: spoolPath) ?? 0 >= spooledDuring)

            // Past --max-staleness: nothing approved, /readyz 503 saying why.
            let staleAt = syncedAt.addingTimeInterval(staleness + 2)
            if staleAt > Date() { try await Task.sleep(nanoseconds: UInt64(staleAt.timeIntervalSinceNow * 1e9)) }
            try await Task.sleep(nanoseconds: 2_000_000_000)
            let stale = try await replica.readiness()
            #expect((stale["status"] as? String ?? "").contains("stale"), "\(stale)")
            try await cluster.start()
            let startedAt = Date()
            load.cancel()
            _ = await load.result

            let all = answers.withLock { $0 }
            let fresh = all.filter { $0.at < syncedAt.addingTimeInterval(staleness - 1) }
            let afterStale = all.filter { $0.at > syncedAt.addingTimeInterval(staleness + 1) }
            let duringOutage = fresh.filter { $0.at > stoppedAt }
            #expect(!duringOutage.isEmpty && duringOutage.allSatisfy { $0.approved == 1 && $0.error == nil },
                    "while fresh every request is approved with no error: \(duringOutage.filter { $0.approved != 1 || $0.error != nil }.prefix(3))")
            #expect(!afterStale.isEmpty && afterStale.allSatisfy { $0.approved == 0 && $0.error == nil }, "once stale nothing is approved")
            #expect(all.allSatisfy { $0.error == nil }, "\(all.compactMap(\.error).prefix(3))")

            // The outage's decisions reach the table once the database is back.
            let expected = all.count
            var written = 0
            let deadline = Date().addingTimeInterval(30)
            while written < expected, Date() < deadline {
                written = (try? await cache.store.decisions(since: syncedAt.addingTimeInterval(-60), limit: 100_000).count) ?? 0
                if written < expected { try await Task.sleep(nanoseconds: 100_000_000) }
            }
            let writtenAfter = Date().timeIntervalSince(startedAt)
            #expect(written == expected, "\(written) of \(expected) decisions in the audit table")
            let records = try await cache.store.decisions(since: syncedAt.addingTimeInterval(-60), limit: 100_000)
            // Every request answered without an approval was refused as stale, and audited so.
            #expect(records.filter { $0.outcome == "stale_cache" }.count == all.filter { $0.approved == 0 }.count)
            #expect(records.filter { $0.outcome == "approved" }.count == all.filter { $0.approved == 1 }.count)
            // None twice, and the spool emptied into the table.
            #expect(Set(records.map(\.requestId)).count == records.count, "a record written twice")
            var spoolLeft = try await replica.readiness()["audit_spooled_records"] as? Int
            for _ in 0..<50 where spoolLeft != 0 {
                try await Task.sleep(nanoseconds: 100_000_000)
                spoolLeft = try await replica.readiness()["audit_spooled_records"] as? Int
            }
            #expect(spoolLeft == 0 && AuditSpool.waitingCount(path: spoolPath) == 0)
            print("[postgres] outage: \(all.count) decisions (\(duringOutage.count) approved from memory while the database was down, \(spooledDuring) spooled 3 s into it, \(afterStale.count) refused once stale); all \(written) audited \(milliseconds(writtenAfter)) after the restart")
        }
    }

    /// Bad database settings stop the commands at once with a clear message and no password:
    /// sync exits 1, serve 64.
    @Test(.timeLimit(.minutes(1)))
    func aWrongPasswordOrAnUnreachableServerIsAClearErrorAtStart() async throws {
        let (cluster, address) = try await freshPostgresDatabase()
        let wrong = "not-the-password-\(UUID().uuidString.prefix(8))"
        let closed = PostgresAddress(user: address.user, host: "127.0.0.1", port: freePort(), database: address.database, tls: .disable)
        let cases: [(String, [String: String])] = [
            ("wrong password", ["SHIFTGATE_DATABASE": address.description, "PGPASSWORD": wrong]),
            ("unreachable server", ["SHIFTGATE_DATABASE": closed.description, "PGPASSWORD": wrong]),
        ]
        for (name, environment) in cases {
            let sync = try await run(["sync"], environment: environment.merging(["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": "http://127.0.0.1:9"]) { $1 }, timeout: 30)
            #expect(sync.status == 1, "\(name): sync exited \(sync.status): \(sync.stderr)")
            let serve = try await run(["serve", "--port", "0"], environment: environment.merging(["INDENT_WEBHOOK_SECRET": "s"]) { $1 }, timeout: 30)
            #expect(serve.status == 64, "\(name): serve exited \(serve.status): \(serve.stderr)")
            for output in [sync, serve] {
                #expect(output.stderr.contains("127.0.0.1"), "\(name): the message names the server: \(output.stderr)")
                #expect(!output.stderr.contains(wrong), "\(name): the password leaked: \(output.stderr)")
                #expect(output.stderr.split(separator: "\n").count <= 3, "\(name): one clear line, not a dump: \(output.stderr)")
            }
            let status = try await run(["status"], environment: environment, timeout: 30)
            #expect(status.status != 0 && !status.stderr.contains(wrong), "\(name): \(status.stderr)")
        }
        _ = cluster
    }
}

// MARK: Support

/// When `condition` first held, polled every 2 ms until `deadline` (nil if it never did).
func firstTime(until deadline: Date, _ condition: @Sendable () async throws -> Bool) async -> Date? {
    while Date() < deadline {
        if (try? await condition()) == true { return Date() }
        try? await Task.sleep(nanoseconds: 2_000_000)
    }
    return nil
}

/// A simulator and a fresh PostgreSQL database for `body`, with the environment the binaries need
/// and a store opened on the database for the test's own looks. The database is dropped afterwards.
func withPostgresCache<T: Sendable>(
    _ account: SimulatedAccount, latencyMilliseconds: Int = 0, cluster: PostgresTestCluster? = nil, address: PostgresAddress? = nil,
    _ body: (PostgresCache) async throws -> T
) async throws -> T {
    let (cluster, address) = if let cluster, let address { (cluster, address) } else { try await freshPostgresDatabase() }
    var options = unlimitedSimulator()
    options.faults.latencyMilliseconds = latencyMilliseconds
    return try await withSettledSimulator(account, options: options) { running, directory in
        let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
        var environment = syncEnvironment(running, database: address.description)
        environment["PGPASSWORD"] = cluster.password ?? ""
        let cache = PostgresCache(running: running, cluster: cluster, address: address, store: store, environment: environment)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(cache))
        } catch {
            result = .failure(error)
        }
        await store.close()
        await cluster.dropDatabase(address)
        return try result.get()
    }
}

struct PostgresCache: Sendable {
    let running: RunningSimulator
    let cluster: PostgresTestCluster
    let address: PostgresAddress
    let store: PostgresCacheStore
    let environment: [String: String]

    func sync(_ extra: [String] = []) async throws -> ProcessOutput {
        try await run(["sync", "--quiet"] + extra, environment: environment, timeout: 120)
    }

    /// `serve` on a free loopback port, once it has said where it listens.
    func startReplica(maxStaleness: String = "15m", arguments: [String] = []) async throws -> Replica {
        try await startServe(environment: environment, arguments: ["--max-staleness", maxStaleness] + arguments)
    }

    /// The email of someone on call now, and for at least `forAtLeast` seconds more.
    func someoneOnCall(forAtLeast seconds: TimeInterval = 600) async throws -> String? {
        guard let current = try await store.currentSnapshot() else { return nil }
        let now = Date()
        guard let shift = current.shifts.first(where: { $0.start <= now.addingTimeInterval(-120) && $0.end >= now.addingTimeInterval(seconds) }) else { return nil }
        return current.users.first { $0.id == shift.userId }?.email
    }
}

struct ReplicaError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One running `serve`, spoken to over loopback HTTP as Indent and a probe would.
struct Replica: Sendable {
    let child: Child
    let port: Int

    func readiness() async throws -> [String: Any] {
        let (_, data) = try await request("/readyz")
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    func waitUntilReady(snapshot: Int, timeout: TimeInterval = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let answer = try? await readiness(), answer["status"] as? String == "ready", answer["snapshot_id"] as? Int == snapshot { return true }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }

    /// The claims the replica answers an access request from `email` with, signed as Indent signs.
    func decide(_ email: String) async throws -> [[String: Any]] {
        let body = requestBody([accessRequest(email)])
        let (status, data) = try await request("/indent/webhook", body: body)
        guard status == 200 else { throw ReplicaError("webhook answered \(status): \(String(decoding: data, as: UTF8.self))") }
        let reply = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return reply["claims"] as? [[String: Any]] ?? []
    }

    func request(_ path: String, body: Data? = nil) async throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 5
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
            for field in signedHeaders(body, timestamp: IndentTime.format(Date())) {
                request.setValue(field.value, forHTTPHeaderField: field.name.rawName)
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
                }
            }.resume()
        }
    }
}
