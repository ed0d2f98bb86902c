import Foundation
import Logging
import OnCallStore
import PagerDuty

/// Why a sync did not produce a snapshot.
public enum SyncError: Error, CustomStringConvertible {
    case alreadyRunning(lockPath: String)
    case lockUnavailable(path: String, reason: String)
    case timedOut(seconds: Double)
    case pagerDuty(PagerDutyError)
    case storage(String)

    public var description: String {
        switch self {
        case .alreadyRunning(let lockPath):
            "another sync is running (it holds \(lockPath)); this one exits without touching the cache"
        case .lockUnavailable(let path, let reason):
            "cannot take the sync lock \(path): \(reason)"
        case .timedOut(let seconds):
            "sync stopped after its time budget of \(Int(seconds))s (--timeout); the previous snapshot stays current"
        case .pagerDuty(let error):
            error.description
        case .storage(let message):
            "cannot write the snapshot: \(message)"
        }
    }
}

/// How much to fetch and keep.
public struct SyncOptions: Sendable {
    /// The window starts this long before now…
    public var lookback: TimeInterval
    /// …and ends this long after.
    public var horizon: TimeInterval
    /// Snapshots kept; older ones are pruned in the same write.
    public var keep: Int
    /// The whole sync's time budget.
    public var timeout: TimeInterval
    /// The longest window one schedule or `/oncalls` request asks for; longer windows are split.
    /// PagerDuty documents 90 days as the most `/oncalls` accepts; schedules are asked the same.
    public var maxRequestWindow: TimeInterval

    public init(lookback: TimeInterval = 86_400, horizon: TimeInterval = 7 * 86_400, keep: Int = 96,
                timeout: TimeInterval = 900, maxRequestWindow: TimeInterval = 90 * 86_400) {
        self.lookback = lookback
        self.horizon = horizon
        self.keep = keep
        self.timeout = timeout
        self.maxRequestWindow = maxRequestWindow
    }
}

/// Progress, for a terminal's progress line.
public struct SyncProgress: Sendable {
    public var phase: String
    public var done: Int
    public var total: Int
    public var requests: Int
    public var rateLimited: Int
}

/// PagerDuty → one complete snapshot in the cache.
public struct Syncer: Sendable {
    public let client: PagerDutyClient
    public let database: OnCallDatabase
    public let options: SyncOptions
    public let logger: Logger

    public init(client: PagerDutyClient, database: OnCallDatabase, options: SyncOptions = SyncOptions(),
                logger: Logger = Logger(label: "shiftgate.sync")) {
        self.client = client
        self.database = database
        self.options = options
        self.logger = logger
    }

    /// Fetches everything for [now − lookback, now + horizon) and writes it as the new current
    /// snapshot. On any failure nothing is written but the failure's reason in `sync_state`.
    ///
    /// The time budget (`options.timeout` from now, or `deadline` when the caller's clock started
    /// earlier, e.g. before opening the store) covers the fetch and the write: the write waits for
    /// another process's write lock only until the deadline. Recording a failure waits at most 1 s
    /// more, and is skipped when it cannot be done in that time.
    public func run(now: Date = Date(), deadline: Date? = nil, progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SnapshotInfo {
        let started = Date()
        let deadline = deadline ?? started.addingTimeInterval(options.timeout)
        do {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw SyncError.timedOut(seconds: options.timeout) }
            let contents = try await withTimeout(seconds: remaining) {
                try await self.fetch(now: now, started: started, progress: progress)
            }
            do {
                return try database.writeSnapshot(contents, keep: options.keep, busyTimeout: max(0, deadline.timeIntervalSinceNow))
            } catch {
                throw SyncError.storage("\(error)")
            }
        } catch {
            let wrapped: SyncError = switch error {
            // The fetch was given what was left of the budget; the message names the whole budget.
            case SyncError.timedOut: .timedOut(seconds: options.timeout)
            case let error as SyncError: error
            case let error as PagerDutyError: .pagerDuty(error)
            case is CancellationError: .timedOut(seconds: options.timeout)
            default: .storage("\(error)")
            }
            try? database.recordFailure(at: Date(), reason: wrapped.description, busyTimeout: 1)
            throw wrapped
        }
    }

    func fetch(now: Date, started: Date, progress: (@Sendable (SyncProgress) -> Void)?) async throws -> SnapshotContents {
        let windowStart = Date(unixSeconds: now.addingTimeInterval(-options.lookback).unixSeconds)
        let windowEnd = Date(unixSeconds: now.addingTimeInterval(options.horizon).unixSeconds)
        let report: @Sendable (String, Int, Int) -> Void = { phase, done, total in
            guard let progress else { return }
            let usage = client.usage
            progress(SyncProgress(phase: phase, done: done, total: total, requests: usage.requests, rateLimited: usage.rateLimited))
        }

        report("users, schedules, escalation policies", 0, 3)
        async let usersReply = fetchUsers()
        async let schedulesReply = client.schedules()
        async let policiesReply = client.escalationPolicies()
        var users = Self.unique(try await usersReply, by: \.id)
        let scheduleList = Self.unique(try await schedulesReply, by: \.id)
        let policies = Self.unique(try await policiesReply, by: \.id)
        logger.debug("lists fetched", metadata: ["users": "\(users.count)", "schedules": "\(scheduleList.count)", "policies": "\(policies.count)"])

        let chunks = Self.chunks(from: windowStart, to: windowEnd, longest: options.maxRequestWindow)
        var details = try await fetchScheduleDetails(scheduleList.map(\.id), chunks: chunks, report: report)

        report("on-call entries", 0, 1)
        var onCallEntries = Set<PagerDuty.OnCall>()
        for chunk in chunks {
            for entry in try await onCalls(policyIds: policies.map(\.id), since: chunk.0, until: chunk.1) {
                onCallEntries.insert(entry)
            }
        }

        var schedules: [OnCallStore.Schedule] = []
        var members = Set<ScheduleMember>()
        var shifts: [Shift] = []
        var overrides: [OnCallStore.Override] = []
        for listed in scheduleList {
            let rows = details.removeValue(forKey: listed.id) ?? ScheduleRows()
            schedules.append(OnCallStore.Schedule(id: listed.id, name: rows.name ?? listed.displayName,
                                                  timeZone: rows.timeZone ?? listed.timeZone ?? "UTC",
                                                  description: rows.description ?? listed.description ?? ""))
            for userId in (listed.users ?? []).map(\.id) + rows.memberIds {
                members.insert(ScheduleMember(scheduleId: listed.id, userId: userId))
            }
            shifts += rows.shifts
            overrides += rows.overrides
        }

        var targets: [EscalationTarget] = []
        for policy in policies {
            for (index, rule) in policy.escalationRules.enumerated() {
                for target in rule.targets {
                    guard let kind = Self.targetKind(target.type) else { continue }
                    targets.append(EscalationTarget(policyId: policy.id, level: index + 1, ruleId: rule.id,
                                                    delayMinutes: rule.escalationDelayInMinutes ?? 0, kind: kind, targetId: target.id))
                }
            }
        }

        // Everyone a shift, override, on-call entry or policy names must be a known user, or the
        // webhook could not match their email. Normally the list has them all; a user added since
        // it was read, or one in no team when the list was read team by team, is asked for alone.
        var referenced = Set(shifts.map(\.userId))
        referenced.formUnion(overrides.map(\.userId))
        referenced.formUnion(onCallEntries.map(\.user.id))
        referenced.formUnion(members.map(\.userId))
        referenced.formUnion(targets.filter { $0.kind == .user }.map(\.targetId))
        let missing = referenced.subtracting(users.map(\.id)).sorted()
        if !missing.isEmpty {
            report("users named by schedules but not listed", 0, missing.count)
            users += try await fetchUsers(ids: missing)
        }

        let usage = client.usage
        let info = SnapshotInfo(startedAt: started, finishedAt: Date(), windowStart: windowStart, windowEnd: windowEnd,
                                apiRequests: usage.requests, rateLimited: usage.rateLimited)
        return SnapshotContents(
            info: info,
            users: users.map { OnCallStore.User(id: $0.id, name: $0.name, email: $0.email, timeZone: $0.timeZone ?? "UTC") },
            schedules: schedules,
            members: members.sorted { ($0.scheduleId, $0.userId) < ($1.scheduleId, $1.userId) },
            shifts: shifts,
            overrides: overrides,
            policies: policies.map { OnCallStore.EscalationPolicy(id: $0.id, name: $0.name ?? $0.summary ?? $0.id, numLoops: $0.numLoops ?? 0) },
            targets: targets,
            onCalls: onCallEntries.map {
                OnCallStore.OnCall(policyId: $0.escalationPolicy.id, level: $0.escalationLevel, scheduleId: $0.schedule?.id,
                                   userId: $0.user.id, start: $0.start, end: $0.end)
            }.sorted { ($0.policyId, $0.level, $0.start ?? .distantPast, $0.userId) < ($1.policyId, $1.level, $1.start ?? .distantPast, $1.userId) }
        )
    }

    /// Every user. PagerDuty cannot page past 10,000 entries, so a larger account is read team by
    /// team (each team under 10,000); users in no team are then fetched one by one if a schedule
    /// or policy names them (see `fetch`), and are otherwise left out: no decision could approve them.
    func fetchUsers() async throws -> [PagerDuty.User] {
        do {
            return try await client.users()
        } catch PagerDutyError.listTooLong(path: "/users") {
            let teams = try await client.teams()
            logger.notice("more than 10,000 users: reading them team by team", metadata: ["teams": "\(teams.count)"])
            return try await withThrowingTaskGroup(of: [PagerDuty.User].self) { group in
                for team in teams {
                    group.addTask {
                        do {
                            return try await client.users(teamIds: [team.id])
                        } catch PagerDutyError.listTooLong {
                            throw SyncError.pagerDuty(.listTooLong(path: "/users?team_ids[]=\(team.id) (team \(team.name))"))
                        }
                    }
                }
                var users: [PagerDuty.User] = []
                for try await members in group { users += members }
                return users
            }
        }
    }

    /// Users by id, one request each; a user deleted meanwhile (404) is skipped.
    func fetchUsers(ids: [String]) async throws -> [PagerDuty.User] {
        try await withThrowingTaskGroup(of: PagerDuty.User?.self) { group in
            for id in ids {
                group.addTask {
                    do {
                        return try await client.user(id: id)
                    } catch PagerDutyError.rejected(_, 404, _) {
                        return nil
                    }
                }
            }
            var users: [PagerDuty.User] = []
            for try await user in group { if let user { users.append(user) } }
            return users
        }
    }

    /// Every schedule's rendered detail, one request per schedule and window chunk, with a bounded
    /// number of tasks alive at once (the client bounds requests in flight on its own). Each reply
    /// becomes rows as it arrives, so only rows are held, never a large account's decoded replies.
    func fetchScheduleDetails(_ ids: [String], chunks: [(Date, Date)], report: @escaping @Sendable (String, Int, Int) -> Void) async throws -> [String: ScheduleRows] {
        let jobs = ids.flatMap { id in chunks.map { (id, $0.0, $0.1) } }
        var results: [String: ScheduleRows] = [:]
        let width = max(1, client.configuration.concurrency * 2)
        try await withThrowingTaskGroup(of: (String, RenderedSchedule).self) { group in
            var next = 0
            var done = 0
            func enqueue() {
                guard next < jobs.count else { return }
                let (id, since, until) = jobs[next]
                next += 1
                group.addTask { (id, try await client.renderedSchedule(id: id, since: since, until: until)) }
            }
            for _ in 0..<min(width, jobs.count) { enqueue() }
            while let (id, detail) = try await group.next() {
                results[id, default: ScheduleRows()].add(detail, scheduleId: id)
                done += 1
                report("schedules", done, jobs.count)
                enqueue()
            }
        }
        return results
    }

    /// `/oncalls` for the window, narrowed until each query fits PagerDuty's 10,000-entry paging:
    /// first by splitting the policy list, then (for one huge policy) the time window.
    func onCalls(policyIds: [String], since: Date, until: Date, narrowed: Bool = false) async throws -> [PagerDuty.OnCall] {
        let query = narrowed ? policyIds : []
        let total = try await client.count("/oncalls", itemsKey: "oncalls", query: [
            URLQueryItem(name: "since", value: PagerDutyDate.format(since)),
            URLQueryItem(name: "until", value: PagerDutyDate.format(until)),
        ] + query.map { URLQueryItem(name: "escalation_policy_ids[]", value: $0) })
        if let total, total > PagerDutyClient.maxOffset {
            if policyIds.count > 1 {
                let middle = policyIds.count / 2
                return try await onCalls(policyIds: Array(policyIds[..<middle]), since: since, until: until, narrowed: true)
                    + onCalls(policyIds: Array(policyIds[middle...]), since: since, until: until, narrowed: true)
            }
            let middle = Date(unixSeconds: (since.unixSeconds + until.unixSeconds) / 2)
            guard middle > since, middle < until else { throw SyncError.pagerDuty(.listTooLong(path: "/oncalls")) }
            return try await onCalls(policyIds: policyIds, since: since, until: middle, narrowed: true)
                + onCalls(policyIds: policyIds, since: middle, until: until, narrowed: true)
        }
        return try await client.onCalls(since: since, until: until, escalationPolicyIds: query)
    }

    static func chunks(from start: Date, to end: Date, longest: TimeInterval) -> [(Date, Date)] {
        var chunks: [(Date, Date)] = []
        var cursor = start
        while cursor < end {
            let next = min(end, cursor.addingTimeInterval(longest))
            chunks.append((cursor, next))
            cursor = next
        }
        return chunks
    }

    static func unique<T>(_ items: [T], by key: KeyPath<T, String>) -> [T] {
        var seen = Set<String>()
        return items.filter { seen.insert($0[keyPath: key]).inserted }
    }

    static func targetKind(_ type: String?) -> EscalationTarget.Kind? {
        switch type {
        case "schedule_reference", "schedule": .schedule
        case "user_reference", "user": .user
        default: nil
        }
    }
}

/// What one schedule's details (one per window chunk) add to a snapshot.
struct ScheduleRows {
    var name: String?
    var timeZone: String?
    var description: String?
    var memberIds: [String] = []
    var shifts: [Shift] = []
    var overrides: [OnCallStore.Override] = []

    mutating func add(_ detail: RenderedSchedule, scheduleId: String) {
        name = name ?? detail.name
        timeZone = timeZone ?? detail.timeZone
        description = description ?? detail.description
        memberIds += (detail.users ?? []).map(\.id)
        for entry in detail.finalSchedule?.renderedScheduleEntries ?? [] {
            guard let user = entry.user, entry.end > entry.start else { continue }
            shifts.append(Shift(scheduleId: scheduleId, userId: user.id, start: entry.start, end: entry.end))
        }
        for entry in detail.overridesSubschedule?.renderedScheduleEntries ?? [] {
            guard let user = entry.user, entry.end > entry.start else { continue }
            overrides.append(OnCallStore.Override(scheduleId: scheduleId, userId: user.id, start: entry.start, end: entry.end))
        }
    }
}

/// Runs `work`, or throws `SyncError.timedOut` when `seconds` pass first (and cancels the work).
func withTimeout<T: Sendable>(seconds: Double, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw SyncError.timedOut(seconds: seconds) }
        guard let value = first else { throw SyncError.timedOut(seconds: seconds) }
        return value
    }
}
