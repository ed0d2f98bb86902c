import Drift
import Foundation
import OnCallStore
import SQLiteStore

func benchDrift(_ fixture: WebhookFixture, lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    report.heading("Drift: two snapshots of \(grouped(settings.webhookSchedules)) schedules over 7 days")
    let database = try OnCallDatabase(path: fixture.database, mustExist: true)
    var snapshots = try database.snapshots()
    if snapshots.count < 2 {
        // The under-sync section was not run: plant the changes and sync once more here.
        report.progress("drift: planting changes and syncing a second snapshot")
        _ = plantChanges(fixture)
        let (usage, child) = try await lab.sync(apiURL: fixture.running.baseURL, key: WebhookFixture.apiKey, database: fixture.database,
                                                rateLimit: 1_000_000, label: "webhook-sync-2")
        guard usage.succeeded else { throw BenchError("the second sync failed: \(child.stderr.suffix(2000))") }
        snapshots = try database.snapshots()
    }
    // The first sync and the one after the changes were planted (a paced third sync repeats the second).
    let olderId = snapshots[0].id
    let newerId = snapshots[1].id
    report.progress("drift: snapshots \(olderId) → \(newerId)")

    let clock = ContinuousClock()
    var before: SnapshotContents?
    var after: SnapshotContents?
    let readTime = try clock.measure {
        before = try database.snapshot(id: olderId)
        after = try database.snapshot(id: newerId)
    }
    guard let before, let after else { throw BenchError("a snapshot vanished") }

    var diffTimes: [Duration] = []
    var result: DriftReport?
    for _ in 0..<settings.driftRepeats {
        diffTimes.append(clock.measure { result = Drift.diff(from: before, to: after) })
    }
    guard let result else { throw BenchError("no drift report") }
    diffTimes.sort()

    var renderRows: [[String]] = []
    for format in DriftFormat.allCases {
        var times: [Duration] = []
        var bytes = 0
        for _ in 0..<max(3, settings.driftRepeats / 4) {
            times.append(clock.measure { bytes = Drift.render(result, as: format).utf8.count })
        }
        times.sort()
        renderRows.append([format.rawValue, ms(times[times.count / 2]), ms(times[0]), ms(times[times.count - 1]), "\(grouped(bytes)) bytes"])
    }

    let cli = try ChildProcess.spawnMeasured(lab.shiftgate, [
        "drift", "--database", fixture.database, "--from", String(olderId), "--to", String(newerId), "--format", "html", "--output", lab.path("drift.html"),
    ], environment: ["LOG_LEVEL": "warning"], stdoutPath: lab.path("drift.out"), stderrPath: lab.path("drift.err"))
    let cliUsage = await cli.wait()

    let changed = result.schedules.filter { $0.status == .changed }.count
    let onCallChanged = result.schedules.filter { !$0.onCallChanges.isEmpty }.count
    report.line("""
        Snapshots \(olderId) and \(newerId) of the webhook section's cache (\(grouped(before.schedules.count)) → \
        \(grouped(after.schedules.count)) schedules, \(grouped(before.shifts.count)) → \(grouped(after.shifts.count)) shifts, \
        \(grouped(before.users.count)) users), written by two real syncs with changes planted between them. The report: \
        \(result.schedules.count) schedules drifted (\(changed) changed, \(onCallChanged) with on-call changes, the rest added or \
        removed), \(result.escalationPolicies.count) escalation policies.\n
        """)
    report.table(["step", "median", "min", "max", "runs"], [
        ["`Drift.diff`", ms(diffTimes[diffTimes.count / 2]), ms(diffTimes[0]), ms(diffTimes[diffTimes.count - 1]), "\(diffTimes.count)"],
        ["read both snapshots from SQLite", ms(readTime), "", "", "1"],
    ])
    report.table(["render format", "median", "min", "max", "size"], renderRows)
    report.line("""
        End to end, `shiftgate drift --format html` (open, read both snapshots, diff, render, write) took \
        \(fmt(cliUsage.wallSeconds, 2)) s wall with a peak RSS of \(fmt(cliUsage.peakRSSMiB)) MiB\(cliUsage.succeeded ? "" : " (exit \(cliUsage.status))").
        """)
    report.line("_How measured: in process, release build, `ContinuousClock` around `Drift.diff(from:to:)` on the two `SnapshotContents` read with `OnCallDatabase.snapshot(id:)`, repeated; each renderer likewise on the same report. The CLI line is the real binary as a child process (wait4 rusage)._")
}

func ms(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return "\(fmt(seconds * 1000, seconds < 0.01 ? 2 : 1)) ms"
}
