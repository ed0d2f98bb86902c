import Foundation
import Testing
import TestSupport
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
@testable import Sync

/// A hand-made account whose rendering is known: a daily rotation A → B → C starting at midnight UTC
/// ten days before `now`, and an override giving C the hours now+1h … now+3h.
func knownAccount(now: Date) -> SimulatedAccount {
    let midnight = Date(unixSeconds: now.unixSeconds - now.unixSeconds % 86_400)
    let rotationStart = midnight.addingTimeInterval(-10 * 86_400)
    let users = [
        SimulatedUser(id: "PUSERAA", name: "Ada Lovelace", email: "Ada.Lovelace@Example.com", timeZone: "Europe/London"),
        SimulatedUser(id: "PUSERBB", name: "Brian Kernighan", email: "brian@example.com", timeZone: "America/New_York"),
        SimulatedUser(id: "PUSERCC", name: "Chen Wei", email: "CHEN@example.com", timeZone: "Asia/Kolkata"),
        SimulatedUser(id: "PUSERDD", name: "Dana Scully", email: "dana@example.com", timeZone: "UTC"),
    ]
    let layer = SimulatedLayer(id: "PLAYER1", name: "Daily", start: rotationStart, rotationVirtualStart: rotationStart,
                               rotationTurnLengthSeconds: 86_400, userIds: ["PUSERAA", "PUSERBB", "PUSERCC"])
    let primary = SimulatedSchedule(id: "PSCHED1", name: "Primary", timeZone: "America/New_York", layers: [layer],
                                    overrides: [SimulatedOverride(id: "POVER01", start: now.addingTimeInterval(3600), end: now.addingTimeInterval(3 * 3600), userId: "PUSERCC")])
    let secondaryLayer = SimulatedLayer(id: "PLAYER2", name: "Weekly", start: rotationStart, rotationVirtualStart: rotationStart,
                                        rotationTurnLengthSeconds: 7 * 86_400, userIds: ["PUSERDD"])
    let secondary = SimulatedSchedule(id: "PSCHED2", name: "Secondary", timeZone: "Asia/Kolkata", layers: [secondaryLayer])
    let policy = SimulatedEscalationPolicy(id: "PPOLICY", name: "Platform", rules: [
        SimulatedEscalationRule(id: "PRULE01", targets: [.init(type: .schedule, id: "PSCHED1")]),
        SimulatedEscalationRule(id: "PRULE02", targets: [.init(type: .schedule, id: "PSCHED2"), .init(type: .user, id: "PUSERAA")]),
    ])
    return SimulatedAccount(users: users, schedules: [primary, secondary], escalationPolicies: [policy])
}

func makeSyncer(_ running: RunningSimulator, database: OnCallDatabase, key: String = testAPIKey, requestsPerMinute: Int = 6000,
                maxAttempts: Int = 3, timeout: TimeInterval = 60, concurrency: Int = 4) -> Syncer {
    let client = PagerDutyClient(configuration: PagerDutyConfiguration(
        baseURL: running.baseURL, apiKey: key, concurrency: concurrency, requestsPerMinute: requestsPerMinute, requestTimeout: 30,
        retry: RetryPolicy(maxAttempts: maxAttempts, baseDelay: 0.05, maxDelay: 0.2, maxRateLimitWait: 2)))
    return Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(keep: 3, timeout: timeout))
}

func onCall(_ shifts: [Shift], schedule: String, at date: Date) -> String? {
    shifts.first { $0.scheduleId == schedule && $0.start <= date && date < $0.end }?.userId
}

@Suite struct SyncTests {
    @Test func snapshotHoldsTheRenderedRosterWithOverridesFolded() async throws {
        let now = Date()
        try await withSimulator(knownAccount(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let info = try await makeSyncer(running, database: database).run(now: now)
            #expect(info.userCount == 4 && info.scheduleCount == 2 && info.policyCount == 1)
            let snapshot = try #require(try database.currentSnapshot())
            #expect(snapshot.info.id == info.id)

            let midnight = Date(unixSeconds: now.unixSeconds - now.unixSeconds % 86_400)
            let rotation = ["PUSERAA", "PUSERBB", "PUSERCC"]
            // Day 10 after the rotation start → index 10 % 3 = 1 (B) today, except the override.
            let expectedToday = rotation[10 % 3]
            let probe = now.addingTimeInterval(2 * 3600)
            #expect(onCall(snapshot.shifts, schedule: "PSCHED1", at: probe) == "PUSERCC")
            let outsideOverride = now.addingTimeInterval(-30 * 60) < midnight ? midnight.addingTimeInterval(60) : now.addingTimeInterval(-30 * 60)
            if outsideOverride >= midnight {
                #expect(onCall(snapshot.shifts, schedule: "PSCHED1", at: outsideOverride) == expectedToday)
            }
            #expect(onCall(snapshot.shifts, schedule: "PSCHED1", at: midnight.addingTimeInterval(86_400 + 60)) == rotation[11 % 3])
            #expect(onCall(snapshot.shifts, schedule: "PSCHED2", at: now) == "PUSERDD")
            #expect(snapshot.overrides.contains { $0.userId == "PUSERCC" && $0.scheduleId == "PSCHED1" })

            // Shifts stay inside the window (entries are truncated at its bounds).
            #expect(snapshot.shifts.allSatisfy { $0.start >= info.windowStart && $0.end <= info.windowEnd })
            #expect(snapshot.users.first { $0.id == "PUSERAA" }?.email == "Ada.Lovelace@Example.com")
            #expect(snapshot.members.contains(ScheduleMember(scheduleId: "PSCHED1", userId: "PUSERBB")))
            #expect(snapshot.targets.contains(EscalationTarget(policyId: "PPOLICY", level: 2, ruleId: "PRULE02", delayMinutes: 30, kind: .user, targetId: "PUSERAA")))
            #expect(snapshot.onCalls.contains { $0.userId == "PUSERAA" && $0.level == 2 && $0.start == nil && $0.scheduleId == nil })
            #expect(snapshot.onCalls.contains { $0.scheduleId == "PSCHED1" && $0.level == 1 })
            #expect(try database.integrityCheck() == "ok")
        }
    }

    @Test func readsSeveralPagesAndCountsItsRequests() async throws {
        let account = SimulatedAccount.generate(users: 260, schedules: 12, seed: 11)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database)
            let info = try await syncer.run()
            #expect(info.userCount == 260 && info.scheduleCount == 12)
            let stats = running.simulator.stats
            // (A request retried on a loaded machine counts twice.)
            let retries = syncer.client.usage.retries
            // Three pages, then one `total` probe to check that the list held still while it was read.
            #expect((4...4 + retries).contains(stats.requestsByPath["/users"] ?? 0))
            #expect((12...12 + retries).contains(stats.requestsByPath["/schedules/{id}"] ?? 0))
            #expect(info.apiRequests == stats.requests)
            #expect(info.rateLimited == 0)
        }
    }

    @Test func moreThan10000UsersAreReadTeamByTeamAndOnCallUsersInNoTeamOneByOne() async throws {
        var account = SimulatedAccount.generate(users: 10_150, schedules: 10, seed: 3)
        // Two teams of ~5,075. One on-call person leaves every team: the team lists miss them, so
        // the sync must ask for them by id. One person nobody schedules leaves too: nothing needs them.
        let referenced = Set(account.schedules.flatMap { $0.layers.flatMap(\.userIds) })
        let onCallIndex = try #require(account.users.firstIndex { referenced.contains($0.id) })
        let idleIndex = try #require(account.users.firstIndex { !referenced.contains($0.id) })
        account.users[onCallIndex].teamIds = []
        account.users[idleIndex].teamIds = []
        let teamCount = Set(account.users.flatMap(\.teamIds)).count
        #expect(teamCount == 2)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database, requestsPerMinute: 600_000, timeout: 120)
            let info = try await syncer.run()
            let snapshot = try #require(try database.currentSnapshot())
            let ids = Set(snapshot.users.map(\.id))
            #expect(info.userCount == 10_149)
            #expect(ids.contains(account.users[onCallIndex].id), "an on-call user in no team is missing")
            #expect(!ids.contains(account.users[idleIndex].id))
            #expect(Set(snapshot.shifts.map(\.userId)).isSubset(of: ids))
            let stats = running.simulator.stats
            let retries = syncer.client.usage.retries
            #expect((1...1 + retries).contains(stats.requestsByPath["/teams"] ?? 0))
            #expect((1...1 + retries).contains(stats.requestsByPath["/users/{id}"] ?? 0))
            // One refused first page, then each team's ⌈5,075/100⌉ pages and its `total` probe.
            #expect((stats.requestsByPath["/users"] ?? 0) <= 1 + 2 * (51 + 1) + 2 + retries)
        }
    }

    /// Issue #17: an account just past 10,000 users, none of them in a team. The team lists find no
    /// one, so the sync reads the 10,000 users offset paging reaches and asks only for the scheduled
    /// people past them one by one, instead of everyone a schedule names (which cost 2,048 requests
    /// where 1,225 do at 1,000 schedules).
    @Test func moreThan10000UsersInNoTeamCostAboutAsMuchAsOnePagedList() async throws {
        var account = SimulatedAccount.generate(users: 10_012, schedules: 100, seed: 5)
        for index in account.users.indices { account.users[index].teamIds = [] }
        let referenced = Set(account.schedules.flatMap { $0.layers.flatMap(\.userIds) })
        // The simulator lists users by id, as offset paging reaches them: those past the first 10,000.
        let unreachable = Set(account.users.map(\.id).sorted().dropFirst(10_000)).intersection(referenced)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database, requestsPerMinute: 600_000, timeout: 120)
            _ = try await syncer.run()
            let snapshot = try #require(try database.currentSnapshot())
            let ids = Set(snapshot.users.map(\.id))
            #expect(referenced.count > 100, "the test needs more scheduled people than a paged list's pages")
            #expect(referenced.isSubset(of: ids), "scheduled people missing: \(referenced.subtracting(ids).sorted().prefix(5))")
            #expect(Set(snapshot.shifts.map(\.userId)).isSubset(of: ids))
            let stats = running.simulator.stats
            let retries = syncer.client.usage.retries
            // The refused first page, each (empty) team's first page, then the 100 pages offset
            // paging reaches.
            #expect((stats.requestsByPath["/users"] ?? 0) <= 1 + account.teams.count + 100 + retries, "\(stats.requestsByPath)")
            #expect((stats.requestsByPath["/users/{id}"] ?? 0) <= unreachable.count + retries, "\(stats.requestsByPath)")
            print("[sync] 10,012 users in no team: /users \(stats.requestsByPath["/users"] ?? 0), /teams \(stats.requestsByPath["/teams"] ?? 0), /users/{id} \(stats.requestsByPath["/users/{id}"] ?? 0) (\(unreachable.count) scheduled past offset 10,000); \(stats.requests) requests in all")
        }
    }

    @Test func aTeamOfMoreThan10000UsersFailsNamingTheTeam() async throws {
        // Two schedules make one team, so all 10,050 users are in it: no narrowing is left.
        let account = SimulatedAccount.generate(users: 10_050, schedules: 2, seed: 4)
        let team = try #require(account.teams.first)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database, requestsPerMinute: 600_000)
            do {
                let info = try await syncer.run()
                Issue.record("a team past PagerDuty's paging was read: \(info.userCount) users")
            } catch let error as SyncError {
                #expect("\(error)".contains("team_ids[]=\(team.id) (team \(team.name)) has more than 10,000 entries"), "\(error)")
            }
            #expect(try database.currentSnapshot() == nil)
            // The first page of /users, /teams, the first page of the team's users: nothing more.
            #expect((2...2 + syncer.client.usage.retries).contains(running.simulator.stats.requestsByPath["/users"] ?? 0))
        }
    }

    @Test func recoversFrom429s() async throws {
        var options = SimulatorOptions()
        options.apiKeys = [testAPIKey]
        options.rateLimitPerWindow = 10
        options.rateLimitWindowSeconds = 1
        try await withSimulator(SimulatedAccount.generate(users: 120, schedules: 15, seed: 2), options: options) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            // More requests in flight than the window allows: some must meet a 429 and be retried.
            let syncer = makeSyncer(running, database: database, requestsPerMinute: 6000, maxAttempts: 10, concurrency: 12)
            let info = try await syncer.run()
            #expect(info.scheduleCount == 15)
            #expect(info.rateLimited > 0)
            #expect(running.simulator.stats.rateLimited == info.rateLimited)
        }
    }

    @Test func aPersistent5xxFailsAndTheOldSnapshotStaysCurrent() async throws {
        try await withSimulator(knownAccount(now: Date())) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let first = try await makeSyncer(running, database: database).run()
            var faults = SimulatorFaults()
            faults.failingPaths = ["/schedules/": 503]
            running.simulator.setFaults(faults)
            do {
                _ = try await makeSyncer(running, database: database).run()
                Issue.record("the sync succeeded through a persistent 503")
            } catch let error as SyncError {
                #expect(error.description.contains("503"))
            }
            #expect(try database.currentSnapshotId() == first.id)
            #expect(try database.snapshots().count == 1)
            let state = try database.syncState()
            #expect(state.lastFailureReason?.contains("503") == true)
            #expect(try database.integrityCheck() == "ok")
        }
    }

    @Test func aRefusedKeyFailsWithoutASnapshot() async throws {
        try await withSimulator(knownAccount(now: Date())) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            do {
                _ = try await makeSyncer(running, database: database, key: "revoked-key-123").run()
                Issue.record("a refused key produced a snapshot")
            } catch let error as SyncError {
                guard case .pagerDuty(let inner) = error else { Issue.record("unexpected \(error)"); return }
                #expect(inner.isAuthenticationFailure)
            }
            #expect(try database.currentSnapshotId() == nil)
            let state = try database.syncState()
            #expect(state.lastFailureReason?.contains("refused the API key") == true)
            #expect(state.lastFailureReason?.contains("revoked-key-123") == false)
        }
    }

    @Test func keepsOnlyTheNewestSnapshots() async throws {
        try await withSimulator(knownAccount(now: Date())) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            var ids: [Int64] = []
            for _ in 0..<5 { ids.append(try await makeSyncer(running, database: database).run().id) }
            #expect(try database.snapshots().map(\.id) == Array(ids.suffix(3)))
            #expect(try database.currentSnapshotId() == ids.last)
        }
    }

    @Test func aTimeBudgetStopsAStalledSync() async throws {
        try await withSimulator(knownAccount(now: Date())) { running, directory in
            var faults = SimulatorFaults()
            faults.stallPaths = ["/oncalls": 20]
            running.simulator.setFaults(faults)
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let started = Date()
            await #expect(throws: SyncError.self) { try await makeSyncer(running, database: database, timeout: 1).run() }
            // About 1 s alone; the whole suite running beside it on two cores has stretched it to
            // 8 s (tasks of other tests holding the cooperative threads), still well short of the
            // 20 s stall that a sync without a working budget would wait out.
            #expect(Date().timeIntervalSince(started) < 14)
            #expect(try database.currentSnapshotId() == nil)
        }
    }

    @Test func windowsLongerThanARequestAreSplit() {
        let start = Date(unixSeconds: 0)
        let chunks = Syncer.chunks(from: start, to: start.addingTimeInterval(200 * 86_400), longest: 90 * 86_400)
        #expect(chunks.count == 3)
        #expect(chunks.first?.0 == start && chunks.last?.1 == start.addingTimeInterval(200 * 86_400))
        #expect(zip(chunks, chunks.dropFirst()).allSatisfy { $0.1 == $1.0 })
    }
}
