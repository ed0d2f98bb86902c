import Approval
import Drift
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
import Testing
import TestSupport
@testable import Sync
import Timestamps

/// Accounts that mix layer-based and shift-based (v3) schedules, synced from the simulator over
/// loopback into real SQLite files.
@Suite struct ShiftBasedSyncTests {
    typealias IDs = MixedAccountIDs

    /// Who the snapshot has on call in each schedule at each of `instants` (sets of user ids).
    static func onCallSets(_ shifts: [Shift], schedules: [String], at instants: [Date]) -> [String: [Set<String>]] {
        var result: [String: [Set<String>]] = [:]
        for schedule in schedules {
            let own = shifts.filter { $0.scheduleId == schedule }
            result[schedule] = instants.map { instant in Set(own.filter { $0.start <= instant && instant < $0.end }.map(\.userId)) }
        }
        return result
    }

    /// The same, from the simulator's own account: the truth the sync must reproduce.
    static func truth(_ account: SimulatedAccount, at instants: [Date]) -> [String: [Set<String>]] {
        var result: [String: [Set<String>]] = [:]
        for schedule in account.schedules {
            result[schedule.id] = instants.map { instant in
                switch schedule.kind {
                case .layerBased:
                    Set(schedule.render(since: instant, until: instant).final.map(\.userId))
                case .shiftBased:
                    Set(schedule.renderShifts(since: instant, until: instant, overflow: false).compactMap(\.userId))
                }
            }
        }
        return result
    }

    /// Where two on-call maps differ: "schedule at time: snapshot vs truth", at most 10.
    static func differences(_ got: [String: [Set<String>]], _ expected: [String: [Set<String>]], instants: [Date]) -> [String] {
        var found: [String] = []
        for (schedule, sets) in expected.sorted(by: { $0.key < $1.key }) {
            let other = got[schedule] ?? []
            for (index, set) in sets.enumerated() where index >= other.count || other[index] != set {
                found.append("\(schedule) at \(RFC3339.format(instants[index])): \(index < other.count ? other[index].sorted() : []) vs \(set.sorted())")
            }
        }
        return Array(found.prefix(10))
    }

    /// Every 20 minutes of the synced window, offset so that instants fall inside shifts as well as on handoffs.
    static func instants(_ info: SnapshotInfo) -> [Date] {
        stride(from: info.windowStart.timeIntervalSince1970 + 7, to: info.windowEnd.timeIntervalSince1970, by: 1200).map(Date.init(timeIntervalSince1970:))
    }

    @Test func aMixedAccountIsSyncedWithBothKindsAndEachSchedulesPeopleAsASet() async throws {
        let now = Date()
        let account = mixedAccount(now: now)
        try await withSimulator(account) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let syncer = makeSyncer(running, database: database)
            let info = try await syncer.run(now: now)
            let snapshot = try #require(try database.currentSnapshot())
            #expect(info.scheduleCount == 3 && info.shiftBasedScheduleCount == 2)
            #expect(Dictionary(uniqueKeysWithValues: snapshot.schedules.map { ($0.id, $0.kind) })
                    == [IDs.platform: .shiftBased, IDs.support: .shiftBased, IDs.legacy: .layerBased])
            #expect(snapshot.schedules.first { $0.id == IDs.platform }?.name == "Platform v3")
            let instants = Self.instants(info)
            #expect(Self.differences(Self.onCallSets(snapshot.shifts, schedules: snapshot.schedules.map(\.id), at: instants),
                                     Self.truth(account, at: instants), instants: instants) == [])
            // Dan's override, from the final schedule; the rotation's and the custom shift's members.
            #expect(snapshot.overrides.contains { $0.scheduleId == IDs.platform && $0.userId == IDs.dan })
            #expect(Set(snapshot.members.filter { $0.scheduleId == IDs.platform }.map(\.userId)).isSuperset(of: [IDs.alice, IDs.bob]))
            let stats = running.simulator.stats
            let retries = syncer.client.usage.retries
            // Each schedule read once on its own API. Dan's override is the only one, and the final
            // schedule does not list Alice during it: the overrides need not be read.
            #expect((1...1 + retries).contains(stats.requestsByPath["/schedules/{id}"] ?? 0))
            #expect((2...2 + retries).contains(stats.requestsByPath["/v3/schedules/{id}"] ?? 0))
            #expect(stats.requestsByPath["/v3/schedules/{id}/overrides"] == nil)
            #expect((1...1 + retries).contains(stats.requestsByPath["/v3/schedules"] ?? 0))
        }
    }

    /// Whatever PagerDuty does where its documentation is silent (the replaced member listed during an
    /// override or not; entries crossing the window cut or dropped; a 404 or a 400 for the wrong
    /// API), the snapshot has the same people on call at every instant.
    @Test(arguments: [
        PagerDutyVariants(),
        PagerDutyVariants(finalScheduleKeepsOverriddenMembers: true),
        PagerDutyVariants(v3OverflowFalseDropsCrossingEntries: true),
        PagerDutyVariants(v2DetailOfShiftBasedAnswers404: true),
    ])
    func aGeneratedMixedAccountMatchesTheSimulatorsTruth(_ variants: PagerDutyVariants) async throws {
        let now = Date()
        let account = SimulatedAccount.generate(users: 120, schedules: 16, seed: 5, now: now, v3Share: 0.5)
        #expect(account.schedules.filter { $0.kind == .shiftBased }.count == 8)
        var options = SimulatorOptions(apiKeys: [testAPIKey])
        options.variants = variants
        try await withSimulator(account, options: options) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let info = try await makeSyncer(running, database: database).run(now: now)
            let snapshot = try #require(try database.currentSnapshot())
            #expect(info.shiftBasedScheduleCount == 8)
            let instants = Self.instants(info)
            #expect(Self.differences(Self.onCallSets(snapshot.shifts, schedules: account.schedules.map(\.id), at: instants),
                                     Self.truth(account, at: instants), instants: instants) == [])
            // Somewhere two people are on call at once in one schedule.
            let concurrent = Self.onCallSets(snapshot.shifts, schedules: account.schedules.map(\.id), at: instants).values.contains { $0.contains { $0.count >= 2 } }
            #expect(concurrent)
            #expect(Set(snapshot.shifts.map(\.userId)).isSubset(of: Set(snapshot.users.map(\.id))))
        }
    }

    /// A schedule upgraded between two syncs keeps its id: the second snapshot has it as shift-based,
    /// every decision is the same, and drift reports the kind change, not a removed plus an added schedule.
    @Test func anUpgradeInPlaceBetweenTwoSyncsKeepsDecisions() async throws {
        let now = Date()
        try await withSimulator(SimulatedAccount.small(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let first = try await makeSyncer(running, database: database).run(now: now)

            var request = URLRequest(url: running.baseURL.appendingPathComponent("/_simulator/schedules/\(SmallAccountIDs.primary)/upgrade"))
            request.httpMethod = "POST"
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(running.simulator.account.schedules.first { $0.id == SmallAccountIDs.primary }?.kind == .shiftBased)

            let second = try await makeSyncer(running, database: database).run(now: now)
            let before = try #require(try database.snapshot(id: first.id))
            let after = try #require(try database.snapshot(id: second.id))
            #expect(after.schedules.first { $0.id == SmallAccountIDs.primary }?.kind == .shiftBased)
            #expect(after.schedules.first { $0.id == SmallAccountIDs.secondary }?.kind == .layerBased)
            #expect(Set(after.shifts) == Set(before.shifts))

            let indexBefore = OnCallIndex(before, policy: ApprovalPolicy())
            let indexAfter = OnCallIndex(after, policy: ApprovalPolicy())
            for instant in Self.instants(first) where instant.timeIntervalSince(now) > 0 && instant.timeIntervalSince(now) < 2 * 86_400 {
                for user in before.users {
                    let a = Decider.decide(email: user.email, requestedDuration: nil, now: instant, index: indexBefore)
                    let b = Decider.decide(email: user.email, requestedDuration: nil, now: instant, index: indexAfter)
                    #expect(a.outcome == b.outcome && a.grantedSeconds == b.grantedSeconds && a.scheduleIds == b.scheduleIds,
                            "\(user.name) at \(RFC3339.format(instant))")
                }
            }

            let report = Drift.diff(from: before, to: after)
            #expect(report.schedules.map(\.id) == [SmallAccountIDs.primary])
            let drift = try #require(report.schedules.first)
            #expect(drift.status == .changed && drift.kindChange == .init(from: .layerBased, to: .shiftBased))
            #expect(drift.onCallChanges.isEmpty && drift.gapsOpened.isEmpty && drift.overridesAdded.isEmpty)
            #expect(Drift.render(report, as: .text).contains("layer-based → shift-based (v3), same id"))
        }
    }

    /// Upgraded after the lists were read and before its detail: the v2 API answers 400 (or 404), and
    /// the sync reads it from the v3 API in the same run.
    @Test(arguments: [false, true])
    func aScheduleUpgradedBetweenTheListAndItsDetailIsReadFromTheOtherAPI(answers404: Bool) async throws {
        let now = Date()
        var options = SimulatorOptions(apiKeys: [testAPIKey])
        options.variants.v2DetailOfShiftBasedAnswers404 = answers404
        var account = SimulatedAccount.small(now: now)
        account.schedules.removeAll { $0.id == SmallAccountIDs.secondary }
        account.escalationPolicies[0].rules.remove(at: 1)
        try await withSimulator(account, options: options) { running, directory in
            running.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 300))
            let upgrader = Task {
                // The schedule's detail has been asked for and waits out its latency.
                while (running.simulator.stats.requestsByPath["/schedules/{id}"] ?? 0) < 1 { try? await Task.sleep(nanoseconds: 5_000_000) }
                _ = try running.simulator.upgradeSchedule(id: SmallAccountIDs.primary)
            }
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let info = try await makeSyncer(running, database: database).run(now: now)
            try await upgrader.value
            let snapshot = try #require(try database.currentSnapshot())
            #expect(info.shiftBasedScheduleCount == 1)
            #expect(snapshot.schedules.map(\.kind) == [.shiftBased])
            #expect(onCall(snapshot.shifts, schedule: SmallAccountIDs.primary, at: now) == SmallAccountIDs.alice)
            #expect(running.simulator.stats.requestsByPath["/v3/schedules/{id}"] == 1)
        }
    }

    /// The schedules whose detail answers 404 on both APIs (deleted since the list was read) are left
    /// out; the rest of the snapshot is written.
    @Test func schedulesDeletedBetweenTheListAndTheirDetailAreLeftOut() async throws {
        let now = Date()
        try await withSimulator(mixedAccount(now: now)) { running, directory in
            var faults = SimulatorFaults()
            faults.failingPaths = ["/schedules/\(IDs.legacy)": 404, "/v3/schedules/\(IDs.legacy)": 404,
                                   "/schedules/\(IDs.support)": 404, "/v3/schedules/\(IDs.support)": 404]
            running.simulator.setFaults(faults)
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let info = try await makeSyncer(running, database: database).run(now: now)
            let snapshot = try #require(try database.currentSnapshot())
            #expect(info.scheduleCount == 1 && snapshot.schedules.map(\.id) == [IDs.platform])
            #expect(!snapshot.shifts.contains { $0.scheduleId != IDs.platform })
        }
    }

    struct BadReply: Sendable, CustomTestStringConvertible {
        var label: String
        var edit: SimulatorFaults.BodyEdit
        var expected: [String]
        var testDescription: String { label }
    }

    static let badReplies = [
        BadReply(label: "an unknown member type", edit: .init(pathPrefix: "/v3/schedules/\(IDs.support)", find: "\"user_member\"", replace: "\"group_member\""),
                 expected: ["/v3/schedules/\(IDs.support)", "member.type", "group_member"]),
        BadReply(label: "an unknown source type", edit: .init(pathPrefix: "/v3/schedules/\(IDs.support)", find: "\"schedule_rotation\"", replace: "\"team_rotation\""),
                 expected: ["/v3/schedules/\(IDs.support)", "source.type", "team_rotation"]),
        BadReply(label: "no final schedule", edit: .init(pathPrefix: "/v3/schedules/\(IDs.support)", find: "\"final_schedule\"", replace: "\"final_schedulx\""),
                 expected: ["/v3/schedules/\(IDs.support)", "final_schedule"]),
    ]

    /// Bad input fails the whole sync with a message naming the schedule and the field, and the
    /// previous snapshot keeps serving.
    @Test(arguments: badReplies)
    func aV3ReplyThatCannotBeReadFailsTheSyncAndKeepsThePreviousSnapshot(_ bad: BadReply) async throws {
        let now = Date()
        try await withSimulator(mixedAccount(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let good = try await makeSyncer(running, database: database).run(now: now)
            var faults = SimulatorFaults()
            faults.bodyEdits = [bad.edit]
            running.simulator.setFaults(faults)
            let error = await #expect(throws: SyncError.self) { try await makeSyncer(running, database: database).run(now: now) }
            for word in bad.expected { #expect("\(error.map(String.init(describing:)) ?? "")".contains(word), "\(String(describing: error))") }
            #expect(try database.currentSnapshotId() == good.id)
            #expect(try database.syncState().lastFailureReason?.contains("/v3/schedules/\(IDs.support)") == true)
        }
    }

    @Test func aScheduleBothAPIsRefuseFailsTheSyncNamingIt() async throws {
        let now = Date()
        try await withSimulator(mixedAccount(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let good = try await makeSyncer(running, database: database).run(now: now)
            var faults = SimulatorFaults()
            faults.failingPaths = ["/schedules/\(IDs.platform)": 400, "/v3/schedules/\(IDs.platform)": 400]
            running.simulator.setFaults(faults)
            let error = await #expect(throws: SyncError.self) { try await makeSyncer(running, database: database).run(now: now) }
            let text = error.map(String.init(describing:)) ?? ""
            #expect(text.contains("schedule \(IDs.platform) on both schedule APIs") && text.contains("/v3/schedules/{id} 400"), "\(text)")
            #expect(try database.currentSnapshotId() == good.id)
        }
    }

    /// Drift between two syncs of a shift-based schedule: an empty slot that opens is a coverage gap,
    /// and a person added by a custom shift makes a side of two.
    @Test func driftSeesEmptySlotsAsGapsAndConcurrentPeopleAsSets() async throws {
        let now = Date()
        let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        try await withSimulator(mixedAccount(now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let first = try await makeSyncer(running, database: database).run(now: now)
            running.simulator.updateAccount { account in
                let support = account.schedules.firstIndex { $0.id == IDs.support }!
                // Finn's turns become empty slots too.
                account.schedules[support].rotations[0].events[0].members = [IDs.eve, nil, nil]
                let platform = account.schedules.firstIndex { $0.id == IDs.platform }!
                account.schedules[platform].customShifts.append(SimulatedCustomShift(
                    id: "C2FINN", start: hour.addingTimeInterval(10 * 3600), end: hour.addingTimeInterval(11 * 3600), userId: IDs.finn))
            }
            let second = try await makeSyncer(running, database: database).run(now: now)
            let report = Drift.diff(from: try #require(try database.snapshot(id: first.id)), to: try #require(try database.snapshot(id: second.id)))
            let support = try #require(report.schedules.first { $0.id == IDs.support })
            #expect(support.gapsOpened.contains(.init(start: hour.addingTimeInterval(12 * 3600), end: hour.addingTimeInterval(20 * 3600))))
            let platform = try #require(report.schedules.first { $0.id == IDs.platform })
            let change = try #require(platform.onCallChanges.first)
            #expect(change.start == hour.addingTimeInterval(10 * 3600) && change.end == hour.addingTimeInterval(11 * 3600))
            #expect(change.before.map(\.id) == [IDs.alice] && change.after.map(\.id) == [IDs.alice, IDs.finn])
        }
    }
}
