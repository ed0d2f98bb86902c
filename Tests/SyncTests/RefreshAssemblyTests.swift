import Approval
import Drift
import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
import PagerDuty
import PagerDutySimulator
import Timestamps
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

    /// Two people swapped everywhere: the span's entries and the continuing person's later ones no
    /// longer match the previous snapshot, so the schedule must be read whole (splicing the two
    /// gave a gap and a double booking). Unchanged, the span comes from `/oncalls` and the rest
    /// from the previous snapshot, with nothing twice.
    @Test func aScheduleIsCarriedOnlyWhenOnCallsAgreesWithThePreviousSnapshot() {
        let window = (Self.at(0), Self.at(48))
        let previous = [
            Self.shift("PS", "PA", 0, 10), Self.shift("PS", "PB", 10, 20), Self.shift("PS", "PA", 20, 30), Self.shift("PS", "PB", 30, 48),
        ]
        // The span [12, 14): PB on call to 20, and later (read as the continuing person) from 30.
        let unchanged: Set<Shift> = [Self.shift("PS", "PB", 10, 20), Self.shift("PS", "PB", 30, 48)]
        #expect(RefreshAssembly.agrees(previous: previous, read: unchanged, since: Self.at(12), until: Self.at(14), continuing: ["PB"], window: window))
        #expect(RefreshAssembly.carried(previous: previous, fresh: unchanged, since: Self.at(12), until: Self.at(14), continuing: ["PB"],
                                        window: window) == previous)
        // Swapped: PA on call in the span and later at 20–30 where PB used to be.
        let swapped: Set<Shift> = [Self.shift("PS", "PA", 10, 20), Self.shift("PS", "PA", 30, 48)]
        #expect(!RefreshAssembly.agrees(previous: previous, read: swapped, since: Self.at(12), until: Self.at(14), continuing: ["PA"], window: window))
        // Only a continuing person's later shifts changed (the span is the same).
        let later: Set<Shift> = [Self.shift("PS", "PB", 10, 20), Self.shift("PS", "PB", 20, 30)]
        #expect(!RefreshAssembly.agrees(previous: previous, read: later, since: Self.at(12), until: Self.at(14), continuing: ["PB"], window: window))
        // The previous window's end cut a shift that a wide refresh's entries give longer: the same shift.
        let wide: Set<Shift> = Set(previous.dropLast() + [Self.shift("PS", "PB", 30, 60)])
        #expect(RefreshAssembly.agrees(previous: previous, read: Set(wide.compactMap {
            RefreshAssembly.clipped(scheduleId: $0.scheduleId, userId: $0.userId, start: $0.start, end: $0.end, to: window)
        }), since: Self.at(0), until: Self.at(60), continuing: [], window: window))
        #expect(RefreshAssembly.carried(previous: previous, fresh: wide, since: Self.at(0), until: Self.at(60), continuing: [],
                                        window: (Self.at(0), Self.at(60))) == previous.dropLast() + [Self.shift("PS", "PB", 30, 60)])
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

/// Issue #26, item 8: a refresh after a change in PagerDuty must describe the roster a full read
/// would, or mark where it cannot confirm it. Each case: a full read, one change in the simulator, a
/// refresh of that cache and a full read of a new one at the same moment (PagerDuty unchanged
/// between them). Drift from the refresh to the full read must be empty (`shiftgate drift --from
/// REFRESH --to FULL`), `check --schedule … --at` (OnCallIndex) must agree wherever the refresh
/// confirms the roster, and the refresh must invent no gap and no second person at once.
@Suite struct RefreshAfterChangeTests {
    static let daily = "PDAILY1", hours = "PHOURS1", shiftBased = "PV3ZONE"
    static let people = ["PUSERAA", "PUSERBB", "PUSERCC", "PUSERDD", "PUSEREE"]
    /// Business hours' two people, then the shift-based schedule's: on call in none of the others,
    /// so that a change of the daily rotation is near now only through its own people.
    static let others = ["PUSERFF", "PUSERGG", "PUSERHH", "PUSERII"]

    /// A daily rotation of five people (UTC, handing off at midnight), a layer of business hours
    /// (09:00 for 8 hours, Europe/Berlin) rotating daily between two others, and a shift-based
    /// schedule (Europe/Berlin) with a daily rotation of two more; one policy reaches all three.
    static func account(now: Date) -> SimulatedAccount {
        let midnight = Date(unixSeconds: now.unixSeconds - now.unixSeconds % 86_400)
        let start = midnight.addingTimeInterval(-10 * 86_400)
        let users = (people + others).enumerated().map { index, id in
            SimulatedUser(id: id, name: "Person \(index)", email: "person\(index)@example.com")
        }
        let daily = SimulatedSchedule(id: Self.daily, name: "Daily", timeZone: "UTC", layers: [
            SimulatedLayer(id: "PLAYDAY", name: "Daily", start: start, rotationVirtualStart: start, rotationTurnLengthSeconds: 86_400, userIds: people),
        ])
        let hours = SimulatedSchedule(id: Self.hours, name: "Business hours", timeZone: "Europe/Berlin", layers: [
            SimulatedLayer(id: "PLAYHRS", name: "Hours", start: start, rotationVirtualStart: start, rotationTurnLengthSeconds: 86_400,
                           userIds: [others[0], others[1]],
                           restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "09:00:00", durationSeconds: 8 * 3600)]),
        ])
        let shiftBased = SimulatedSchedule(id: Self.shiftBased, name: "Shift-based", timeZone: "Europe/Berlin", kind: .shiftBased, rotations: [
            SimulatedRotation(id: "R1ZONE", events: [SimulatedRotationEvent(id: "E1ZONE", start: start, shiftSeconds: 86_400, members: [others[2], others[3]])]),
        ])
        let policy = SimulatedEscalationPolicy(id: "PPOLICY", name: "Platform", rules: [
            SimulatedEscalationRule(id: "PRULE01", targets: [.init(type: .schedule, id: Self.daily), .init(type: .schedule, id: Self.hours),
                                                             .init(type: .schedule, id: Self.shiftBased)]),
        ])
        return SimulatedAccount(users: users, schedules: [daily, hours, shiftBased], escalationPolicies: [policy])
    }

    struct Change: Sendable, CustomTestStringConvertible {
        var name: String
        /// Whether the refresh can see it (in the span it reads, or in a list): then it reads that
        /// schedule whole and equals the full read everywhere; else it confirms only its span.
        var seen: Bool
        var apply: @Sendable (inout SimulatedAccount, Date) -> Void
        var testDescription: String { name }
    }

    /// Who the daily rotation has on call over the span a refresh reads (and at its end, whose later
    /// shifts it reads too), and who not.
    static func dailyPeople(_ account: SimulatedAccount, now: Date) -> (near: [String], far: [String]) {
        let schedule = account.schedules.first { $0.id == daily }!
        let options = SyncOptions()
        let near = Set(schedule.render(since: now.addingTimeInterval(-options.refreshBehind),
                                       until: now.addingTimeInterval(options.refreshAhead + 1)).final.map(\.userId))
        return (people.filter(near.contains), people.filter { !near.contains($0) })
    }

    static func swap(_ first: String, _ second: String, in account: inout SimulatedAccount, schedule: String) {
        let index = account.schedules.firstIndex { $0.id == schedule }!
        account.schedules[index].layers[0].userIds = account.schedules[index].layers[0].userIds.map {
            $0 == first ? second : $0 == second ? first : $0
        }
    }

    static let changes: [Change] = [
        Change(name: "the person on call now swapped with another, everywhere", seen: true) { account, now in
            let (near, far) = dailyPeople(account, now: now)
            swap(near[0], far[0], in: &account, schedule: daily)
        },
        Change(name: "two people not on call near now swapped, everywhere", seen: false) { account, now in
            let far = dailyPeople(account, now: now).far
            swap(far[0], far[1], in: &account, schedule: daily)
        },
        Change(name: "an override from now", seen: true) { account, now in
            let index = account.schedules.firstIndex { $0.id == daily }!
            account.schedules[index].overrides.append(SimulatedOverride(
                id: "PNOW001", start: now.addingTimeInterval(-600), end: now.addingTimeInterval(2 * 3600), userId: dailyPeople(account, now: now).far[0]))
        },
        Change(name: "an override in three days", seen: false) { account, now in
            let index = account.schedules.firstIndex { $0.id == daily }!
            let later = now.addingTimeInterval(3 * 86_400)
            account.schedules[index].overrides.append(SimulatedOverride(
                id: "PLATER1", start: later, end: later.addingTimeInterval(3 * 3600), userId: dailyPeople(account, now: now).far[0]))
        },
        Change(name: "a layer-based schedule's time zone", seen: true) { account, _ in
            let index = account.schedules.firstIndex { $0.id == hours }!
            account.schedules[index].timeZone = "America/Los_Angeles"
        },
        Change(name: "a shift-based schedule's time zone", seen: false) { account, _ in
            let index = account.schedules.firstIndex { $0.id == shiftBased }!
            account.schedules[index].timeZone = "Asia/Tokyo"
        },
    ]

    /// Nothing changed in a generated account of both kinds: a refresh 5 minutes on and a wide one an
    /// hour on find every schedule as the previous snapshot has it (no detail read out of turn: the
    /// check costs no request), and drift to a full read at the same moment is empty.
    @Test func anUnchangedAccountCostsNoDetailReadAndDriftsNowhere() async throws {
        let now = Date(unixSeconds: Date().unixSeconds)
        let account = SimulatedAccount.generate(users: 300, schedules: 40, seed: 7, now: now, v3Share: 0.5)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("refreshed.sqlite"))
            let syncer = makeSyncer(running, database: database)
            _ = try await syncer.run(now: now)
            var previous = try #require(try database.currentSnapshot())
            let described = previous.schedules.filter { $0.describedByOnCalls == true }.count
            #expect(described > 20, "most generated schedules are described by /oncalls: \(described) of \(previous.schedules.count)")
            for (offset, wide) in [(300.0, false), (3600.0, true)] {
                let later = now.addingTimeInterval(offset)
                running.simulator.resetStats()
                _ = try await syncer.run(now: later, plan: .refresh(RefreshPlan(previous: previous, wide: wide, period: 10 * 365 * 86_400)))
                let refreshed = try #require(try database.currentSnapshot())
                let whole = previous.schedules.count - described
                #expect(RefreshTurnTests.detailReads(running) <= whole, "wide \(wide): only schedules /oncalls does not describe are read whole")
                let fullDatabase = try OnCallDatabase(path: directory.path("full-\(offset).sqlite"))
                _ = try await makeSyncer(running, database: fullDatabase).run(now: later)
                let drift = Drift.diff(from: refreshed, to: try #require(try fullDatabase.currentSnapshot()))
                #expect(drift.isEmpty, "wide \(wide): \(drift.schedules.map(\.id))")
                previous = refreshed
            }
        }
    }

    @Test(arguments: changes)
    func aRefreshDescribesWhatAFullReadWouldOrMarksWhatItCannotConfirm(_ change: Change) async throws {
        let now = Date(unixSeconds: Date().unixSeconds)
        try await withSimulator(Self.account(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("refreshed.sqlite"))
            let syncer = makeSyncer(running, database: database)
            _ = try await syncer.run(now: now)
            let first = try #require(try database.currentSnapshot())
            #expect(first.schedules.allSatisfy { $0.describedByOnCalls == true && $0.confirmedSince == nil && $0.confirmedUntil == nil })

            running.simulator.updateAccount { change.apply(&$0, now) }
            running.simulator.resetStats()
            _ = try await syncer.run(now: now, plan: .refresh(RefreshPlan(previous: first, wide: false, period: 10 * 365 * 86_400)))
            let refreshed = try #require(try database.currentSnapshot())
            #expect(refreshed.info.read == .refresh)
            // A change the refresh sees costs one request: that schedule's detail.
            #expect(RefreshTurnTests.detailReads(running) == (change.seen ? 1 : 0))

            let fullDatabase = try OnCallDatabase(path: directory.path("full.sqlite"))
            _ = try await makeSyncer(running, database: fullDatabase).run(now: now)
            let full = try #require(try fullDatabase.currentSnapshot())

            // `shiftgate drift --from REFRESH --to FULL`: PagerDuty did not change between them.
            let drift = Drift.diff(from: refreshed, to: full)
            #expect(drift.isEmpty, "\(drift.schedules)")
            // From the first read, the refresh reports what the full read reports, or (for a change
            // it cannot see) nothing: no gap opened, nobody on call twice.
            let seenByRefresh = Drift.diff(from: first, to: refreshed).schedules
            #expect(seenByRefresh == (change.seen ? Drift.diff(from: first, to: full).schedules : []), "\(seenByRefresh)")

            // A schedule the refresh saw change was read whole: its roster is the full read's.
            for schedule in refreshed.schedules where schedule.confirmedSince == nil && schedule.confirmedUntil == nil {
                #expect(Set(refreshed.shifts.filter { $0.scheduleId == schedule.id }) == Set(full.shifts.filter { $0.scheduleId == schedule.id }))
            }
            #expect(refreshed.schedules.contains { $0.confirmedSince == nil } == change.seen)

            // `check --schedule … --at`, every 10 minutes across the window: where the refresh
            // confirms a schedule it answers as the full read does; elsewhere `check` refuses.
            let refreshedIndex = OnCallIndex(refreshed, policy: ApprovalPolicy())
            let fullIndex = OnCallIndex(full, policy: ApprovalPolicy())
            var instant = refreshed.info.windowStart
            var answered = 0, refused = 0
            while instant < refreshed.info.windowEnd {
                for schedule in refreshed.schedules {
                    guard schedule.isConfirmed(at: instant) else {
                        refused += 1
                        continue
                    }
                    answered += 1
                    let (a, b) = (refreshedIndex.onCall(scheduleId: schedule.id, at: instant), fullIndex.onCall(scheduleId: schedule.id, at: instant))
                    #expect(a.map(\.userId) == b.map(\.userId) && a.map(\.until) == b.map(\.until),
                            "\(schedule.id) at \(RFC3339.format(instant)): \(a.map(\.userId)) ≠ \(b.map(\.userId))")
                }
                instant = instant.addingTimeInterval(600)
            }
            #expect(answered > 0 && refused > 0)
            // One person at a time in a layer-based schedule.
            for schedule in refreshed.schedules where schedule.kind == .layerBased {
                let shifts = refreshed.shifts.filter { $0.scheduleId == schedule.id }.sorted { $0.start < $1.start }
                #expect(zip(shifts, shifts.dropFirst()).allSatisfy { $0.end <= $1.start }, "\(schedule.id) has people on call at once")
            }
        }
    }
}
