import ArgumentParser
import Foundation
import OnCallStore
import PagerDuty
import Server
import Timestamps

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the current snapshot, its age and counts, and the last failure.",
        discussion: """
            Examples:
              shiftgate status
              shiftgate status --format json --max-staleness 15m
            Exit codes: 0 a snapshot is current (and fresh, with --max-staleness); 1 none, or stale.
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @Option(help: "Exit 1 when the current snapshot is older than this.", transform: CLIDuration.argument)
    var maxStaleness: CLIDuration?

    @Option(help: ArgumentHelp(
        "The audit spool whose waiting records to count, as given to serve (env SHIFTGATE_AUDIT_SPOOL; default: beside a SQLite cache).",
        valueName: "path"))
    var auditSpool: String?

    struct Report: Encodable {
        var database: String
        var current: SnapshotInfoJSON?
        var ageSeconds: Int?
        var stale: Bool
        var lastSuccessAt: String?
        var lastAttemptAt: String?
        var lastFailureAt: String?
        var lastFailureReason: String?
        var snapshotsKept: Int
        /// When the newest full read kept started (a refresh builds on it); nil when none is kept.
        var lastFullReadAt: String?
        /// The audit spool, when there is one: approvals' records waiting there for the cache.
        var auditSpool: String?
        var auditSpooledRecords: Int?
    }

    func run() async throws {
        common.bootstrapLogging()
        let path: String
        let state: SyncState
        let current: SnapshotInfo?
        let snapshots: [SnapshotInfo]
        do {
            (path, state, current, snapshots) = try await common.withStore(.read, logger: LoggingBootstrap.logger("status")) { store in
                (store.location, try await store.syncState(), try await store.currentSnapshotInfo(), try await store.snapshots())
            }
        } catch {
            throw fail("\(error)")
        }
        let now = Date()
        let kept = snapshots.count
        let lastFull = snapshots.last { $0.read == .full }
        let age = current.map { Int(now.timeIntervalSince($0.finishedAt)) }
        let stale = current == nil || (maxStaleness.map { Double(age ?? 0) > $0.seconds } ?? false)
        let report = Report(
            database: path, current: current.map(SnapshotInfoJSON.init), ageSeconds: age, stale: stale,
            lastSuccessAt: state.lastSuccessAt.map { RFC3339.format($0) },
            lastAttemptAt: state.lastAttemptAt.map { RFC3339.format($0) },
            lastFailureAt: state.lastFailureAt.map { RFC3339.format($0) },
            lastFailureReason: state.lastFailureReason, snapshotsKept: kept,
            lastFullReadAt: lastFull.map { RFC3339.format($0.startedAt) })
        var withSpool = report
        // Shown once serve has made the file (a sync alone makes none).
        if let spool = ServeCommand.auditSpoolPath(flag: auditSpool, address: try common.address), let waiting = AuditSpool.waitingCount(path: spool) {
            withSpool.auditSpool = spool
            withSpool.auditSpooledRecords = waiting
        }
        let spooled = withSpool.auditSpooledRecords

        switch format {
        case .json:
            print(try encodeJSON(withSpool))
        case .text:
            printLine("cache:          \(path)")
            if let current, let age {
                printLine("current:        snapshot \(current.id), finished \(ReadableTime.utc(current.finishedAt)) (\(CLIDuration(seconds: Double(age))) ago)\(stale ? ", STALE" : "")")
                let fullRead = lastFull.map { "\(ReadableTime.utc($0.startedAt)) (\(CLIDuration(seconds: Double(max(0, Int(now.timeIntervalSince($0.startedAt)))))) ago)" } ?? "none kept"
                printLine("read:           \(current.read == .full ? "full" : "refresh (the lists, /oncalls, and the schedules whose turn came read whole)"); last full read \(fullRead)")
                printLine("window:         \(ReadableTime.utc(current.windowStart)) → \(ReadableTime.utc(current.windowEnd))")
                printLine("counts:         \(current.userCount) users, \(current.scheduleCount) schedules (\(current.shiftBasedScheduleCount) shift-based), \(current.shiftCount) shifts, \(current.policyCount) escalation policies, \(current.onCallCount) on-call entries")
                printLine("api:            \(current.apiRequests) requests, \(current.rateLimited) answered 429")
            } else {
                printLine("current:        none (no sync has completed)")
            }
            printLine("snapshots kept: \(kept)")
            if let failure = state.lastFailureAt {
                let after = state.lastSuccessAt.map { $0 > failure } ?? false
                printLine("last failure:   \(ReadableTime.utc(failure))\(after ? " (a sync has succeeded since)" : ""): \(state.lastFailureReason ?? "unknown")")
            } else {
                printLine("last failure:   none")
            }
            if let spool = withSpool.auditSpool, let spooled {
                print("audit spool:    \(spooled) record\(spooled == 1 ? "" : "s") waiting for the cache (\(spool))")
            }
        }
        if stale { throw ShiftgateExit.failure }
    }
}
