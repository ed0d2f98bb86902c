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
    /// Both schedule APIs refused one id with a 400: neither kind could be read.
    case scheduleUnreadable(id: String, refusals: [String])
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
        async let schedulesReply = fetchScheduleLists()
        async let policiesReply = client.escalationPolicies()
        var users = Self.unique(try await usersReply, by: \.id)
        let (layerBasedList, shiftBasedList) = try await schedulesReply
        let policies = Self.unique(try await policiesReply, by: \.id)
        let scheduleList = ScheduleListing(layerBased: layerBasedList, shiftBased: shiftBasedList, policies: policies)
        logger.debug("lists fetched", metadata: [
            "users": "\(users.count)", "schedules": "\(scheduleList.entries.count)", "shift_based": "\(shiftBasedList.count)",
            "policies": "\(policies.count)",
        ])

        let chunks = Self.chunks(from: windowStart, to: windowEnd, longest: options.maxRequestWindow)
        var details = try await fetchScheduleDetails(scheduleList.entries, chunks: chunks, report: report)

        report("on-call entries", 0, 1)
        var onCallEntries = Set<Wire.OnCall>()
        for chunk in chunks {
            for entry in try await onCalls(policyIds: policies.map(\.id), since: chunk.0, until: chunk.1) {
                onCallEntries.insert(entry)
            }
        }

        var schedules: [Schedule] = []
        var members = Set<ScheduleMember>()
        var shifts: [Shift] = []
        var overrides: [Override] = []
        for listed in scheduleList.entries {
            // A schedule deleted since the list was read answered 404 on both APIs and is left out;
            // so is one that only an escalation policy names when the key cannot read it.
            guard let rows = details.removeValue(forKey: listed.id) else { continue }
            schedules.append(Schedule(id: listed.id, name: rows.name ?? listed.name ?? listed.id,
                                                  timeZone: rows.timeZone ?? listed.timeZone ?? "UTC",
                                                  description: rows.description ?? listed.description ?? "", kind: rows.kind))
            for userId in listed.memberIds + rows.memberIds {
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
            users: users.map { User(id: $0.id, name: $0.name, email: $0.email, timeZone: $0.timeZone ?? "UTC") },
            schedules: schedules,
            members: members.sorted { ($0.scheduleId, $0.userId) < ($1.scheduleId, $1.userId) },
            shifts: shifts,
            overrides: overrides,
            policies: policies.map { EscalationPolicy(id: $0.id, name: $0.name ?? $0.summary ?? $0.id, numLoops: $0.numLoops ?? 0) },
            targets: targets,
            onCalls: onCallEntries.map {
                OnCall(policyId: $0.escalationPolicy.id, level: $0.escalationLevel, scheduleId: $0.schedule?.id,
                                   userId: $0.user.id, start: $0.start, end: $0.end)
            }.sorted { ($0.policyId, $0.level, $0.start ?? .distantPast, $0.userId) < ($1.policyId, $1.level, $1.start ?? .distantPast, $1.userId) }
        )
    }

    /// Every user. PagerDuty cannot page past 10,000 entries, so a larger account is read team by
    /// team (each team under 10,000); users in no team are then fetched one by one if a schedule
    /// or policy names them (see `fetch`), and are otherwise left out: no decision could approve them.
    func fetchUsers() async throws -> [Wire.User] {
        do {
            return try await client.users()
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
                return users
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
    func onCalls(policyIds: [String], since: Date, until: Date, narrowed: Bool = false) async throws -> [Wire.OnCall] {
        let query = narrowed ? policyIds : []
        if let total = try await client.onCallCount(since: since, until: until, escalationPolicyIds: query), total > PagerDutyClient.maxOffset {
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
        // Shift-based schedules are named `schedule_v3_reference` (whether an upgraded schedule's
        // references change type is not documented: both count as a schedule).
        case "schedule_reference", "schedule", "schedule_v3_reference", "schedule_v3": .schedule
        case "user_reference", "user": .user
        default: nil
        }
    }
}

/// One schedule's detail for one window, as whichever API answered.
enum ScheduleDetail: Sendable {
    case layerBased(Wire.RenderedSchedule)
    case shiftBased(Wire.ShiftBasedSchedule, overrides: [Wire.ShiftOverride])
}

/// The schedules a sync reads: both lists, and schedules that escalation policies name but neither
/// list has (upgraded between the two list reads, say), in that order, each once.
struct ScheduleListing {
    struct Entry: Sendable {
        var id: String
        /// The API to ask first.
        var kind: ScheduleKind
        /// False for a schedule only a policy names.
        var isListed: Bool
        var name: String?
        var timeZone: String?
        var description: String?
        var memberIds: [String] = []
    }

    var entries: [Entry] = []

    init(layerBased: [Wire.Schedule], shiftBased: [Wire.Reference], policies: [Wire.EscalationPolicy]) {
        var seen = Set<String>()
        // Listed by both (upgraded between the two reads): the shift-based API is asked first.
        let shiftBasedIds = Set(shiftBased.map(\.id))
        for schedule in layerBased where seen.insert(schedule.id).inserted {
            entries.append(Entry(id: schedule.id, kind: shiftBasedIds.contains(schedule.id) ? .shiftBased : .layerBased, isListed: true,
                                 name: schedule.name ?? schedule.summary, timeZone: schedule.timeZone, description: schedule.description,
                                 memberIds: (schedule.users ?? []).map(\.id)))
        }
        for reference in shiftBased where seen.insert(reference.id).inserted {
            entries.append(Entry(id: reference.id, kind: .shiftBased, isListed: true, name: reference.summary))
        }
        for target in policies.flatMap({ $0.escalationRules.flatMap(\.targets) }) where Syncer.targetKind(target.type) == .schedule {
            guard seen.insert(target.id).inserted else { continue }
            let kind: ScheduleKind = target.type?.hasPrefix("schedule_v3") == true ? .shiftBased : .layerBased
            entries.append(Entry(id: target.id, kind: kind, isListed: false, name: target.summary))
        }
    }
}

extension ScheduleKind {
    /// How log lines and errors name the API.
    var apiName: String {
        switch self {
        case .layerBased: "GET /schedules/{id}"
        case .shiftBased: "GET /v3/schedules/{id}"
        }
    }
}

/// What one schedule's details (one per window chunk) add to a snapshot.
struct ScheduleRows {
    var kind: ScheduleKind = .layerBased
    var name: String?
    var timeZone: String?
    var description: String?
    var memberIds: [String] = []
    var shifts: [Shift] = []
    var overrides: [Override] = []

    mutating func add(_ detail: Wire.RenderedSchedule, scheduleId: String) {
        kind = .layerBased
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
            overrides.append(Override(scheduleId: scheduleId, userId: user.id, start: entry.start, end: entry.end))
        }
    }

    /// A shift-based schedule's final schedule for `window`: every user assignment becomes a shift
    /// (several may cover the same moment), empty slots none (so drift sees them as gaps), and each
    /// override the final schedule shows becomes an override entry.
    ///
    /// Two behaviours are not documented, and both are handled:
    /// - With `overflow=false` PagerDuty may cut entries at the window's bounds or drop them: the
    ///   detail is asked for with `overflow=true` (entries whole, as documented) and cut here.
    /// - During an override PagerDuty may leave the replaced member out of the final schedule or list
    ///   them too: `overrides` (read when the final schedule may list them, see
    ///   `mayListReplacedMembers`) say whom each one replaced in which rotation or custom shift, and
    ///   that member's assignment from that source is taken out for the override's window. Other
    ///   people on call at the time stay.
    ///
    /// A member or source type this code does not know fails the sync, naming the schedule and the
    /// field: guessing could approve the wrong person.
    mutating func add(_ detail: Wire.ShiftBasedSchedule, overrides shiftOverrides: [Wire.ShiftOverride], scheduleId: String,
                      window: (start: Date, end: Date)) throws {
        let path = "/v3/schedules/\(scheduleId)"
        func invalid(_ detail: String) -> PagerDutyError { .invalidReply(path: path, detail: detail) }
        guard let final = detail.finalSchedule else {
            throw invalid("no final_schedule in the reply, though include[]=final_schedule and a window were asked for")
        }
        kind = .shiftBased
        name = name ?? detail.name
        timeZone = timeZone ?? detail.timeZone
        description = description ?? detail.description
        memberIds += detail.rotationMemberIds + (detail.users ?? []).map(\.id)

        var assignments: [Wire.ComputedShiftAssignment] = []
        for (position, assignment) in final.computedShiftAssignments.enumerated() {
            let field = "final_schedule.computed_shift_assignments[\(position)]"
            try Self.check(assignment.member, field: "\(field).member", invalid: invalid)
            guard Wire.ShiftSource.known.contains(assignment.source.type) else {
                throw invalid("\(field).source.type is \"\(assignment.source.type)\", not one of \(Wire.ShiftSource.known.sorted().joined(separator: ", "))")
            }
            var clipped = assignment
            clipped.startTime = max(assignment.startTime, window.start)
            clipped.endTime = min(assignment.endTime, window.end)
            if clipped.startTime < clipped.endTime { assignments.append(clipped) }
        }
        for (position, override) in shiftOverrides.enumerated() {
            try Self.check(override.overriddenMember, field: "overrides[\(position)].overridden_member", invalid: invalid)
            try Self.check(override.overridingMember, field: "overrides[\(position)].overriding_member", invalid: invalid)
            assignments = Self.removing(override, from: assignments)
        }

        var seen = Set<Shift>()
        var overrideSpans: [String: Override] = [:]
        for assignment in assignments {
            guard let userId = assignment.member.userId, assignment.member.type == Wire.ShiftMember.user else { continue }
            let shift = Shift(scheduleId: scheduleId, userId: userId, start: assignment.startTime, end: assignment.endTime)
            // Two rotations naming the same person at the same time are one shift.
            if seen.insert(shift).inserted { shifts.append(shift) }
            if assignment.source.isOverride {
                let key = "\(assignment.source.overrideId ?? "?")/\(userId)"
                if var span = overrideSpans[key] {
                    span.start = min(span.start, shift.start)
                    span.end = max(span.end, shift.end)
                    overrideSpans[key] = span
                } else {
                    overrideSpans[key] = Override(scheduleId: scheduleId, userId: userId, start: shift.start, end: shift.end)
                }
            }
        }
        overrides += overrideSpans.values.sorted { ($0.start, $0.userId) < ($1.start, $1.userId) }
    }

    private static func check(_ member: Wire.ShiftMember, field: String, invalid: (String) -> PagerDutyError) throws {
        switch member.type {
        case Wire.ShiftMember.user:
            guard let id = member.userId, !id.isEmpty else { throw invalid("\(field).user_id is missing for a user_member") }
        case Wire.ShiftMember.empty:
            break
        default:
            throw invalid("\(field).type is \"\(member.type)\", neither user_member nor empty_member")
        }
    }

    /// True when some override in `assignments` overlaps an assignment of its own rotation or
    /// custom shift: that may be the member it replaced (if PagerDuty lists them too), or another
    /// member of an every-member event; only the schedule's overrides, which name whom each one
    /// replaced, tell. Otherwise nobody the override replaced is listed and the overrides need not
    /// be read (one request saved per schedule).
    static func mayListReplacedMembers(_ assignments: [Wire.ComputedShiftAssignment]) -> Bool {
        let overrides = assignments.filter(\.source.isOverride)
        guard !overrides.isEmpty else { return false }
        return assignments.contains { candidate in
            !candidate.source.isOverride && overrides.contains { override in
                candidate.startTime < override.endTime && override.startTime < candidate.endTime
                    && (override.source.type == Wire.ShiftSource.rotationOverride
                        ? candidate.source.type == Wire.ShiftSource.rotation && candidate.source.rotationId == override.source.rotationId
                        : candidate.source.type == Wire.ShiftSource.customShift && candidate.source.shiftId == override.source.shiftId)
            }
        }
    }

    /// `assignments` without the overridden member's time from the override's own source during the
    /// override (a no-op when PagerDuty already left them out).
    static func removing(_ override: Wire.ShiftOverride, from assignments: [Wire.ComputedShiftAssignment]) -> [Wire.ComputedShiftAssignment] {
        func isReplaced(_ assignment: Wire.ComputedShiftAssignment) -> Bool {
            guard assignment.member == override.overriddenMember else { return false }
            if let rotationId = override.rotationId {
                return assignment.source.type == Wire.ShiftSource.rotation && assignment.source.rotationId == rotationId
            }
            if let shiftId = override.customShiftId {
                return assignment.source.type == Wire.ShiftSource.customShift && assignment.source.shiftId == shiftId
            }
            return false
        }
        var result: [Wire.ComputedShiftAssignment] = []
        for assignment in assignments {
            guard isReplaced(assignment), assignment.startTime < override.endTime, override.startTime < assignment.endTime else {
                result.append(assignment)
                continue
            }
            if assignment.startTime < override.startTime {
                var before = assignment
                before.endTime = override.startTime
                result.append(before)
            }
            if override.endTime < assignment.endTime {
                var after = assignment
                after.startTime = override.endTime
                result.append(after)
            }
        }
        return result
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
