import ArgumentParser
import Foundation
import OnCallStore
import PagerDuty
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

    @Option(help: "Exit 1 when the current snapshot is older than this.")
    var maxStaleness: CLIDuration?

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
    }

    func run() async throws {
        common.bootstrapLogging()
        let path = common.databasePath
        let database: OnCallDatabase
        do {
            database = try OnCallDatabase(path: path, mustExist: true, readOnly: true)
        } catch {
            throw fail("\(error)")
        }
        let state = try database.syncState()
        let current = try database.currentSnapshotInfo()
        let kept = try database.snapshots().count
        let now = Date()
        let age = current.map { Int(now.timeIntervalSince($0.finishedAt)) }
        let stale = current == nil || (maxStaleness.map { Double(age ?? 0) > $0.seconds } ?? false)
        let report = Report(
            database: path, current: current.map(SnapshotInfoJSON.init), ageSeconds: age, stale: stale,
            lastSuccessAt: state.lastSuccessAt.map { RFC3339.format($0) },
            lastAttemptAt: state.lastAttemptAt.map { RFC3339.format($0) },
            lastFailureAt: state.lastFailureAt.map { RFC3339.format($0) },
            lastFailureReason: state.lastFailureReason, snapshotsKept: kept)

        switch format {
        case .json:
            print(try encodeJSON(report))
        case .text:
            print("cache:          \(path)")
            if let current, let age {
                print("current:        snapshot \(current.id), finished \(ReadableTime.utc(current.finishedAt)) (\(CLIDuration(seconds: Double(age))) ago)\(stale ? ", STALE" : "")")
                print("window:         \(ReadableTime.utc(current.windowStart)) → \(ReadableTime.utc(current.windowEnd))")
                print("counts:         \(current.userCount) users, \(current.scheduleCount) schedules (\(current.shiftBasedScheduleCount) shift-based), \(current.shiftCount) shifts, \(current.policyCount) escalation policies, \(current.onCallCount) on-call entries")
                print("api:            \(current.apiRequests) requests, \(current.rateLimited) answered 429")
            } else {
                print("current:        none (no sync has completed)")
            }
            print("snapshots kept: \(kept)")
            if let failure = state.lastFailureAt {
                let after = state.lastSuccessAt.map { $0 > failure } ?? false
                print("last failure:   \(ReadableTime.utc(failure))\(after ? " (a sync has succeeded since)" : ""): \(state.lastFailureReason ?? "unknown")")
            } else {
                print("last failure:   none")
            }
        }
        if stale { throw ShiftgateExit.failure }
    }
}

/// A snapshot's facts as the JSON outputs print them.
struct SnapshotInfoJSON: Encodable {
    var id: Int64
    var startedAt: String
    var finishedAt: String
    var windowStart: String
    var windowEnd: String
    var users: Int
    var schedules: Int
    var shiftBasedSchedules: Int
    var shifts: Int
    var escalationPolicies: Int
    var onCallEntries: Int
    var apiRequests: Int
    var rateLimited: Int

    init(_ info: SnapshotInfo) {
        id = info.id
        startedAt = RFC3339.format(info.startedAt)
        finishedAt = RFC3339.format(info.finishedAt)
        windowStart = RFC3339.format(info.windowStart)
        windowEnd = RFC3339.format(info.windowEnd)
        users = info.userCount
        schedules = info.scheduleCount
        shiftBasedSchedules = info.shiftBasedScheduleCount
        shifts = info.shiftCount
        escalationPolicies = info.policyCount
        onCallEntries = info.onCallCount
        apiRequests = info.apiRequests
        rateLimited = info.rateLimited
    }
}

func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the kept snapshots (id, time, counts).",
        discussion: """
            Examples:
              shiftgate snapshots
              shiftgate snapshots --format json
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        common.bootstrapLogging()
        let database: OnCallDatabase
        do {
            database = try OnCallDatabase(path: common.databasePath, mustExist: true, readOnly: true)
        } catch {
            throw fail("\(error)")
        }
        let currentId = try database.syncState().currentSnapshotId
        let snapshots = try database.snapshots()
        switch format {
        case .json:
            print(try encodeJSON(snapshots.map(SnapshotInfoJSON.init)))
        case .text:
            if snapshots.isEmpty { print("no snapshots yet: run `shiftgate sync`") }
            for info in snapshots {
                let marker = info.id == currentId ? "*" : " "
                print("\(marker) \(info.id)\t\(ReadableTime.utc(info.finishedAt))\t\(info.userCount) users\t\(info.scheduleCount) schedules\t\(info.shiftCount) shifts\t\(info.apiRequests) requests")
            }
        }
    }
}
