import Foundation
import Logging
import OnCallStore
import PostgresNIO
import PostgresStore
import SQLiteStore

/// The PostgreSQL server the `postgres` section runs against: `--postgres-url` (a user allowed to
/// create databases; its password in PGPASSWORD). Each run takes fresh databases and drops them.
struct BenchPostgres: Sendable {
    let server: PostgresAddress
    let password: String?

    static let logger = Logger(label: "shiftgate.bench.postgres") { _ in SwiftLogNoOpLogHandler() }

    /// A new empty database on the server.
    func makeDatabase(_ purpose: String) async throws -> PostgresAddress {
        let name = "shiftgate_bench_\(purpose)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10))"
        try await maintenance { try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Self.logger) }
        var address = server
        address.database = name
        return address
    }

    func drop(_ address: PostgresAddress) async {
        try? await maintenance {
            try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(address.database) WITH (FORCE)"), logger: Self.logger)
        }
    }

    /// `SHOW server_version`, e.g. "15.18 (Debian 15.18-0+deb12u1)".
    func version() async -> String {
        var version = "(version unknown)"
        try? await maintenance { connection in
            for try await value in try await connection.query("SHOW server_version", logger: Self.logger).decode(String.self) { version = value }
        }
        return version
    }

    private func maintenance(_ body: (PostgresConnection) async throws -> Void) async throws {
        guard server.tls == .disable else { throw BenchError("the benchmark's --postgres-url must use sslmode=disable (a server on loopback)") }
        let configuration = PostgresConnection.Configuration(host: server.host, port: server.port, username: server.user, password: password,
                                                             database: server.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Self.logger)
        do {
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }
}

/// PostgreSQL beside SQLite: the time to write the webhook's snapshot into each, decision latency at
/// the fixed rate on one replica over each (same run, alternating), and how soon two replicas over
/// one PostgreSQL database serve a new snapshot.
func benchPostgres(_ fixture: WebhookFixture, postgres: BenchPostgres, lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    report.heading("PostgreSQL beside SQLite")
    guard let snapshot = try OnCallDatabase(path: fixture.database, mustExist: true).currentSnapshot() else {
        throw BenchError("the webhook cache has no snapshot")
    }
    let sizes = "\(grouped(snapshot.users.count)) users, \(grouped(snapshot.schedules.count)) schedules, \(grouped(snapshot.shifts.count)) shifts"
    report.line("""
        The webhook section's snapshot (\(sizes)), written into a SQLite file and into a PostgreSQL \
        \(await postgres.version()) database on the same machine (loopback, \(postgres.server.description)), then served from each.
        """)

    // 1. Snapshot writes: the same snapshot, five times into each store after a first one, so each
    //    write also prunes (keep 3), as a sync does in steady state.
    let writes = settings.quick ? 3 : 5
    let pgAddress = try await postgres.makeDatabase("write")
    let sqlitePath = lab.path("write-bench.sqlite")
    var sqliteSeconds: [Double] = []
    var postgresSeconds: [Double] = []
    do {
        let sqlite = SQLiteCacheStore(try OnCallDatabase(path: sqlitePath))
        let pg = try await PostgresCacheStore.open(pgAddress, password: postgres.password, createIfNeeded: true, logger: BenchPostgres.logger)
        for round in 0...writes {
            for (store, index) in [(sqlite as any CacheStore, 0), (pg as any CacheStore, 1)] {
                report.progress("postgres: snapshot write \(round) into \(index == 0 ? "SQLite" : "PostgreSQL")")
                let started = monotonicSeconds()
                _ = try await store.writeSnapshot(renewed(snapshot), keep: 3, deadline: nil)
                let seconds = monotonicSeconds() - started
                // The first write of each creates the tables' first pages: reported apart.
                if round > 0 { index == 0 ? sqliteSeconds.append(seconds) : postgresSeconds.append(seconds) }
            }
        }
        await pg.close()
    } catch {
        await postgres.drop(pgAddress)
        throw error
    }
    await postgres.drop(pgAddress)
    let sqliteMedian = median(sqliteSeconds), postgresMedian = median(postgresSeconds)
    report.line("\n**Snapshot write** (\(writes) writes each, after a first; each prunes to 3 kept):\n")
    report.table(["store", "median", "min", "max", "÷ SQLite"], [
        ["SQLite (GRDB, WAL)", ms(sqliteMedian), ms(sqliteSeconds.min() ?? .nan), ms(sqliteSeconds.max() ?? .nan), "1.00"],
        ["PostgreSQL (postgres-nio)", ms(postgresMedian), ms(postgresSeconds.min() ?? .nan), ms(postgresSeconds.max() ?? .nan),
         fmt(postgresMedian / sqliteMedian, 2)],
    ])
    report.line("_How measured: in process, `ContinuousClock`-style monotonic time around `CacheStore.writeSnapshot` (one transaction, the current-snapshot pointer flipped in it, older snapshots pruned), alternating SQLite and PostgreSQL. Target: PostgreSQL under 2× SQLite._")

    // 2. Decision latency on one replica over each store, alternating, at the fixed rate.
    let servedAddress = try await postgres.makeDatabase("serve")
    do {
        let seed = try await PostgresCacheStore.open(servedAddress, password: postgres.password, createIfNeeded: true, logger: BenchPostgres.logger)
        _ = try await seed.writeSnapshot(snapshot, keep: 3, deadline: nil)
        await seed.close()
        try await decisionLatency(fixture, postgres: postgres, database: servedAddress, lab: lab, settings: settings, report: report)
        try await propagation(fixture, postgres: postgres, database: servedAddress, snapshot: snapshot, lab: lab, settings: settings, report: report)
    } catch {
        await postgres.drop(servedAddress)
        throw error
    }
    await postgres.drop(servedAddress)
}

private func decisionLatency(_ fixture: WebhookFixture, postgres: BenchPostgres, database: PostgresAddress, lab: Lab,
                             settings: BenchSettings, report: BenchReport) async throws {
    let (server, port) = try WebhookFixture.spawnServer(lab: lab, database: database.description, secret: fixture.secret,
                                                        allowList: fixture.allowList, label: "serve-postgres",
                                                        environment: ["PGPASSWORD": postgres.password ?? ""])
    do {
        try await WebhookFixture.waitUntilReady(server, port: port)
    } catch {
        _ = await stopChild(server)
        throw error
    }
    let quiet = await waitForQuietMachine(limit: settings.quietWaitSeconds)
    let (rows, _) = try await alternatingDecisionRuns(fixture, [("SQLite", fixture.port, fixture.server.pid), ("PostgreSQL", port, server.pid)],
                                                      rounds: settings.quick ? 1 : 2, section: "postgres", settings: settings, report: report,
                                                      countCommits: true)
    _ = await stopChild(server)
    report.line("\n**Decisions at a fixed \(grouped(Int(settings.rate))) requests/second on one replica** (on-call requester, approved, each audit record durable before its reply; \(fmt(settings.fixedRateSeconds, 0)) s each, alternating):\n")
    report.table(["store", "achieved/s", "p50", "p99", "p99.9", "max", "errors", "other processes (cores)", "audit commits/s (approvals per commit)"], rows)
    report.line("Machine: \(quiet). _How measured: as the webhook section (open loop, corrected for coordinated omission), against two `shiftgate serve` processes over the same snapshot, one reading the SQLite file and one the PostgreSQL database. A decision reads only the replica's memory in both; what differs is where the audit writer sends each batch._")
}

private func propagation(_ fixture: WebhookFixture, postgres: BenchPostgres, database: PostgresAddress, snapshot: SnapshotContents,
                         lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    var replicas: [(ChildProcess, Int)] = []
    defer { for (child, _) in replicas { child.signal(SIGKILL) } }
    for index in 0..<2 {
        let replica = try WebhookFixture.spawnServer(lab: lab, database: database.description, secret: fixture.secret, allowList: fixture.allowList,
                                                     label: "replica-\(index)", environment: ["PGPASSWORD": postgres.password ?? ""])
        replicas.append(replica)
        try await WebhookFixture.waitUntilReady(replica.0, port: replica.1)
    }
    let writer = try await PostgresCacheStore.open(database, password: postgres.password, createIfNeeded: false, logger: BenchPostgres.logger)
    let syncs = 20
    var delays: [Double] = []
    var writeSeconds: [Double] = []
    for round in 1...syncs {
        report.progress("postgres: snapshot \(round) of \(syncs) to 2 replicas")
        let started = monotonicSeconds()
        let info = try await writer.writeSnapshot(renewed(snapshot), keep: 3, deadline: nil)
        let (id, committed) = (info.id, monotonicSeconds())
        // Then poll both replicas' /readyz every 2 ms until each names the new snapshot.
        let deadline = monotonicSeconds() + 30
        var firstSeen: [Double?] = [nil, nil]
        while firstSeen.contains(where: { $0 == nil }), monotonicSeconds() < deadline {
            for (index, replica) in replicas.enumerated() where firstSeen[index] == nil {
                if let reply = await httpGet(URL(string: "http://127.0.0.1:\(replica.1)/readyz")!, timeout: 2),
                   let object = try? JSONSerialization.jsonObject(with: reply.body) as? [String: Any],
                   (object["snapshot_id"] as? NSNumber)?.int64Value == id {
                    firstSeen[index] = monotonicSeconds()
                }
            }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        writeSeconds.append(committed - started)
        for time in firstSeen {
            guard let time else { throw BenchError("a replica did not serve snapshot \(id) within 30 s") }
            delays.append(max(0, time - committed))
        }
        await sleep(seconds: 0.3)
    }
    await writer.close()
    delays.sort()
    report.line("\n**A new snapshot reaching 2 replicas** (\(syncs) snapshots, each written by the same `writeSnapshot` a sync uses; \(delays.count) replica observations):\n")
    report.table(["", "p50", "p99", "max"], [
        ["from the write's commit to the replica serving it", ms(percentileOf(delays, 0.5)), ms(percentileOf(delays, 0.99)), ms(delays.last ?? .nan)],
        ["the write itself (for scale)", ms(median(writeSeconds)), ms(percentileOf(writeSeconds.sorted(), 0.99)), ms(writeSeconds.max() ?? .nan)],
    ])
    report.line("_How measured: the harness writes the snapshot, then polls each replica's `/readyz` every 2 ms until its `snapshot_id` is the new one; the delay counts from the moment `writeSnapshot` returned (after the commit, so a replica woken by NOTIFY at the commit may already be reading). It includes the replica reading the whole snapshot from PostgreSQL and indexing it._")
}

/// The on-call request at a fixed rate against each server in turn, `rounds` times: a table row per
/// run (store or server, achieved rate, p50, p99, p99.9, max, errors, other processes' cores), and
/// each server's p99s.
/// `countCommits` adds a column: the durable audit path's commits per second, and approvals per commit.
func alternatingDecisionRuns(_ fixture: WebhookFixture, _ servers: [(name: String, port: Int, pid: pid_t)], rounds: Int, section: String,
                             settings: BenchSettings, report: BenchReport, countCommits: Bool = false) async throws -> (rows: [[String]], p99s: [String: [Double]]) {
    var rows: [[String]] = []
    var p99s: [String: [Double]] = [:]
    for round in 1...rounds {
        for (name, target, pid) in servers {
            report.progress("\(section): decisions at \(Int(settings.rate))/s, \(name), round \(round)")
            let request = fixture.onCallRequest(port: target)
            _ = try await FixedRateLoad.run(port: target, requests: [request], rate: settings.rate, seconds: 1)
            let machineBefore = MachineCPU.sample(also: pid)
            let commitsBefore = countCommits ? await auditCommits(port: target) : nil
            let result = try await FixedRateLoad.run(port: target, requests: [request], rate: settings.rate, seconds: settings.fixedRateSeconds)
            let commitsAfter = countCommits ? await auditCommits(port: target) : nil
            let foreign = MachineCPU.sample(also: pid).foreignCores(since: machineBefore)
            p99s[name, default: []].append(result.latency.p99)
            rows.append(["\(name) (round \(round))", fmt(result.achievedRate, 0), micros(result.latency.p50), micros(result.latency.p99),
                         micros(result.latency.p999), micros(result.latency.max), "\(result.errors)", fmt(foreign, 2)]
                        + (countCommits ? [commitsPerSecond(commitsBefore, commitsAfter, result)] : []))
            // The decision log and the audit queue of the run drain before the next one.
            await sleep(seconds: 2)
        }
    }
    return (rows, p99s)
}

/// `contents` as a new snapshot (a later finish time), so that each write is one a sync would make.
private func renewed(_ contents: SnapshotContents) -> SnapshotContents {
    var copy = contents
    copy.info.finishedAt = Date()
    copy.info.startedAt = copy.info.finishedAt.addingTimeInterval(-1)
    return copy
}


private func median(_ values: [Double]) -> Double {
    percentileOf(values.sorted(), 0.5)
}

private func percentileOf(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

private func ms(_ seconds: Double) -> String {
    seconds.isFinite ? fmt(seconds * 1000, seconds < 0.01 ? 2 : 0) + " ms" : "–"
}
