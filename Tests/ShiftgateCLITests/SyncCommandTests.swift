import Foundation
import Testing
import TestSupport
import OnCallStore
import SQLiteStore
import PagerDutySimulator
#if canImport(Glibc)
import Glibc
#endif

/// `shiftgate sync` and `status` as a user runs them: the built binary, the simulator over loopback,
/// a real SQLite file.
@Suite(.serialized) struct SyncCommandTests {
    func environment(_ running: RunningSimulator, _ directory: TemporaryDirectory, key: String = testAPIKey) -> [String: String] {
        ["PAGERDUTY_KEY": key, "PAGERDUTY_API_URL": running.baseURL.absoluteString, "SHIFTGATE_DATABASE": directory.path("cache.sqlite")]
    }

    @Test func syncPrintsASummaryAndStatusShowsIt() async throws {
        try await withSimulator(SimulatedAccount.generate(users: 40, schedules: 5, seed: 4)) { running, directory in
            let sync = try await run(["sync", "--concurrency", "4"], environment: environment(running, directory))
            #expect(sync.status == 0, "\(sync.stderr)")
            #expect(sync.stdout.contains("40 users, 5 schedules"))
            #expect(sync.stdout.contains("API requests, 0 answered 429"))
            let status = try await run(["status", "--format", "json"], environment: environment(running, directory))
            #expect(status.status == 0)
            let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect((json?["current"] as? [String: Any])?["users"] as? Int == 40)
            #expect(!status.stdout.contains(testAPIKey))
            let quiet = try await run(["sync", "--quiet"], environment: environment(running, directory))
            #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        }
    }

    @Test func aRefusedKeyExitsFourWithOneLine() async throws {
        try await withSimulator(.small()) { running, directory in
            let result = try await run(["sync"], environment: environment(running, directory, key: "not-the-key-42"))
            #expect(result.status == 4)
            #expect(result.stderr.contains("refused the API key"))
            #expect(!result.stderr.contains("not-the-key-42"))
            let status = try await run(["status"], environment: environment(running, directory))
            #expect(status.status == 1)
            #expect(status.stdout.contains("refused the API key"))
        }
    }

    @Test func aSecondSyncExitsAtOnceWhileOneRuns() async throws {
        try await withSimulator(SimulatedAccount.generate(users: 30, schedules: 6, seed: 9)) { running, directory in
            var faults = SimulatorFaults()
            faults.latencyMilliseconds = 300
            running.simulator.setFaults(faults)
            let (first, _, _) = try launch(["sync", "--quiet"], environment: environment(running, directory))
            try await Task.sleep(nanoseconds: 400_000_000)
            let started = Date()
            let second = try await run(["sync"], environment: environment(running, directory))
            #expect(second.status == 75)
            #expect(second.stderr.contains("another sync is running"))
            #expect(Date().timeIntervalSince(started) < 5)
            await waitForExit(first)
            #expect(first.terminationStatus == 0)
        }
    }

    @Test func aSyncKilledMidwayLeavesTheLastGoodSnapshotServing() async throws {
        try await withSimulator(SimulatedAccount.generate(users: 300, schedules: 40, seed: 12)) { running, directory in
            let env = environment(running, directory)
            let good = try await run(["sync", "--quiet"], environment: env)
            #expect(good.status == 0, "\(good.stderr)")
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"), mustExist: true)
            let goodId = try #require(try database.currentSnapshotId())

            var faults = SimulatorFaults()
            faults.latencyMilliseconds = 20
            running.simulator.setFaults(faults)
            for delay in [0.15, 0.5, 0.9] {
                let (process, _, _) = try launch(["sync", "--quiet"], environment: env)
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                kill(process.processIdentifier, SIGKILL)
                await waitForExit(process)
                #expect(try database.integrityCheck() == "ok")
                let current = try #require(try database.currentSnapshot())
                // Whatever is current is whole: the good one, or a complete newer one.
                #expect(current.info.id >= goodId)
                #expect(current.users.count == 300 && current.schedules.count == 40)
            }
            running.simulator.setFaults(SimulatorFaults())
            let after = try await run(["sync", "--quiet"], environment: env)
            #expect(after.status == 0, "\(after.stderr)")
            #expect(try database.currentSnapshotId()! > goodId)
        }
    }

    @Test func syncEveryLoopsAndStopsOnSIGTERM() async throws {
        try await withSimulator(.small()) { running, directory in
            let (process, _, _) = try launch(["sync", "--every", "10s", "--quiet"], environment: environment(running, directory))
            var synced = false
            // Up to 15 s: the whole suite runs in parallel on two cores.
            for _ in 0..<300 where !synced {
                try await Task.sleep(nanoseconds: 50_000_000)
                synced = (try? OnCallDatabase(path: directory.path("cache.sqlite"), mustExist: true).currentSnapshotId()) != nil
            }
            #expect(synced)
            kill(process.processIdentifier, SIGTERM)
            let stopped = Date()
            await waitForExit(process)
            #expect(process.terminationStatus == 0)
            #expect(Date().timeIntervalSince(stopped) < 5)
        }
    }

    @Test func badFlagsAreUsageErrors() async throws {
        let result = try await run(["sync", "--lookback", "yesterday"], environment: ["PAGERDUTY_KEY": "x"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("lookback"))
        let noKey = try await run(["sync"], environment: ["PAGERDUTY_KEY": ""])
        #expect(noKey.status == 64)
        #expect(noKey.stderr.contains("PAGERDUTY_KEY"))
    }
}
