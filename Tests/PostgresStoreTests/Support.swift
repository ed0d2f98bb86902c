import Foundation
import Logging
import OnCallStore
import PostgresNIO
import PostgresStore
import TestSupport

let quietLogger = Logger(label: "shiftgate.test") { _ in SwiftLogNoOpLogHandler() }

/// A fresh database on the test server, the store opened on it, and the server: for `body` alone.
/// The store is closed and the database dropped afterwards.
func withFreshStore<T: Sendable>(
    createIfNeeded: Bool = true,
    _ body: (PostgresCacheStore, PostgresTestCluster, PostgresAddress) async throws -> T
) async throws -> T {
    let (cluster, address) = try await freshPostgresDatabase()
    do {
        let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: createIfNeeded, logger: quietLogger)
        do {
            let result = try await body(store, cluster, address)
            await store.close()
            await drop(address, on: cluster)
            return result
        } catch {
            await store.close()
            throw error
        }
    } catch {
        await drop(address, on: cluster)
        throw error
    }
}

/// A fresh database (with no schema) for `body`, dropped afterwards.
func withFreshDatabase<T: Sendable>(_ body: (PostgresTestCluster, PostgresAddress) async throws -> T) async throws -> T {
    let (cluster, address) = try await freshPostgresDatabase()
    do {
        let result = try await body(cluster, address)
        await drop(address, on: cluster)
        return result
    } catch {
        await drop(address, on: cluster)
        throw error
    }
}

func drop(_ address: PostgresAddress, on cluster: PostgresTestCluster) async {
    await cluster.dropDatabase(address)
}

/// What `sql` answers on `address`'s database, each row's first column read as text.
func answers(_ cluster: PostgresTestCluster, _ address: PostgresAddress, _ sql: String) async throws -> [String] {
    try await cluster.withConnection(to: address.database) { connection in
        var values: [String] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger).decode(String?.self) {
            values.append(value ?? "NULL")
        }
        return values
    }
}

/// Waits until `condition` holds, checking every 50 ms, for at most `timeout`.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A roster shaped like a large PagerDuty account, `scale` users and `scale / 10` schedules: one
/// shift and one on-call entry per user, members, two escalation levels per policy. It is full of
/// what stresses the read order: several people starting at the same moment in one schedule,
/// on-call entries tying on policy, level and start (and NULL starts), identifiers differing only
/// in case, and duplicate listings.
func largeRoster(scale: Int, at now: Date, seed: UInt64 = 16) -> SnapshotContents {
    var random = SeededRandom(seed: seed)
    let scheduleCount = max(1, scale / 10)
    let hour: TimeInterval = 3600
    let base = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / hour).rounded(.down) * hour)
    let userIds = (0..<scale).map { $0 % 7 == 0 ? "pu\($0)" : "PU\($0)" }
    let users = userIds.enumerated().map { index, id in
        User(id: id, name: "Person \(index)", email: "Person.\(index)@Example.COM", timeZone: index % 2 == 0 ? "UTC" : "Europe/Paris")
    }
    let schedules = (0..<scheduleCount).map {
        Schedule(id: $0 % 5 == 0 ? "ps\($0)" : "PS\($0)", name: "Rotation \($0)", timeZone: "UTC",
                 description: $0 % 3 == 0 ? "" : "Team \($0)", kind: $0 % 4 == 0 ? .shiftBased : .layerBased)
    }
    var members: [ScheduleMember] = []
    var shifts: [Shift] = []
    var overrides: [Override] = []
    for (index, user) in users.enumerated() {
        let schedule = schedules[random.below(scheduleCount)].id
        members.append(ScheduleMember(scheduleId: schedule, userId: user.id))
        let start = base.addingTimeInterval(Double(random.below(4) - 2) * hour)
        shifts.append(Shift(scheduleId: schedule, userId: user.id, start: start, end: start.addingTimeInterval(Double(1 + random.below(8)) * hour)))
        if index % 50 == 0 {
            overrides.append(Override(scheduleId: schedule, userId: user.id, start: start, end: start.addingTimeInterval(hour)))
        }
    }
    members.append(contentsOf: members.prefix(20))
    let policies = (0..<scheduleCount).map { EscalationPolicy(id: "PE\($0)", name: "Policy \($0)", numLoops: $0 % 3) }
    var targets: [EscalationTarget] = []
    for (index, policy) in policies.enumerated() {
        targets.append(EscalationTarget(policyId: policy.id, level: 1, ruleId: "PR\(index)a", delayMinutes: 30, kind: .schedule, targetId: schedules[index].id))
        targets.append(EscalationTarget(policyId: policy.id, level: 2, ruleId: "PR\(index)b", delayMinutes: 15, kind: .user, targetId: userIds[index]))
        targets.append(EscalationTarget(policyId: policy.id, level: 2, ruleId: "PR\(index)c", delayMinutes: 15, kind: .user, targetId: userIds[index]))
    }
    var onCalls: [OnCall] = []
    for (index, user) in users.enumerated() {
        let policy = policies[random.below(policies.count)].id
        if index % 9 == 0 {
            onCalls.append(OnCall(policyId: policy, level: 2, scheduleId: nil, userId: user.id, start: nil, end: nil))
        } else {
            let start = base.addingTimeInterval(Double(random.below(3)) * hour)
            onCalls.append(OnCall(policyId: policy, level: 1, scheduleId: schedules[random.below(scheduleCount)].id, userId: user.id,
                                  start: start, end: start.addingTimeInterval(hour)))
        }
    }
    let info = SnapshotInfo(startedAt: now.addingTimeInterval(-60), finishedAt: now, windowStart: now.addingTimeInterval(-86_400),
                            windowEnd: now.addingTimeInterval(7 * 86_400), apiRequests: 1_223, rateLimited: 0)
    return SnapshotContents(
        info: info, users: users + [User(id: userIds[0], name: "Person 0, renamed", email: "p0@example.com", timeZone: "UTC")],
        schedules: schedules, members: members, shifts: shifts, overrides: overrides, policies: policies, targets: targets, onCalls: onCalls)
}
