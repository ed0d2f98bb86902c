import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
import PagerDuty
@testable import Sync

/// The pure parts of a refresh (issue #17): which schedules `/oncalls` may stand for, and how one
/// schedule's shifts are put together from the previous snapshot and `/oncalls`.
@Suite struct RefreshAssemblyTests {
    static let t0 = Date(unixSeconds: 1_800_000_000)
    static func at(_ hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    static func shift(_ schedule: String, _ user: String, _ from: Double, _ to: Double) -> Shift {
        Shift(scheduleId: schedule, userId: user, start: at(from), end: at(to))
    }
    static func onCall(_ schedule: String?, _ user: String, _ from: Double?, _ to: Double?, policy: String = "PPOL", level: Int = 1) -> OnCall {
        OnCall(policyId: policy, level: level, scheduleId: schedule, userId: user, start: from.map(at), end: to.map(at))
    }

    static func full(shifts: [Shift], onCalls: [OnCall], targeted: [String]) -> SnapshotContents {
        var contents = SnapshotContents(info: SnapshotInfo(startedAt: t0, finishedAt: t0, windowStart: at(0), windowEnd: at(48)))
        contents.schedules = Set(shifts.map(\.scheduleId) + targeted).sorted().map { Schedule(id: $0, name: $0, timeZone: "UTC") }
        contents.shifts = shifts
        contents.onCalls = onCalls
        contents.targets = targeted.map { EscalationTarget(policyId: "PPOL", level: 1, ruleId: "PRULE", delayMinutes: 0, kind: .schedule, targetId: $0) }
        return contents
    }

    @Test func aScheduleIsReadFromOnCallsOnlyWhereBothAgreedShiftForShift() {
        let contents = Self.full(
            shifts: [
                Self.shift("PSAME", "PA", 0, 12), Self.shift("PSAME", "PB", 12, 48),
                // /oncalls shows one of two concurrent people: not described.
                Self.shift("PPAIR", "PA", 0, 48), Self.shift("PPAIR", "PC", 0, 48),
                // Cut differently: one entry where the detail has two.
                Self.shift("PCUT", "PA", 0, 24), Self.shift("PCUT", "PA", 24, 48),
                // Outside every policy: /oncalls says nothing of it.
                Self.shift("POUT", "PD", 0, 48),
            ],
            onCalls: [
                // Entries run past the window and are cut as the shifts are; the same entry at two
                // levels counts once.
                Self.onCall("PSAME", "PA", -6, 12), Self.onCall("PSAME", "PB", 12, 60), Self.onCall("PSAME", "PB", 12, 60, level: 2),
                Self.onCall("PPAIR", "PA", 0, 48),
                Self.onCall("PCUT", "PA", 0, 48),
                Self.onCall(nil, "PE", nil, nil),
            ],
            targeted: ["PSAME", "PPAIR", "PCUT", "PEMPTY"])
        #expect(RefreshAssembly.schedulesDescribedByOnCalls(contents) == ["PSAME", "PEMPTY"])
    }

    @Test func theSpanComesFromOnCallsAndTheRestFromThePreviousSnapshot() {
        let previous = [
            Self.shift("PS", "PA", 0, 10),   // before the span: kept
            Self.shift("PS", "PB", 10, 20),  // overlaps the span: replaced
            Self.shift("PS", "PA", 20, 30),  // overlaps the span: replaced
            Self.shift("PS", "PC", 30, 48),  // after the span: kept
        ]
        let fresh: Set<Shift> = [Self.shift("PS", "PD", 8, 22), Self.shift("PS", "PA", 22, 31)]
        let merged = RefreshAssembly.merged(previous: previous, fresh: fresh, since: Self.at(12), until: Self.at(24),
                                            window: (Self.at(0), Self.at(48)))
        #expect(merged == [Self.shift("PS", "PA", 0, 10), Self.shift("PS", "PD", 8, 22), Self.shift("PS", "PA", 22, 31), Self.shift("PS", "PC", 30, 48)])
    }

    @Test func aFullReadIsPlannedWhenNothingCanBeRefreshed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        let client = PagerDutyClient(configuration: PagerDutyConfiguration(baseURL: URL(string: "http://127.0.0.1:9")!, apiKey: "unused"))
        let syncer = Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(refreshAhead: 8 * 3600))
        let now = Date()
        func reason(_ plan: SyncPlan) -> String { if case .full(let reason) = plan { reason } else { "refresh" } }

        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "no snapshot yet")
        var contents = SnapshotContents(info: SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400),
                                                           windowEnd: now.addingTimeInterval(7 * 86_400)))
        _ = try database.writeSnapshot(contents, keep: 5)
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "refresh")
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600, forceFull: true)) == "--full")
        #expect(reason(try await syncer.plan(now: now, fullEvery: 0)) == "--full-every 0")
        #expect(reason(try await syncer.plan(now: now.addingTimeInterval(3600), fullEvery: 3600)).hasPrefix("the last full read is 60 min old"))
        let shorter = Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(horizon: 86_400))
        #expect(reason(try await shorter.plan(now: now, fullEvery: 3600)) == "--lookback or --horizon changed")

        // Refreshes past `keep` never prune the full read they build on.
        contents.info.read = .refresh
        for _ in 0..<5 { _ = try database.writeSnapshot(contents, keep: 2) }
        #expect(try database.snapshots().map(\.read) == [.full, .refresh, .refresh])
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "refresh")
    }
}
