import Foundation
import Logging
import OnCallStore
import PagerDutySimulator
import PostgresStore
import SQLiteStore
import Testing
import TestSupport
import Timestamps

/// Every command that reads the cache prints the same thing whichever store holds it: the same two
/// snapshots and audit records in a SQLite file and in a PostgreSQL database, each command run on
/// both with the real binary, the outputs compared byte for byte (the cache's location aside).
@Suite(.serialized) struct StoreParityTests {
    @Test func everyReadingCommandPrintsTheSameFromBothStores() async throws {
        let (cluster, address) = try await freshPostgresDatabase()
        try await withSimulator(.small()) { running, directory in
            // Two snapshots of the small account from the real sync, a rename and an upgrade between.
            let sqlitePath = directory.path("cache.sqlite")
            let sqliteEnvironment = ["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString, "SHIFTGATE_DATABASE": sqlitePath]
            let first = try await run(["sync", "--quiet"], environment: sqliteEnvironment)
            try #require(first.status == 0, "\(first.stderr)")
            running.simulator.updateAccount { $0.schedules[0].name += " (renamed)" }
            let second = try await run(["sync", "--quiet"], environment: sqliteEnvironment)
            try #require(second.status == 0, "\(second.stderr)")

            // The same snapshots and decisions, written into PostgreSQL through its store.
            let sqlite = try OnCallDatabase(path: sqlitePath, mustExist: true)
            let postgres = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: Logger(label: "parity") { _ in SwiftLogNoOpLogHandler() })
            for info in try sqlite.snapshots().sorted(by: { $0.id < $1.id }) {
                let contents = try #require(try sqlite.snapshot(id: info.id))
                let written = try await postgres.writeSnapshot(contents, keep: 10, deadline: nil)
                // Schedules read back alike, with the span a refresh confirmed (the second sync is one).
                let readBack = try #require(try await postgres.snapshot(id: written.id))
                #expect(readBack.schedules == contents.schedules)
                #expect(info.read == .full || contents.schedules.contains { $0.confirmedSince != nil && $0.confirmedUntil != nil })
            }
            let current = try #require(try sqlite.currentSnapshot())
            let someone = try #require(current.users.first { user in current.shifts.contains { $0.userId == user.id } })
            let decisions = [
                DecisionRecord(decidedAt: Date().addingTimeInterval(-120), requestId: "req-1", requester: someone.email,
                               resources: #"["prod-admin"]"#, outcome: "approved", reason: "on call in Primary",
                               snapshotId: current.info.id, scheduleId: current.schedules.first?.id, grantedSeconds: 3600),
                DecisionRecord(decidedAt: Date().addingTimeInterval(-60), requestId: "req-2", requester: "nobody@example.com",
                               resources: #"["prod-admin"]"#, outcome: "unknown_user", reason: "no PagerDuty user has this email",
                               snapshotId: current.info.id, scheduleId: nil, grantedSeconds: nil),
            ]
            try sqlite.appendDecisions(decisions)
            try await postgres.appendDecisions(decisions)
            await postgres.close()

            let postgresEnvironment = ["SHIFTGATE_DATABASE": address.description, "PGPASSWORD": cluster.password ?? ""]
            let at = "--at"
            let when = RFC3339.format(current.info.finishedAt.addingTimeInterval(600))
            let schedule = try #require(current.schedules.first)
            let commands: [[String]] = [
                ["status"], ["status", "--format", "json"],
                ["snapshots"], ["snapshots", "--format", "json"],
                ["check", someone.email, at, when], ["check", someone.email, at, when, "--format", "json"],
                ["check", "nobody@example.com", at, when],
                ["check", "--schedule", schedule.id, at, when], ["check", "--schedule", schedule.name, at, when, "--format", "json"],
                ["drift"], ["drift", "--format", "json"], ["drift", "--format", "markdown"], ["drift", "--from", "1", "--to", "2"],
                ["audit", "--since", "1h"], ["audit", "--since", "1h", "--format", "json"],
            ]
            for command in commands {
                let fromSQLite = try await run(command, environment: ["SHIFTGATE_DATABASE": sqlitePath])
                let fromPostgres = try await run(command, environment: postgresEnvironment)
                let label = command.joined(separator: " ")
                #expect(fromSQLite.status == fromPostgres.status, "\(label): exit \(fromSQLite.status) vs \(fromPostgres.status): \(fromPostgres.stderr)")
                let sqliteText = normalized(fromSQLite.stdout, location: sqlitePath)
                let postgresText = normalized(fromPostgres.stdout, location: address.description)
                #expect(sqliteText == postgresText, "\(label) differs:\n--- SQLite\n\(sqliteText)\n--- PostgreSQL\n\(postgresText)")
                #expect(!sqliteText.isEmpty, "\(label) printed nothing")
            }
        }
        await cluster.dropDatabase(address)
    }

    /// The output with the cache's location, and ages that tick between the two runs, made equal.
    func normalized(_ text: String, location: String) -> String {
        text.replacingOccurrences(of: location, with: "<cache>")
            .replacingOccurrences(of: #""age_?[sS]econds"\s*:\s*\d+"#, with: #""ageSeconds": N"#, options: .regularExpression)
            .replacingOccurrences(of: #"\((\d+[smhd] ?)+ (ago|old)\)"#, with: "(N $2)", options: .regularExpression)
    }
}
