import Foundation
import Logging
import OnCallStore
import Pacing
import PagerDuty

/// Why a sync did not produce a snapshot.
public enum SyncError: Error, CustomStringConvertible {
    /// `holder` says where the lock is: the lock file beside a SQLite cache, or the PostgreSQL cache.
    case alreadyRunning(holder: String)
    case timedOut(seconds: Double)
    case pagerDuty(PagerDutyError)
    /// Both schedule APIs refused one id with a 400: neither kind could be read.
    case scheduleUnreadable(id: String, refusals: [String])
    case storage(String)

    public var description: String {
        switch self {
        case .alreadyRunning(let holder):
            "another sync is running (it holds \(holder)); this one exits without touching the cache"
        case .timedOut(let seconds):
            "sync stopped after its time budget of \(Int(seconds))s (--timeout); the previous snapshot stays current"
        case .pagerDuty(let error):
            error.description
        case .scheduleUnreadable(let id, let refusals):
            "PagerDuty refused schedule \(id) on both schedule APIs: \(refusals.joined(separator: "; ")); the previous snapshot stays current"
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
    /// A refresh reads `/oncalls` for [now − refreshBehind, now + refreshAhead]: at least the
    /// decisions' own reach (AUTO_APPROVAL_WINDOW_AFTER behind; AUTO_APPROVAL_DURATION and
    /// AUTO_APPROVAL_WINDOW_BEFORE ahead) plus the time until the snapshot is next replaced.
    public var refreshBehind: TimeInterval
    public var refreshAhead: TimeInterval
    /// Schedule ids or names (AUTO_APPROVAL_PAGERDUTY_SCHEDULES): when set, only these schedules'
    /// details and on-call entries are read, since no decision looks at any other. Nil: every one.
    public var scope: Set<String>?

    public init(lookback: TimeInterval = 86_400, horizon: TimeInterval = 7 * 86_400, keep: Int = 96,
                timeout: TimeInterval = 900, maxRequestWindow: TimeInterval = 90 * 86_400,
                refreshBehind: TimeInterval = 3600, refreshAhead: TimeInterval = 8 * 3600) {
        self.lookback = lookback
        self.horizon = horizon
        self.keep = keep
        self.timeout = timeout
        self.maxRequestWindow = maxRequestWindow
        self.refreshBehind = refreshBehind
        self.refreshAhead = refreshAhead
        self.scope = nil
    }

    /// Past the decisions' own reach, what a refresh also reads: an hour behind, and two hours ahead
    /// for the time until the next snapshot replaces this one (`serve` refuses a snapshot older than
    /// `--max-staleness`, 15 minutes by default).
    public static let refreshMarginBehind: TimeInterval = 3600
    public static let refreshMarginAhead: TimeInterval = 2 * 3600

    /// What a refresh must read of `/oncalls` so that every decision made from its snapshot sees
    /// fresh entries: `windowAfter` behind now (a shift that ended that long ago still counts), and
    /// the longest grant plus `windowBefore` ahead, each with its margin.
    public static func refreshReach(windowBefore: TimeInterval, windowAfter: TimeInterval,
                                    longestGrant: TimeInterval) -> (behind: TimeInterval, ahead: TimeInterval) {
        (windowAfter + refreshMarginBehind, longestGrant + windowBefore + refreshMarginAhead)
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
    public let store: any CacheStore
    public let options: SyncOptions
    public let logger: Logger

    public init(client: PagerDutyClient, store: any CacheStore, options: SyncOptions = SyncOptions(),
                logger: Logger = Logger(label: "shiftgate.sync")) {
        self.client = client
        self.store = store
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
    public func run(now: Date = Date(), deadline: Date? = nil, plan: SyncPlan = .full(reason: "asked for"),
                    progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SnapshotInfo {
        let started = Date()
        let deadline = deadline ?? started.addingTimeInterval(options.timeout)
        do {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw SyncError.timedOut(seconds: options.timeout) }
            let contents = try await withTimeout(seconds: remaining) {
                switch plan {
                case .full:
                    return try await self.fetch(now: now, started: started, progress: progress)
                case .refresh(let refresh):
                    do {
                        return try await self.refresh(refresh, now: now, started: started, progress: progress)
                    } catch let declined as RefreshDeclined {
                        logger.notice("reading everything instead of refreshing", metadata: ["reason": "\(declined.reason)"])
                        return try await self.fetch(now: now, started: started, progress: progress)
                    }
                }
            }
            do {
                return try await store.writeSnapshot(contents, keep: options.keep, deadline: deadline)
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
            try? await store.recordFailure(at: Date(), reason: wrapped.description, deadline: Date().addingTimeInterval(1))
            throw wrapped
        }
    }

    /// Fetches every reply the snapshot is made of, then assembles it (`SnapshotAssembly`, pure). A
    /// user the snapshot names but no list had is asked for alone, and added.
    func fetch(now: Date, started: Date, progress: (@Sendable (SyncProgress) -> Void)?) async throws -> SnapshotContents {
        let windowStart = Date(unixSeconds: now.addingTimeInterval(-options.lookback).unixSeconds)
        let windowEnd = Date(unixSeconds: now.addingTimeInterval(options.horizon).unixSeconds)
        let report = reporter(progress)

        report("users, schedules, escalation policies", 0, 3)
        // Users are listed even when the sync is scoped: someone outside the allowed schedules is
        // then refused as not on call, as without a scope, rather than as unknown.
        async let usersReply = fetchUsers()
        async let schedulesReply = fetchScheduleLists()
        async let policiesReply = client.escalationPolicies()
        let (listedUsers, usersListedByTeam) = try await usersReply
        let users = Self.unique(listedUsers, by: \.id)
        let (layerBasedList, shiftBasedList) = try await schedulesReply
        let policies = Self.unique(try await policiesReply, by: \.id)
        let listing = ScheduleListing(layerBased: layerBasedList, shiftBased: shiftBasedList, policies: policies).scoped(to: options.scope, logger: logger)
        logger.debug("lists fetched", metadata: [
            "users": "\(users.count)", "schedules": "\(listing.entries.count)", "shift_based": "\(shiftBasedList.count)",
            "policies": "\(policies.count)",
        ])

        let chunks = Self.chunks(from: windowStart, to: windowEnd, longest: options.maxRequestWindow)
        let rows = try await fetchScheduleDetails(listing.entries, chunks: chunks, report: report)

        report("on-call entries", 0, 1)
        var onCalls = Set<Wire.OnCall>()
        for chunk in chunks {
            onCalls.formUnion(try await scopedOnCalls(listing, policies: policies, since: chunk.0, until: chunk.1))
        }

        let replies = FetchedReplies(users: users, listing: listing, rows: rows, policies: policies, onCalls: onCalls)
        var contents = SnapshotAssembly.assemble(replies, info: SnapshotInfo(startedAt: started, finishedAt: started, windowStart: windowStart, windowEnd: windowEnd))
        contents.schedules = RefreshAssembly.markingDescribedByOnCalls(contents)
        try await addUnlistedUsers(to: &contents, listedByTeam: usersListedByTeam, report: report)
        return finished(contents)
    }

    /// Normally the lists have everyone; a user added since they were read, or one in no team when
    /// the list was read team by team, is asked for alone. When more are missing than the pages
    /// offset paging can reach, those pages are read first (users in no team in an account past
    /// 10,000), and only the users past them are asked for alone.
    func addUnlistedUsers(to contents: inout SnapshotContents, listedByTeam usersListedByTeam: Bool,
                          report: @Sendable (String, Int, Int) -> Void) async throws {
        var missing = SnapshotAssembly.unlistedUserIds(contents)
        if usersListedByTeam, missing.count > PagerDutyClient.maxOffset / PagerDutyClient.pageLimit {
            report("users in no team, within PagerDuty's paging", 0, missing.count)
            let wanted = Set(missing)
            let found = try await client.usersWithinPagingLimit().filter { wanted.contains($0.id) }
            logger.notice("users in no team read from the first 10,000 of /users", metadata: [
                "missing": "\(missing.count)", "found": "\(found.count)",
            ])
            contents.users += found.map(SnapshotAssembly.user)
            missing = Array(wanted.subtracting(found.map(\.id))).sorted()
        }
        if !missing.isEmpty {
            report("users named by schedules but not listed", 0, missing.count)
            contents.users += try await fetchUsers(ids: missing).map(SnapshotAssembly.user)
        }
    }

    /// Progress lines for `progress` (nil: none), with the requests spent so far.
    func reporter(_ progress: (@Sendable (SyncProgress) -> Void)?) -> @Sendable (String, Int, Int) -> Void {
        { [client] phase, done, total in
            guard let progress else { return }
            let usage = client.usage
            progress(SyncProgress(phase: phase, done: done, total: total, requests: usage.requests, rateLimited: usage.rateLimited))
        }
    }

    /// `contents` stamped with the time it was finished and the requests it cost.
    func finished(_ contents: SnapshotContents) -> SnapshotContents {
        var contents = contents
        let usage = client.usage
        contents.info.finishedAt = Date()
        contents.info.apiRequests = usage.requests
        contents.info.rateLimited = usage.rateLimited
        return contents
    }

    /// `/oncalls` for [since, until): every policy's, or, when the sync is scoped, those of the
    /// policies that reach a scoped schedule, keeping only entries of those schedules and direct
    /// user targets.
    func scopedOnCalls(_ listing: ScheduleListing, policies: [Wire.EscalationPolicy], since: Date, until: Date,
                       includeUsers: Bool = false) async throws -> [Wire.OnCall] {
        guard options.scope != nil else {
            return try await onCalls(policyIds: policies.map(\.id), since: since, until: until, includeUsers: includeUsers)
        }
        let ids = Set(listing.entries.map(\.id))
        let reaching = policies.filter { policy in policy.escalationRules.contains { $0.targets.contains { ids.contains($0.id) } } }.map(\.id)
        guard !reaching.isEmpty else { return [] }
        return try await onCalls(policyIds: reaching, since: since, until: until, narrowed: true, includeUsers: includeUsers)
            .filter { $0.schedule.map { ids.contains($0.id) } ?? true }
    }

    /// Every user, and whether they were read team by team. PagerDuty cannot page past 10,000
    /// entries, so a larger account is read team by team (each team under 10,000); users in no team
    /// are then found if a schedule or policy names them (see `fetch`), and are otherwise left out:
    /// no decision could approve them.
    func fetchUsers() async throws -> (users: [Wire.User], byTeam: Bool) {
        do {
            return (try await client.users(), false)
        } catch PagerDutyError.listTooLong(path: "/users") {
            let teams = try await client.teams()
            logger.notice("more than 10,000 users: reading them team by team", metadata: ["teams": "\(teams.count)"])
            return try await withThrowingTaskGroup(of: [Wire.User].self) { group in
                for team in teams {
                    group.addTask {
                        do {
                            return try await client.users(teamIds: [team.id])
                        } catch PagerDutyError.listTooLong {
                            throw SyncError.pagerDuty(.listTooLong(path: "/users?team_ids[]=\(team.id) (team \(team.name))"))
                        }
                    }
                }
                var users: [Wire.User] = []
                for try await members in group { users += members }
                return (users, true)
            }
        }
    }

    /// Users by id, one request each; a user deleted meanwhile (404) is skipped.
    func fetchUsers(ids: [String]) async throws -> [Wire.User] {
        try await withThrowingTaskGroup(of: Wire.User?.self) { group in
            for id in ids {
                group.addTask {
                    do {
                        return try await client.user(id: id)
                    } catch PagerDutyError.rejected(_, 404, _) {
                        return nil
                    }
                }
            }
            var users: [Wire.User] = []
            for try await user in group { if let user { users.append(user) } }
            return users
        }
    }

    /// Both schedule lists. The shift-based list is read after the layer-based one: an upgrade moves a
    /// schedule from the first to the second, so one upgraded while the lists are read is in one of
    /// them (or both), never in neither.
    func fetchScheduleLists() async throws -> ([Wire.Schedule], [Wire.Reference]) {
        let layerBased = Self.unique(try await client.schedules(), by: \.id)
        let shiftBased = Self.unique(try await client.shiftBasedSchedules(), by: \.id)
        return (layerBased, shiftBased)
    }

    /// Every schedule's rendered detail, one request per schedule and window chunk (plus one for the
    /// overrides of a shift-based schedule whose final schedule shows some), with a bounded number of
    /// tasks alive at once (the client bounds requests in flight on its own). Each reply becomes rows
    /// as it arrives, so only rows are held, never a large account's decoded replies. A schedule that
    /// is gone (404 on both APIs) has no entry in the result.
    func fetchScheduleDetails(_ entries: [ScheduleListing.Entry], chunks: [(Date, Date)],
                              report: @escaping @Sendable (String, Int, Int) -> Void) async throws -> [String: ScheduleRows] {
        let jobs = entries.flatMap { entry in chunks.map { (entry, $0.0, $0.1) } }
        var results: [String: ScheduleRows] = [:]
        var gone = Set<String>()
        let width = max(1, client.configuration.concurrency * 2)
        try await withThrowingTaskGroup(of: (ScheduleListing.Entry, (Date, Date), ScheduleDetail?).self) { group in
            var next = 0
            var done = 0
            func enqueue() {
                guard next < jobs.count else { return }
                let (entry, since, until) = jobs[next]
                next += 1
                group.addTask { (entry, (since, until), try await self.scheduleDetail(entry, since: since, until: until)) }
            }
            for _ in 0..<min(width, jobs.count) { enqueue() }
            while let (entry, window, detail) = try await group.next() {
                switch detail {
                case .layerBased(let schedule):
                    results[entry.id, default: ScheduleRows()].add(schedule, scheduleId: entry.id)
                case .shiftBased(let schedule, let overrides):
                    try results[entry.id, default: ScheduleRows()].add(schedule, overrides: overrides, scheduleId: entry.id, window: window)
                case nil:
                    gone.insert(entry.id)
                }
                done += 1
                report("schedules", done, jobs.count)
                enqueue()
            }
        }
        // A schedule gone in any chunk is gone: half a window of shifts would read as a gap.
        for id in gone { results[id] = nil }
        return results
    }

    /// One schedule's detail for one window, from whichever API answers for it. The listing's kind is
    /// tried first; a 400 or a 404 there means "try the other one", since a schedule upgraded in
    /// place keeps its id and PagerDuty answers the other API's requests with a 400 (a 404 has been
    /// seen for shift-based schedules on the v2 route, too). Nil: the schedule is gone (404 from
    /// both), or it is one only a policy names and the key may not read it.
    func scheduleDetail(_ entry: ScheduleListing.Entry, since: Date, until: Date) async throws -> ScheduleDetail? {
        let kinds: [ScheduleKind] = entry.kind == .shiftBased ? [.shiftBased, .layerBased] : [.layerBased, .shiftBased]
        var refusals: [(ScheduleKind, Int, String)] = []
        for kind in kinds {
            do {
                let detail = try await scheduleDetail(id: entry.id, kind: kind, since: since, until: until)
                if kind != entry.kind, entry.isListed {
                    logger.notice("schedule answered on the other API; it was upgraded or changed kind since the list was read",
                                  metadata: ["schedule": "\(entry.id)", "kind": "\(kind.rawValue)"])
                }
                return detail
            } catch PagerDutyError.rejected(_, let status, let message) where status == 400 || status == 404 {
                refusals.append((kind, status, message))
            } catch PagerDutyError.forbidden(_, let message) where !entry.isListed {
                refusals.append((kind, 403, message))
            }
        }
        if refusals.allSatisfy({ $0.1 == 400 }) {
            throw SyncError.scheduleUnreadable(id: entry.id, refusals: refusals.map { "\($0.0.apiName) \($0.1) \($0.2)" })
        }
        if entry.isListed {
            logger.warning("schedule deleted since the list was read; left out of this snapshot", metadata: ["schedule": "\(entry.id)"])
        } else {
            logger.notice("an escalation policy names a schedule neither list has and the key cannot read it; left out",
                          metadata: ["schedule": "\(entry.id)", "answers": "\(refusals.map { "\($0.0.apiName) \($0.1)" })"])
        }
        return nil
    }

    private func scheduleDetail(id: String, kind: ScheduleKind, since: Date, until: Date) async throws -> ScheduleDetail {
        switch kind {
        case .layerBased:
            return .layerBased(try await client.renderedSchedule(id: id, since: since, until: until))
        case .shiftBased:
            let schedule = try await client.shiftBasedSchedule(id: id, since: since, until: until)
            guard ScheduleRows.mayListReplacedMembers(schedule.finalSchedule?.computedShiftAssignments ?? []) else {
                return .shiftBased(schedule, overrides: [])
            }
            return .shiftBased(schedule, overrides: try await client.shiftOverrides(scheduleId: id, since: since, until: until))
        }
    }

    /// `/oncalls` for the window, narrowed until each query fits PagerDuty's 10,000-entry paging:
    /// first by splitting the policy list, then (for one huge policy) the time window.
    func onCalls(policyIds: [String], since: Date, until: Date, narrowed: Bool = false, includeUsers: Bool = false) async throws -> [Wire.OnCall] {
        let query = narrowed ? policyIds : []
        if let total = try await client.onCallCount(since: since, until: until, escalationPolicyIds: query), total > PagerDutyClient.maxOffset {
            if policyIds.count > 1 {
                let middle = policyIds.count / 2
                return try await onCalls(policyIds: Array(policyIds[..<middle]), since: since, until: until, narrowed: true, includeUsers: includeUsers)
                    + onCalls(policyIds: Array(policyIds[middle...]), since: since, until: until, narrowed: true, includeUsers: includeUsers)
            }
            let middle = Date(unixSeconds: (since.unixSeconds + until.unixSeconds) / 2)
            guard middle > since, middle < until else { throw SyncError.pagerDuty(.listTooLong(path: "/oncalls")) }
            return try await onCalls(policyIds: policyIds, since: since, until: middle, narrowed: true, includeUsers: includeUsers)
                + onCalls(policyIds: policyIds, since: middle, until: until, narrowed: true, includeUsers: includeUsers)
        }
        return try await client.onCalls(since: since, until: until, escalationPolicyIds: query, includeUsers: includeUsers)
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
}

/// Runs `work`, or throws `SyncError.timedOut` when `seconds` pass first, cancelling the work and
/// not waiting for it (`Pacing.withTimeout` says why).
func withTimeout<T: Sendable>(seconds: Double, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Pacing.withTimeout(seconds: seconds, timedOut: { SyncError.timedOut(seconds: $0) }, work)
}
