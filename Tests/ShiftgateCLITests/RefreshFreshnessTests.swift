import Approval
import Foundation
import OnCallStore
import PagerDutySimulator
import SQLiteStore
import Testing
import TestSupport
import Timestamps

/// Issue #17: a refresh (the sync between two full reads) must decide as a full read would. Each
/// change of the list is made in the simulator, then `shiftgate sync` refreshes one cache and
/// `shiftgate sync --full` reads a fresh one at the same moment; `check EMAIL` must give the same
/// answer from both for every person the change touches, and the decision for every user of the
/// account must be the same in process too.
@Suite(.serialized) struct RefreshFreshnessTests {
    struct Change {
        var name: String
        /// Emails whose `check` must agree (besides every user, compared in process).
        var affected: [String]
        /// AUTO_APPROVAL_* for this change's checks.
        var environment: [String: String] = [:]
        var apply: @Sendable (inout SimulatedAccount) -> Void
    }

    @Test(.timeLimit(.minutes(5)))
    func everyKindOfChangeIsSeenByTheNextRefresh() async throws {
        let now = Date()
        var account = SimulatedAccount.generate(users: 240, schedules: 20, seed: 23, now: now, v3Share: 0.5)
        // One layer-based schedule outside every escalation policy.
        let layerBased = account.schedules.filter { $0.kind == .layerBased }.map(\.id)
        let shiftBased = account.schedules.filter { $0.kind == .shiftBased }.map(\.id)
        let outside = try #require(layerBased.last)
        for index in account.escalationPolicies.indices {
            for rule in account.escalationPolicies[index].rules.indices {
                account.escalationPolicies[index].rules[rule].targets.removeAll { $0.id == outside }
            }
            account.escalationPolicies[index].rules.removeAll { $0.targets.isEmpty }
        }
        let start = account

        @Sendable func schedule(_ id: String, in account: SimulatedAccount) -> SimulatedSchedule { account.schedules.first { $0.id == id }! }
        func emails(_ ids: [String], in account: SimulatedAccount) -> [String] {
            ids.compactMap { id in account.users.first { $0.id == id }?.email }
        }
        /// Whoever PagerDuty's final schedule shows on call at `now` in a layer-based schedule.
        @Sendable func onCallNow(_ id: String, in account: SimulatedAccount) -> [String] {
            schedule(id, in: account).render(since: now, until: now.addingTimeInterval(60)).final.map(\.userId)
        }
        let swapped = layerBased[0], overridden = layerBased[1], grown = layerBased[2], shrunk = layerBased[3], renamed = layerBased[4]
        let deleted = layerBased[5], upgradedRotation = shiftBased[0]
        let newcomer = start.users[start.users.count - 1], overrider = start.users[start.users.count - 2]
        let emailChanged = try #require(onCallNow(swapped, in: start).first)

        let changes: [Change] = [
            Change(name: "a shift swapped", affected: emails(schedule(swapped, in: start).layers.flatMap(\.userIds), in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == swapped }!
                account.schedules[index].layers[0].userIds.reverse()
            },
            Change(name: "an override added", affected: emails(schedule(overridden, in: start).layers.flatMap(\.userIds) + [overrider.id], in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == overridden }!
                account.schedules[index].overrides.append(SimulatedOverride(
                    id: "PFRESH1", start: now.addingTimeInterval(-600), end: now.addingTimeInterval(2 * 3600), userId: overrider.id))
            },
            Change(name: "an override removed", affected: emails(schedule(overridden, in: start).layers.flatMap(\.userIds) + [overrider.id], in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == overridden }!
                account.schedules[index].overrides.removeAll { $0.id == "PFRESH1" }
            },
            Change(name: "a member added to a rotation", affected: emails(schedule(grown, in: start).layers.flatMap(\.userIds) + [newcomer.id], in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == grown }!
                account.schedules[index].layers[0].userIds.insert(newcomer.id, at: 0)
            },
            Change(name: "a member removed from a rotation", affected: emails(schedule(shrunk, in: start).layers.flatMap(\.userIds), in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == shrunk }!
                let onCall = onCallNow(shrunk, in: account)
                account.schedules[index].layers = account.schedules[index].layers.map { layer in
                    var layer = layer
                    if layer.userIds.count > 1 { layer.userIds.removeAll { onCall.contains($0) } }
                    return layer
                }
            },
            Change(name: "a schedule renamed", affected: emails(onCallNow(renamed, in: start), in: start),
                   environment: ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "Renamed for the refresh test"]) { account in
                let index = account.schedules.firstIndex { $0.id == renamed }!
                account.schedules[index].name = "Renamed for the refresh test"
            },
            Change(name: "a schedule added", affected: [newcomer.email]) { account in
                let layer = SimulatedLayer(id: "PNEWLAY", name: "New", start: now.addingTimeInterval(-86_400), rotationVirtualStart: now.addingTimeInterval(-86_400),
                                           rotationTurnLengthSeconds: 7 * 86_400, userIds: [newcomer.id])
                account.schedules.append(SimulatedSchedule(id: "PNEWSCH", name: "Added for the refresh test", layers: [layer]))
                account.escalationPolicies[0].rules[0].targets.append(.init(type: .schedule, id: "PNEWSCH"))
            },
            Change(name: "a schedule deleted", affected: emails(schedule(deleted, in: start).layers.flatMap(\.userIds), in: start)) { account in
                account.schedules.removeAll { $0.id == deleted }
                for index in account.escalationPolicies.indices {
                    for rule in account.escalationPolicies[index].rules.indices {
                        account.escalationPolicies[index].rules[rule].targets.removeAll { $0.id == deleted }
                    }
                    account.escalationPolicies[index].rules.removeAll { $0.targets.isEmpty }
                }
            },
            Change(name: "a user's email changed", affected: emails([emailChanged], in: start) + ["changed.for.refresh@example.com"]) { account in
                let index = account.users.firstIndex { $0.id == emailChanged }!
                account.users[index].email = "changed.for.refresh@example.com"
            },
            Change(name: "a schedule outside every policy edited", affected: emails(schedule(outside, in: start).layers.flatMap(\.userIds), in: start)) { account in
                let index = account.schedules.firstIndex { $0.id == outside }!
                account.schedules[index].layers[0].userIds.reverse()
            },
            Change(name: "a shift-based rotation's members reordered", affected: emails(
                schedule(upgradedRotation, in: start).rotations.flatMap { $0.events.flatMap { $0.members.compactMap { $0 } } }, in: start)
            ) { account in
                let index = account.schedules.firstIndex { $0.id == upgradedRotation }!
                for rotation in account.schedules[index].rotations.indices {
                    for event in account.schedules[index].rotations[rotation].events.indices {
                        account.schedules[index].rotations[rotation].events[event].members.reverse()
                    }
                }
            },
        ]

        try await withSimulator(start) { running, directory in
            let refreshed = directory.path("refreshed.sqlite")
            let environment = ["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString]
            let first = try await run(["sync", "--database", refreshed], environment: environment)
            try #require(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("(full read)"), "\(first.stdout)")
            var refreshRequests: [Int] = []
            for (number, change) in changes.enumerated() {
                running.simulator.updateAccount(change.apply)
                let refresh = try await run(["sync", "--database", refreshed], environment: environment)
                try #require(refresh.status == 0, "\(change.name): \(refresh.stderr)")
                #expect(refresh.stdout.contains("(refresh)"), "\(change.name): \(refresh.stdout)")
                let full = directory.path("full-\(number).sqlite")
                let fullSync = try await run(["sync", "--full", "--database", full], environment: environment)
                try #require(fullSync.status == 0, "\(change.name): \(fullSync.stderr)")

                let at = RFC3339.format(Date(unixSeconds: Date().unixSeconds + 60))
                // A stretch that reaches the end of a cache's window goes on past what that cache
                // knows: two full reads a second apart differ there too. Ends are compared up to the
                // earlier of the two windows' ends.
                let horizon = try [refreshed, full].map { try #require(try OnCallDatabase(path: $0, mustExist: true).currentSnapshotInfo()).windowEnd }.min()!
                for email in change.affected {
                    var answers: [String] = []
                    for database in [refreshed, full] {
                        let check = try await run(["check", email, "--at", at, "--format", "json", "--database", database],
                                                  environment: change.environment)
                        answers.append(Self.comparable(check.stdout, horizon: horizon) + " exit \(check.status)")
                    }
                    #expect(answers[0] == answers[1], "\(change.name): check \(email) after a refresh ≠ after a full read:\n\(answers[0])\n\(answers[1])")
                }
                let differences = try Self.decisionDifferences(refreshed, full, at: RFC3339.parse(at)!, horizon: horizon)
                #expect(differences.isEmpty, "\(change.name): decisions differ for \(differences.prefix(5))")
                let requests = refresh.stdout.range(of: #"\d+(?= API requests)"#, options: .regularExpression).map { String(refresh.stdout[$0]) }
                refreshRequests.append(requests.flatMap { Int($0) } ?? -1)
            }
            print("[refresh] \(changes.count) changes, each seen by the next refresh; requests per refresh: \(refreshRequests)")
        }
    }

    /// With an allow-list, sync reads only the allowed schedules (one by id, one shift-based by
    /// name); decisions equal those from a cache of every schedule, after the first sync and after
    /// a refresh that follows a swap.
    @Test(.timeLimit(.minutes(3)))
    func anAllowListNarrowsWhatSyncReadsAndNotTheDecisions() async throws {
        let now = Date()
        let account = SimulatedAccount.generate(users: 400, schedules: 24, seed: 31, now: now, v3Share: 0.5)
        let byId = try #require(account.schedules.first { $0.kind == .layerBased })
        let byName = try #require(account.schedules.first { $0.kind == .shiftBased })
        let allow = ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "\(byId.id), \(byName.name)"]
        try await withSimulator(account) { running, directory in
            let scoped = directory.path("scoped.sqlite")
            let environment = allow.merging(["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString]) { $1 }
            var requests: [Int] = []
            for round in 0..<2 {
                if round == 1 {
                    running.simulator.updateAccount { account in
                        let index = account.schedules.firstIndex { $0.id == byId.id }!
                        account.schedules[index].layers[0].userIds.reverse()
                    }
                }
                running.simulator.resetStats()
                let sync = try await run(["sync", "--database", scoped], environment: environment)
                try #require(sync.status == 0, "\(sync.stderr)")
                #expect(sync.stdout.contains(round == 0 ? "(full read)" : "(refresh)"), "\(sync.stdout)")
                #expect((running.simulator.stats.requestsByPath["/schedules/{id}"] ?? 0) + (running.simulator.stats.requestsByPath["/v3/schedules/{id}"] ?? 0) <= 2,
                        "only the allowed schedules' details: \(running.simulator.stats.requestsByPath)")
                requests.append(running.simulator.stats.requests)
                let everything = directory.path("everything-\(round).sqlite")
                let full = try await run(["sync", "--full", "--all-schedules", "--database", everything], environment: environment)
                try #require(full.status == 0, "\(full.stderr)")
                let contents = try #require(try OnCallDatabase(path: scoped, mustExist: true).currentSnapshot())
                #expect(Set(contents.schedules.map(\.id)) == [byId.id, byName.id])
                let at = Date(unixSeconds: Date().unixSeconds + 60)
                let policy = try ApprovalPolicy(environment: allow)
                let differences = try Self.decisionDifferences(scoped, everything, at: at, horizon: contents.info.windowEnd, policy: policy)
                #expect(differences.isEmpty, "round \(round): \(differences.prefix(3))")
            }
            print("[refresh] allow-list of 2 schedules: \(requests[0]) requests for the first sync, \(requests[1]) for a refresh")
        }
    }

    /// Issue #26, item 8: where a refresh did not confirm a schedule's roster (outside the span it
    /// read `/oncalls` for), `check --schedule … --at` and `check EMAIL --at` exit 2 saying so rather
    /// than answer from rows an earlier read left; inside it, and after `sync --full`, they answer.
    @Test(.timeLimit(.minutes(2)))
    func checkAtATimeARefreshDidNotConfirmCannotDecide() async throws {
        try await withSimulator(.small()) { running, directory in
            let cache = directory.path("cache.sqlite")
            let environment = ["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString]
            for arguments in [["sync"], ["sync"]] {
                let sync = try await run(arguments + ["--database", cache], environment: environment)
                try #require(sync.status == 0, "\(sync.stderr)")
            }
            let refreshed = try #require(try OnCallDatabase(path: cache, mustExist: true).currentSnapshot())
            try #require(refreshed.info.read == .refresh)
            let schedule = try #require(refreshed.schedules.first { $0.confirmedUntil != nil })
            let confirmedUntil = try #require(schedule.confirmedUntil)
            let someone = try #require(refreshed.users.first { user in refreshed.shifts.contains { $0.userId == user.id } })
            let inside = RFC3339.format(Date(unixSeconds: Date().unixSeconds + 60))
            let outside = RFC3339.format(confirmedUntil.addingTimeInterval(2 * 86_400))

            for command in [["check", "--schedule", schedule.id], ["check", someone.email]] {
                let refused = try await run(command + ["--at", outside, "--database", cache])
                #expect(refused.status == 2, "\(command): \(refused.stdout)")
                #expect(refused.stderr.contains("is a refresh: it confirms schedule") && refused.stderr.contains("sync --full"), "\(refused.stderr)")
                #expect(refused.stderr.split(separator: "\n").count == 1, "one line: \(refused.stderr)")
                let answered = try await run(command + ["--at", inside, "--database", cache])
                #expect([0, 1].contains(answered.status), "\(command): \(answered.stderr)")
            }
            let full = try await run(["sync", "--full", "--database", cache], environment: environment)
            try #require(full.status == 0, "\(full.stderr)")
            for command in [["check", "--schedule", schedule.id], ["check", someone.email]] {
                let answered = try await run(command + ["--at", outside, "--database", cache])
                #expect([0, 1].contains(answered.status), "\(command) after a full read: \(answered.stderr)")
            }
        }
    }

    /// `check --format json` as compared: without the snapshot id (it differs between the two
    /// caches), and with a stretch end at or past `horizon` read as "open" (then the reason, which
    /// names that end, is left out too).
    static func comparable(_ json: String, horizon: Date) -> String {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return json }
        object = object.filter { !$0.key.lowercased().hasPrefix("snapshot") }
        if let until = (object["until"] as? String).flatMap(RFC3339.parse), until >= horizon {
            object["until"] = "open"
            object["reason"] = nil
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Every user's decision at `at` from each cache (the default policy), where they differ.
    static func decisionDifferences(_ first: String, _ second: String, at: Date, horizon: Date,
                                    policy: ApprovalPolicy = ApprovalPolicy()) throws -> [String] {
        let snapshots = try [first, second].map { path in try #require(try OnCallDatabase(path: path, mustExist: true).currentSnapshot()) }
        let indexes = snapshots.map { OnCallIndex($0, policy: policy) }
        let emails = Set(snapshots.flatMap { $0.users.map { $0.email.lowercased() } })
        return emails.sorted().compactMap { email in
            let decisions = indexes.map { Decider.decide(email: email, requestedDuration: nil, now: at, index: $0) }
            let shapes = decisions.map { decision in
                let end = decision.stretchEnd.map { $0 >= horizon ? "open" : RFC3339.format($0) } ?? "-"
                // A cache scoped to the allow-list has no other schedule to say the person is on call
                // in: there, "on call only outside the list" is not_on_call, the same refusal.
                let outcome = decision.outcome == .outsideRuleSchedules ? Decision.Outcome.notOnCall : decision.outcome
                return "\(decision.isApproved) \(outcome.rawValue) \(end) \(decision.grantedSeconds ?? -1) \(Set(decision.scheduleIds).sorted())"
            }
            guard shapes[0] != shapes[1] else { return nil }
            // The person's shifts in each cache, to see where they part.
            let shifts = snapshots.map { snapshot -> String in
                let ids = Set(snapshot.users.filter { $0.email.lowercased() == email }.map(\.id))
                return snapshot.shifts.filter { ids.contains($0.userId) }
                    .map { "\($0.scheduleId) \(RFC3339.format($0.start))–\(RFC3339.format($0.end))" }.sorted().joined(separator: ", ")
            }
            return "\(email): \(shapes[0]) ≠ \(shapes[1]); shifts [\(shifts[0])] ≠ [\(shifts[1])]"
        }
    }
}
