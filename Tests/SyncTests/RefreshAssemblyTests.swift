import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
import PagerDuty
import PagerDutySimulator
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
        func reason(_ plan: SyncPlan) -> String {
            switch plan {
            case .full(let reason): reason
            case .refresh(let refresh): refresh.wide ? "wide refresh" : "refresh"
            }
        }

        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "no snapshot yet")
        var contents = SnapshotContents(info: SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400),
                                                           windowEnd: now.addingTimeInterval(7 * 86_400)))
        _ = try database.writeSnapshot(contents, keep: 5)
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "refresh")
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600, forceFull: true)) == "--full")
        #expect(reason(try await syncer.plan(now: now, fullEvery: 0)) == "--full-every 0")
        #expect(reason(try await syncer.plan(now: now.addingTimeInterval(3600), fullEvery: 3600)).hasPrefix("the current snapshot is 60 min old"))
        // The window's end an hour behind now + --horizon, or --horizon or --lookback changed: the
        // refresh reads the whole window again.
        #expect(reason(try await syncer.plan(now: now.addingTimeInterval(3599), fullEvery: 3600)) == "refresh")
        #expect(reason(try await syncer.plan(now: now.addingTimeInterval(3599), fullEvery: 1800)).hasPrefix("the current snapshot is 59 min old"))
        let shorter = Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(horizon: 86_400))
        #expect(reason(try await shorter.plan(now: now, fullEvery: 3600)) == "wide refresh")
        let longer = Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(lookback: 2 * 86_400))
        #expect(reason(try await longer.plan(now: now, fullEvery: 3600)) == "wide refresh")
        #expect(reason(try await syncer.plan(now: now.addingTimeInterval(1800), fullEvery: 3600)) == "refresh")

        // Refreshes past `keep` never prune the full read they build on.
        contents.info.read = .refresh
        for _ in 0..<5 { _ = try database.writeSnapshot(contents, keep: 2) }
        #expect(try database.snapshots().map(\.read) == [.full, .refresh, .refresh])
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "refresh")

        // A refresh written 5 minutes ago on a window whose end was last moved an hour ago.
        let started = now.addingTimeInterval(-300)
        contents.info = SnapshotInfo(startedAt: started, finishedAt: started, windowStart: started.addingTimeInterval(-86_400),
                                     windowEnd: now.addingTimeInterval(7 * 86_400 - 3600), read: .refresh)
        _ = try database.writeSnapshot(contents, keep: 5)
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "wide refresh")
        #expect(reason(try await syncer.plan(now: now, fullEvery: 7200)) == "refresh")

        // Written before Shiftgate recorded which schedules /oncalls describes: nothing to build on.
        contents.schedules = [Schedule(id: "PS", name: "Primary", timeZone: "UTC")]
        _ = try database.writeSnapshot(contents, keep: 5)
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "the current snapshot does not record which schedules /oncalls describes")
        contents.schedules[0].describedByOnCalls = false
        _ = try database.writeSnapshot(contents, keep: 5)
        #expect(reason(try await syncer.plan(now: now, fullEvery: 3600)) == "wide refresh")
    }

    /// Every schedule's turn comes once per period, whatever the syncs' cadence; a sync that comes a
    /// period or more after the last reads every schedule whole.
    @Test func eachScheduleIsReadWholeOncePerPeriodInItsTurn() {
        let ids = (0..<1000).map { String(format: "P%06X", $0 * 7919) }
        let start = Date(unixSeconds: 1_800_000_123)
        for step in [300.0, 420, 900] {
            var turns: [String: Int] = [:]
            var largest = 0
            var moment = start
            while moment < start.addingTimeInterval(3600) {
                let next = moment.addingTimeInterval(step)
                let due = ids.filter { Syncer.isDue($0, after: moment, upTo: next, period: 3600) }
                for id in due { turns[id, default: 0] += 1 }
                largest = max(largest, due.count)
                moment = next
            }
            // 3600 s is a whole number of 5- and 15-minute steps; 7-minute steps run 20 s over.
            #expect(ids.allSatisfy { (1...2).contains(turns[$0] ?? 0) }, "step \(step)")
            #expect(step == 420 || ids.allSatisfy { turns[$0] == 1 }, "step \(step)")
            // Spread: no step reads more than about twice its share.
            #expect(Double(largest) < 2 * Double(ids.count) * step / 3600, "step \(step): \(largest)")
        }
        #expect(ids.allSatisfy { Syncer.isDue($0, after: start, upTo: start.addingTimeInterval(3600), period: 3600) })
        #expect(!ids.contains { Syncer.isDue($0, after: start, upTo: start, period: 3600) })
    }
}

/// Refreshes against the simulator over HTTP: a schedule read whole in its turn, and a wide refresh.
@Suite struct RefreshTurnTests {
    static func detailReads(_ running: RunningSimulator) -> Int {
        (running.simulator.stats.requestsByPath["/schedules/{id}"] ?? 0) + (running.simulator.stats.requestsByPath["/v3/schedules/{id}"] ?? 0)
    }

    /// `knownAccount` in the simulator, read in full into a new cache.
    func withFullRead(now: Date, _ body: (RunningSimulator, TemporaryDirectory, OnCallDatabase, Syncer, SnapshotContents) async throws -> Void) async throws {
        try await withSimulator(knownAccount(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database)
            _ = try await syncer.run(now: now)
            try await body(running, directory, database, syncer, try #require(try database.currentSnapshot()))
        }
    }

    @Test func aScheduleReadWholeInItsTurnIsCheckedAgainstOnCallsAndCarriedOtherwise() async throws {
        let now = Date()
        try await withFullRead(now: now) { running, directory, database, syncer, full in
            // Both schedules are reached by the policy and agree with /oncalls shift for shift.
            #expect(full.schedules.map(\.describedByOnCalls) == [true, true])

            // No turn comes (a period of 10 years): no detail is read, the flags are carried.
            running.simulator.resetStats()
            let quiet = RefreshPlan(previous: full, wide: false, period: 10 * 365 * 86_400)
            _ = try await syncer.run(now: now, plan: .refresh(quiet))
            #expect(Self.detailReads(running) == 0)
            let refreshed = try #require(try database.currentSnapshot())
            #expect(refreshed.info.read == .refresh && refreshed.schedules.map(\.describedByOnCalls) == [true, true])

            // A description changed (only a detail read shows it on a shift-less field) and every
            // turn due (a period of 1 s, the last snapshot older than that): both schedules are read
            // whole again and checked again.
            running.simulator.updateAccount { account in
                account.schedules[0].description = "changed in PagerDuty"
            }
            try await Task.sleep(for: .seconds(1.1))
            running.simulator.resetStats()
            let everyTurn = RefreshPlan(previous: refreshed, wide: false, period: 1)
            let reading = Date()
            _ = try await syncer.run(now: reading, plan: .refresh(everyTurn))
            #expect(Self.detailReads(running) == 2)
            let reread = try #require(try database.currentSnapshot())
            #expect(reread.schedules.first { $0.id == "PSCHED1" }?.description == "changed in PagerDuty")
            #expect(reread.schedules.map(\.describedByOnCalls) == [true, true])
            let afterStart = { (shift: Shift) in shift.start > reread.info.windowStart }
            #expect(Set(reread.shifts.filter(afterStart)) == Set(full.shifts.filter(afterStart)))
        }
    }

    @Test func aWideRefreshMovesTheWindowAndListsEveryUser() async throws {
        let now = Date()
        try await withFullRead(now: now) { running, directory, database, syncer, full in

            // A user who is on call nowhere joins, another leaves; an hour passes.
            running.simulator.updateAccount { account in
                account.users.append(SimulatedUser(id: "PUSEREE", name: "Erin Example", email: "erin@example.com", timeZone: "UTC"))
            }
            let later = now.addingTimeInterval(3600)
            running.simulator.resetStats()
            _ = try await syncer.run(now: later, plan: .refresh(RefreshPlan(previous: full, wide: false, period: 10 * 365 * 86_400)))
            let narrow = try #require(try database.currentSnapshot())
            #expect(narrow.info.windowEnd == full.info.windowEnd)
            #expect(!narrow.users.contains { $0.id == "PUSEREE" }, "a refresh lists no users")
            #expect(running.simulator.stats.requestsByPath["/users"] == nil)

            _ = try await syncer.run(now: later, plan: .refresh(RefreshPlan(previous: narrow, wide: true, period: 10 * 365 * 86_400)))
            let wide = try #require(try database.currentSnapshot())
            #expect(wide.info.read == .refresh && wide.info.windowEnd == full.info.windowEnd.addingTimeInterval(3600))
            #expect(wide.users.contains { $0.id == "PUSEREE" })
            #expect(Self.detailReads(running) == 0, "the whole window came from /oncalls")

            // The same moment read in full gives the same shifts, users and flags.
            let fullDatabase = try OnCallDatabase(path: directory.path("full.sqlite"))
            _ = try await makeSyncer(running, database: fullDatabase).run(now: later)
            let fresh = try #require(try fullDatabase.currentSnapshot())
            #expect(Set(wide.shifts) == Set(fresh.shifts))
            #expect(wide.users == fresh.users)
            #expect(wide.schedules == fresh.schedules)
            #expect(wide.info.windowStart == fresh.info.windowStart && wide.info.windowEnd == fresh.info.windowEnd)
        }
    }
}
