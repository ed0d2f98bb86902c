import Foundation
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
import Sync
import Synchronization
import Testing
import TestSupport

/// One way PagerDuty misbehaves, and what a sync must do about it.
struct FaultCase: Sendable, CustomTestStringConvertible {
    enum Expectation: Sendable {
        /// The sync finishes and its snapshot equals a fault-free one.
        case completes
        /// The sync fails with a message containing each of these, and writes no snapshot.
        case fails([String])
        /// Either of the above (a transient fault the client may or may not retry).
        case completesOrFails([String])
    }

    var name: String
    var rateLimitPerWindow: Int = 1_000_000
    var rateLimitWindowSeconds: Double = 60
    var faults: SimulatorFaults
    var concurrency: Int = 4
    var maxAttempts: Int = 4
    var requestTimeout: Double = 5
    var maxRateLimitWait: Double = 1
    /// The sync's whole time budget (SyncOptions.timeout).
    var budget: TimeInterval = 10
    var expectation: Expectation
    var testDescription: String { name }
}

let faultCases: [FaultCase] = [
    FaultCase(name: "429 storm (10 requests per 0.5 s window, 8 in flight)", rateLimitPerWindow: 10, rateLimitWindowSeconds: 0.5,
              faults: SimulatorFaults(), concurrency: 8, maxAttempts: 40, budget: 30, expectation: .completes),
    FaultCase(name: "429 on every request, attempts run out", rateLimitPerWindow: 0, faults: SimulatorFaults(),
              maxAttempts: 3, maxRateLimitWait: 0.3, expectation: .fails(["429", "after 3 attempts"])),
    FaultCase(name: "429 on every request, time budget runs out first", rateLimitPerWindow: 0, faults: SimulatorFaults(),
              maxAttempts: 1000, maxRateLimitWait: 0.5, budget: 2, expectation: .fails(["time budget of 2s"])),
    FaultCase(name: "5xx burst: 6 failures over /users, /schedules/ and /oncalls",
              faults: SimulatorFaults(failingPaths: ["/users": 500, "/schedules/": 503, "/oncalls": 502], failuresRemaining: 6),
              maxAttempts: 8, expectation: .completes),
    FaultCase(name: "500 on /escalation_policies for ever", faults: SimulatorFaults(failingPaths: ["/escalation_policies": 500]),
              expectation: .fails(["/escalation_policies", "500", "after 4 attempts"])),
    FaultCase(name: "502 on every schedule detail for ever", faults: SimulatorFaults(failingPaths: ["/schedules/": 502]),
              expectation: .fails(["/schedules/", "502"])),
    FaultCase(name: "stalled reply (1 s) under the request timeout (5 s)", faults: SimulatorFaults(stallPaths: ["/escalation_policies": 1]),
              expectation: .completes),
    FaultCase(name: "stalled reply (3 s) over the request timeout (1 s)", faults: SimulatorFaults(stallPaths: ["/oncalls": 3]),
              maxAttempts: 2, requestTimeout: 1, budget: 8, expectation: .fails(["/oncalls", "timed out"])),
    FaultCase(name: "stalled reply (4 s) over the time budget (2 s)", faults: SimulatorFaults(stallPaths: ["/schedules/": 4]),
              requestTimeout: 30, budget: 2, expectation: .fails(["time budget of 2s"])),
    FaultCase(name: "slow PagerDuty (150 ms each) over the time budget (1 s)", faults: SimulatorFaults(latencyMilliseconds: 150),
              concurrency: 1, budget: 1, expectation: .fails(["time budget of 1s"])),
    FaultCase(name: "truncated JSON on /users for ever", faults: SimulatorFaults(truncatedPaths: ["/users"]),
              expectation: .fails(["unreadable reply", "/users"])),
    FaultCase(name: "truncated JSON once on a schedule detail", faults: SimulatorFaults(failuresRemaining: 1, truncatedPaths: ["/schedules/"]),
              expectation: .completesOrFails(["unreadable reply", "/schedules/"])),
    FaultCase(name: "malformed (HTML) body on /oncalls for ever", faults: SimulatorFaults(malformedPaths: ["/oncalls"]),
              expectation: .fails(["unreadable reply", "/oncalls", "not valid JSON"])),
    FaultCase(name: "malformed (HTML) body once on /escalation_policies", faults: SimulatorFaults(failuresRemaining: 1, malformedPaths: ["/escalation_policies"]),
              expectation: .completesOrFails(["unreadable reply", "/escalation_policies"])),
    FaultCase(name: "key revoked after 5 requests", faults: SimulatorFaults(revokeKeyAfterRequests: 5),
              expectation: .fails(["refused the API key", "401"])),
]

/// The sync against a PagerDuty that misbehaves (the simulator's faults), in process.
@Suite(.serialized) struct PagerDutyFaultTests {
    /// A fixed "now", so that every sync of one account asks for the same window.
    static let now = Date(unixSeconds: Date().unixSeconds - Date().unixSeconds % 3600)

    @Test(.timeLimit(.minutes(1)), arguments: faultCases)
    func aFaultEndsInAWholeSnapshotOrAClearFailureWithinTheBudget(_ fault: FaultCase) async throws {
        await politeStart()
        let account = SimulatedAccount.generate(users: 260, schedules: 14, seed: 5, now: Self.now)
        let options = SimulatorOptions(apiKeys: [testAPIKey], rateLimitPerWindow: fault.rateLimitPerWindow,
                                       rateLimitWindowSeconds: fault.rateLimitWindowSeconds)
        // The reference comes from a simulator without faults or limits, serving the same account.
        let reference = try await withSettledSimulator(account, options: unlimitedSimulator(), settle: 0) { running, directory in
            let database = try OnCallDatabase(path: directory.path("reference.sqlite"))
            _ = try await makeSyncer(running, database: database).run(now: Self.now)
            return RosterFacts(try #require(try database.currentSnapshot()))
        }
        try await withSettledSimulator(account, options: options) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            // A previous good snapshot, written directly, that a failure must leave current.
            var previous = roster(at: Self.now)
            previous.info.finishedAt = Self.now.addingTimeInterval(-600)
            let previousId = try database.writeSnapshot(previous, keep: 5).id

            running.simulator.setFaults(fault.faults)
            let syncer = makeSyncer(running, database: database, concurrency: fault.concurrency, maxAttempts: fault.maxAttempts,
                                    requestTimeout: fault.requestTimeout, maxRateLimitWait: fault.maxRateLimitWait, timeout: fault.budget)
            let started = Date()
            let result: Result<SnapshotInfo, any Error>
            do {
                result = .success(try await syncer.run(now: Self.now))
            } catch {
                result = .failure(error)
            }
            let elapsed = Date().timeIntervalSince(started)
            // Never a hang past its budget (a little slack for cancellation to land).
            #expect(elapsed <= fault.budget + 2.5, "took \(elapsed)s with a budget of \(fault.budget)s")
            #expect(try database.integrityCheck() == "ok")

            let stats = running.simulator.stats
            let outcome: String
            switch result {
            case .success(let info):
                let expectedToComplete: Bool = switch fault.expectation {
                case .completes, .completesOrFails: true
                case .fails: false
                }
                #expect(expectedToComplete, "the sync succeeded through: \(fault.name)")
                #expect(try database.currentSnapshotId() == info.id)
                let written = try #require(try database.currentSnapshot())
                #expect(RosterFacts(written) == reference, "the snapshot differs from a fault-free sync of the same account")
                #expect(try snapshotProblems(database).isEmpty)
                outcome = "completed, snapshot equal to the fault-free one (\(info.apiRequests) requests, \(info.rateLimited) × 429)"
            case .failure(let error):
                let message = "\(error)"
                switch fault.expectation {
                case .completes:
                    Issue.record("the sync failed through a fault it should survive: \(message)")
                case .fails(let words), .completesOrFails(let words):
                    for word in words { #expect(message.contains(word), "'\(message)' does not mention \(word)") }
                }
                #expect(error is SyncError)
                #expect(!message.contains(testAPIKey), "the error names the API key")
                // No new snapshot: the previous one stays current, and the failure is on record.
                #expect(try database.currentSnapshotId() == previousId)
                #expect(try database.snapshots().count == 1)
                #expect(try database.syncState().lastFailureReason == message)
                outcome = "failed: \(message)"
            }
            print("[reliability] fault '\(fault.name)': \(outcome); \(String(format: "%.2f", elapsed))s, simulator saw \(stats.requests) requests, \(stats.rateLimited) × 429, \(stats.failures) failures")
        }
    }

    // MARK: The account changes while a sync pages through it

    /// 500 users with ids that sort in order, and one schedule over three of them.
    static func pagedAccount(now: Date) -> SimulatedAccount {
        let users = (0..<500).map { SimulatedUser(id: String(format: "PU%05d", $0), name: "User \($0)", email: "user\($0)@example.com") }
        let start = now.addingTimeInterval(-10 * 86_400)
        let layer = SimulatedLayer(id: "PLAYER1", name: "Daily", start: start, rotationVirtualStart: start, rotationTurnLengthSeconds: 86_400,
                                   userIds: ["PU00400", "PU00401", "PU00402"])
        let schedule = SimulatedSchedule(id: "PSCHED1", name: "Primary", timeZone: "America/New_York", layers: [layer])
        let policy = SimulatedEscalationPolicy(id: "PPOLICY", name: "Platform", rules: [
            SimulatedEscalationRule(id: "PRULE01", targets: [.init(type: .schedule, id: "PSCHED1")]),
        ])
        return SimulatedAccount(users: users, schedules: [schedule], escalationPolicies: [policy])
    }

    /// Runs a sync paging users one request at a time (50 ms each) and applies `change` to the
    /// account once the second `/users` page has been asked for. Returns the result.
    func syncWhileTheAccountChanges(_ change: @escaping @Sendable (inout SimulatedAccount) -> Void,
                                    when trigger: @escaping @Sendable (SimulatorStats) -> Bool = { ($0.requestsByPath["/users"] ?? 0) >= 2 },
                                    delay: Double = 0)
        async throws -> (result: Result<SnapshotInfo, any Error>, database: SnapshotContents?, changed: Bool, elapsed: Double) {
        var options = unlimitedSimulator()
        options.faults.latencyMilliseconds = 50
        return try await withSettledSimulator(Self.pagedAccount(now: Self.now), options: options) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let changed = Mutex(false)
            let watcher = Task {
                for _ in 0..<4000 where !Task.isCancelled {
                    if trigger(running.simulator.stats) {
                        if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                        running.simulator.updateAccount(change)
                        changed.withLock { $0 = true }
                        return
                    }
                    try? await Task.sleep(nanoseconds: 1_000_000)
                }
            }
            let started = Date()
            let result: Result<SnapshotInfo, any Error>
            do {
                result = .success(try await makeSyncer(running, database: database, concurrency: 1, timeout: 20).run(now: Self.now))
            } catch {
                result = .failure(error)
            }
            watcher.cancel()
            _ = await watcher.result
            #expect(try database.integrityCheck() == "ok")
            return (result, try database.currentSnapshot(), changed.withLock { $0 }, Date().timeIntervalSince(started))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func usersInsertedBetweenPagesRepeatItemsButEveryUserIsKept() async throws {
        // Three users that sort first appear after page 1 was read: page 2 repeats three of page 1's.
        let (result, snapshot, changed, elapsed) = try await syncWhileTheAccountChanges { account in
            account.users += (0..<3).map { SimulatedUser(id: "PA0000\($0)", name: "New \($0)", email: "new\($0)@example.com") }
        }
        #expect(changed, "the account never changed mid-sync")
        guard case .success = result, let snapshot else {
            if case .failure(let error) = result { #expect("\(error)".contains("/users"), "unclear failure: \(error)") }
            return
        }
        let ids = Set(snapshot.users.map(\.id))
        let original = Set((0..<500).map { String(format: "PU%05d", $0) })
        #expect(original.isSubset(of: ids), "users present before and after the change are missing: \(original.subtracting(ids).sorted())")
        #expect(snapshot.users.count == ids.count, "a repeated user was stored twice")
        print("[reliability] users inserted between pages: \(snapshot.users.count) users kept, none lost, none doubled; \(String(format: "%.2f", elapsed))s")
    }

    @Test(.timeLimit(.minutes(1)))
    func usersDeletedBetweenPagesMustNotSilentlyDropOthers() async throws {
        // Three users from page 1 are deleted after it was read: every later item moves up by three,
        // so PU00100…PU00102 slide onto page 1 (already read) and are never seen.
        let (result, snapshot, changed, elapsed) = try await syncWhileTheAccountChanges { account in
            account.users.removeAll { ["PU00000", "PU00001", "PU00002"].contains($0.id) }
        }
        #expect(changed, "the account never changed mid-sync")
        var missing: [String] = []
        if case .success = result, let snapshot {
            let ids = Set(snapshot.users.map(\.id))
            let survivors = Set((3..<500).map { String(format: "PU%05d", $0) })
            missing = survivors.subtracting(ids).sorted()
        }
        print("[reliability] users deleted between pages: \(missing.isEmpty ? "no survivor lost" : "survivors silently missing: \(missing)"); result \(result); \(String(format: "%.2f", elapsed))s")
        // Either the sync notices (fails, or re-reads) or every user who existed throughout is kept.
        #expect(missing.isEmpty, "users who existed throughout are missing from the snapshot: \(missing)")
        if case .failure(let error) = result { #expect("\(error)".contains("/users"), "unclear failure: \(error)") }
    }

    @Test(.timeLimit(.minutes(1)))
    func aScheduleDeletedBetweenTheListAndItsDetailFailsClearly() async throws {
        // The list names PSCHED1 (its reply is made 50 ms after the request arrives); the schedule is
        // deleted 120 ms after that request, before its detail is asked for (after five pages of users).
        let (result, snapshot, changed, elapsed) = try await syncWhileTheAccountChanges({ account in
            account.schedules.removeAll()
            account.escalationPolicies = account.escalationPolicies.map { policy in
                var policy = policy
                policy.rules = []
                return policy
            }
        }, when: { ($0.requestsByPath["/schedules"] ?? 0) >= 1 }, delay: 0.12)
        #expect(changed)
        switch result {
        case .success(let info):
            // Acceptable only if the snapshot is self-consistent.
            let contents = try #require(snapshot)
            #expect(contents.info.id == info.id)
            #expect(contents.shifts.allSatisfy { shift in contents.schedules.contains { $0.id == shift.scheduleId } })
            print("[reliability] schedule deleted mid-sync: completed, self-consistent; \(String(format: "%.2f", elapsed))s")
        case .failure(let error):
            #expect("\(error)".contains("/schedules/PSCHED1"), "unclear failure: \(error)")
            #expect(snapshot == nil, "a failed sync wrote a snapshot")
            print("[reliability] schedule deleted mid-sync: failed: \(error); \(String(format: "%.2f", elapsed))s")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRotationChangedBetweenPagesGivesOneOfTheTwoRostersPerSchedule() async throws {
        // The schedule's members change while users are being paged: the snapshot must hold the
        // schedule as PagerDuty rendered it at one moment, with all of its users known.
        let (result, snapshot, changed, _) = try await syncWhileTheAccountChanges { account in
            account.schedules[0].layers[0].userIds = ["PU00300", "PU00301"]
        }
        #expect(changed)
        guard case .success = result, let snapshot else { Issue.record("the sync failed: \(result)"); return }
        let onShift = Set(snapshot.shifts.map(\.userId))
        #expect(onShift == ["PU00300", "PU00301"] || onShift == ["PU00400", "PU00401", "PU00402"], "a mix of two rotations: \(onShift)")
        let known = Set(snapshot.users.map(\.id))
        #expect(onShift.isSubset(of: known))
        #expect(contentProblems(snapshot).isEmpty)
    }
}

/// The count checks of `snapshotProblems(_:)`, on contents already read.
func contentProblems(_ contents: SnapshotContents) -> [String] {
    var problems: [String] = []
    if contents.info.userCount != contents.users.count { problems.append("user_count") }
    if contents.info.shiftCount != contents.shifts.count { problems.append("shift_count") }
    if contents.info.scheduleCount != contents.schedules.count { problems.append("schedule_count") }
    return problems
}
