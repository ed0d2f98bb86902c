import Foundation
import Logging
import OnCallStore
import PagerDuty

/// What a sync reads: everything, or a refresh on top of the current snapshot.
public enum SyncPlan: Sendable {
    /// Every list and every schedule's detail, for the reason given (shown by `sync` and logged).
    case full(reason: String)
    /// The lists, the policies and `/oncalls`, on top of the current snapshot; see `RefreshPlan`.
    case refresh(RefreshPlan)

    public var summary: String {
        switch self {
        case .full(let reason): "full read (\(reason))"
        case .refresh(let plan):
            "refresh on snapshot \(plan.previous.info.id) (\(plan.previous.schedules.filter { $0.describedByOnCalls == true }.count) of \(plan.previous.schedules.count) schedules from /oncalls"
                + (plan.wide ? "; the whole window, every user)" : ")")
        }
    }
}

/// A refresh, and what it must catch up on.
public struct RefreshPlan: Sendable {
    /// The current snapshot, whose rows the refresh keeps where it does not read them again.
    public var previous: SnapshotContents
    /// Also move the window's end to now + `--horizon`, reading `/oncalls` for all of it, and list
    /// every user: once per `period`, and whenever `--lookback` or `--horizon` changed.
    public var wide: Bool
    /// `--full-every`: every schedule's detail is read again once per period, each in its turn
    /// (`Syncer.isDue`), so that the full read is spread over the period instead of done at once.
    public var period: TimeInterval
}

/// A refresh that would cost about as much as a full read; `Syncer.run` reads everything instead.
struct RefreshDeclined: Error {
    var reason: String
}

extension Syncer {
    /// Full when asked (`forceFull`), when `fullEvery` is 0, when there is no snapshot, when the
    /// current one does not say which schedules `/oncalls` describes (written by an older
    /// Shiftgate), or when it started `fullEvery` or more ago (every schedule is due again).
    /// Otherwise a refresh; a wide one when the window's end has fallen `fullEvery` behind
    /// now + `--horizon`, when it no longer reaches as far as a refresh must, or when `--lookback`
    /// or `--horizon` changed.
    public func plan(now: Date = Date(), fullEvery: TimeInterval, forceFull: Bool = false) async throws -> SyncPlan {
        if forceFull { return .full(reason: "--full") }
        guard fullEvery > 0 else { return .full(reason: "--full-every 0") }
        guard let currentId = try await store.currentSnapshotId(), let previous = try await store.snapshot(id: currentId) else {
            return .full(reason: "no snapshot yet")
        }
        guard previous.schedules.isEmpty || previous.schedules.contains(where: { $0.describedByOnCalls != nil }) else {
            return .full(reason: "the current snapshot does not record which schedules /oncalls describes")
        }
        let age = now.timeIntervalSince(previous.info.startedAt)
        guard age < fullEvery else {
            return .full(reason: "the current snapshot is \(Int(age / 60)) min old (--full-every \(Int(fullEvery / 60)) min): every schedule is due")
        }
        let lag = now.addingTimeInterval(options.horizon).timeIntervalSince(previous.info.windowEnd)
        let lookbackChanged = abs(previous.info.windowStart.timeIntervalSince(previous.info.startedAt.addingTimeInterval(-options.lookback))) > 2
        let wide = lag >= fullEvery || lag < -60 || lookbackChanged || now.addingTimeInterval(options.refreshAhead) > previous.info.windowEnd
        return .refresh(RefreshPlan(previous: previous, wide: wide, period: fullEvery))
    }

    /// Whether a schedule's turn to be read whole came in (previous, now]. Each schedule has a fixed
    /// moment in every `period` (a hash of its id), so a sync every 5 minutes with a period of an
    /// hour reads about a twelfth of the schedules whole, and each one once an hour; a sync that
    /// comes late reads every turn it missed.
    static func isDue(_ scheduleId: String, after previous: Date, upTo now: Date, period: TimeInterval) -> Bool {
        let length = Int64(period.rounded())
        let from = previous.unixSeconds
        let to = now.unixSeconds
        guard length > 0, to - from < length else { return true }
        guard to > from else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, stable across runs and machines.
        for byte in scheduleId.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let turn = Int64(hash % UInt64(length))
        let (a, b) = (from % length, to % length)
        return a < b ? (turn > a && turn <= b) : (turn > a || turn <= b)
    }

    /// A refresh: both schedule lists and the policies (renames, schedules added, deleted or
    /// upgraded, members of layer-based schedules, targets), `/oncalls` with whole users for the span
    /// decisions can reach (who is on call, overrides applied, and their current emails), and the
    /// whole detail of every schedule `/oncalls` cannot stand for (new, upgraded, outside every
    /// policy, or not described exactly when last read whole), of those whose turn came (`isDue`)
    /// and of those whose `/oncalls` entries show they changed (`RefreshAssembly.agrees`); the others
    /// are recorded as confirmed over the span only (`Schedule.confirmedSince`). A wide refresh reads `/oncalls` for the whole window, moved to now + `--horizon`,
    /// and lists every user. The rest is carried from `previous`.
    func refresh(_ plan: RefreshPlan, now: Date, started: Date, progress: (@Sendable (SyncProgress) -> Void)?) async throws -> SnapshotContents {
        let previous = plan.previous
        let windowStart = Date(unixSeconds: now.addingTimeInterval(-options.lookback).unixSeconds)
        let windowEnd = plan.wide ? Date(unixSeconds: now.addingTimeInterval(options.horizon).unixSeconds) : previous.info.windowEnd
        let since = plan.wide ? windowStart : max(windowStart, Date(unixSeconds: now.addingTimeInterval(-options.refreshBehind).unixSeconds))
        let until = plan.wide ? windowEnd : min(windowEnd, Date(unixSeconds: now.addingTimeInterval(options.refreshAhead).unixSeconds))
        let report = reporter(progress)

        report(plan.wide ? "users, schedules, escalation policies" : "schedules, escalation policies", 0, plan.wide ? 3 : 2)
        async let usersReply = plan.wide ? fetchUsers() : ([], false)
        async let schedulesReply = fetchScheduleLists()
        async let policiesReply = client.escalationPolicies()
        let (layerBasedList, shiftBasedList) = try await schedulesReply
        let policies = Self.unique(try await policiesReply, by: \.id)
        let (listedUsers, usersListedByTeam) = try await usersReply
        let listing = ScheduleListing(layerBased: layerBasedList, shiftBased: shiftBasedList, policies: policies).scoped(to: options.scope, logger: logger)

        report("on-call entries", 0, 1)
        var onCalls = Set<Wire.OnCall>()
        for (from, to) in Self.chunks(from: since, to: until, longest: options.maxRequestWindow) {
            onCalls.formUnion(try await scopedOnCalls(listing, policies: policies, since: from, until: to, includeUsers: true))
        }

        // A schedule is read from /oncalls only when some policy still reaches it, /oncalls
        // described it exactly when it was last read whole, it is still of the kind it was (an
        // upgrade in place keeps the id and is read whole), and its turn to be read whole again
        // has not come.
        let targeted = Set(SnapshotAssembly.targets(policies).filter { $0.kind == .schedule }.map(\.targetId))
        let previousSchedules = Dictionary(previous.schedules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var fromOnCalls = Set<String>()
        var whole: [ScheduleListing.Entry] = []
        var due: [ScheduleListing.Entry] = []
        for entry in listing.entries {
            guard entry.isListed, targeted.contains(entry.id), let old = previousSchedules[entry.id], old.describedByOnCalls == true,
                  old.kind == entry.kind else {
                whole.append(entry)
                continue
            }
            if Self.isDue(entry.id, after: previous.info.startedAt, upTo: now, period: plan.period) {
                due.append(entry)
            } else {
                fromOnCalls.insert(entry.id)
            }
        }
        // A refresh that would read most schedules whole out of turn (a new scope, most schedules
        // upgraded) costs as much as a full read and would build on little: read everything instead.
        if whole.count > max(10, listing.entries.count / 4) {
            throw RefreshDeclined(reason: "\(whole.count) of \(listing.entries.count) schedules would be read whole")
        }
        let chunks = Self.chunks(from: windowStart, to: windowEnd, longest: options.maxRequestWindow)
        var rows = try await fetchScheduleDetails(whole + due, chunks: chunks, report: report)
        logger.debug("refresh read", metadata: [
            "schedules": "\(listing.entries.count)", "from_oncalls": "\(fromOnCalls.count)", "read_whole": "\(whole.count)",
            "read_whole_in_turn": "\(due.count)", "oncall_entries": "\(onCalls.count)", "wide": "\(plan.wide)",
        ])

        // Whoever is still on call at the span's end may stay on call well past it (a weekly
        // rotation), and a decision names the end of their stretch: their entries up to the
        // window's end are read too, a batch of people per request.
        var stillOnCall = Set(onCalls.filter { entry in
            guard let scheduleId = entry.schedule?.id, fromOnCalls.contains(scheduleId), let end = entry.end else { return false }
            return end >= until
        }.map(\.user.id))
        for schedule in rows.values {
            stillOnCall.formUnion(schedule.shifts.filter { $0.start < until && $0.end >= until }.map(\.userId))
        }
        let continuing = stillOnCall.sorted()
        var continuingOnCalls = Set<Wire.OnCall>()
        if until < windowEnd, !continuing.isEmpty {
            report("later shifts of the people on call", 0, continuing.count)
            let batch = 100
            for first in stride(from: 0, to: continuing.count, by: batch) {
                let people = Array(continuing[first..<min(first + batch, continuing.count)])
                // `/oncalls` answers at most 90 days at a time (a long --horizon is split).
                for (from, to) in Self.chunks(from: until, to: windowEnd, longest: options.maxRequestWindow) {
                    continuingOnCalls.formUnion(try await client.onCalls(since: from, until: to, userIds: people))
                }
            }
        }
        // Where what this refresh read of a schedule disagrees with the previous snapshot, PagerDuty
        // changed it (two people swapped, an override, a new time zone): the rest of its window, which
        // the previous snapshot describes as it was, cannot be kept beside the new entries (that
        // invents gaps and double bookings), so the schedule is read whole now, one request per
        // changed schedule. A layer-based schedule whose listed time zone changed is read whole too.
        // Compared inside both windows: the previous one's end cut its shifts there.
        let compared = (windowStart, previous.info.windowEnd)
        let read = RefreshAssembly.shiftsBySchedule(onCalls.union(continuingOnCalls), window: compared)
        let previousShifts = Dictionary(grouping: previous.shifts, by: \.scheduleId)
        let continuingPeople = Set(continuing)
        let changed = listing.entries.filter { entry in
            guard fromOnCalls.contains(entry.id), let old = previousSchedules[entry.id] else { return false }
            if old.kind == .layerBased, let zone = entry.timeZone, zone != old.timeZone { return true }
            return !RefreshAssembly.agrees(previous: previousShifts[entry.id] ?? [], read: read[entry.id] ?? [], since: since, until: until,
                                           continuing: continuingPeople, window: compared)
        }
        if !changed.isEmpty {
            logger.debug("schedules changed since the previous snapshot, read whole", metadata: ["schedules": "\(changed.map(\.id))"])
            fromOnCalls.subtract(changed.map(\.id))
            rows.merge(try await fetchScheduleDetails(changed, chunks: chunks, report: report)) { _, reread in reread }
        }
        let replies = RefreshReplies(listing: listing, policies: policies, onCalls: onCalls, since: since, until: until,
                                     fromOnCalls: fromOnCalls, continuing: Set(continuing), continuingOnCalls: continuingOnCalls, rows: rows,
                                     users: plan.wide ? Self.unique(listedUsers, by: \.id) : nil)
        let info = SnapshotInfo(startedAt: started, finishedAt: started, windowStart: windowStart, windowEnd: windowEnd, read: .refresh)
        var contents = RefreshAssembly.assemble(previous: previous, replies, info: info)

        if plan.wide {
            // Every user was listed: only those the lists missed are read, as a full read reads them.
            try await addUnlistedUsers(to: &contents, listedByTeam: usersListedByTeam, report: report)
            return finished(contents)
        }
        // People on call in the span whose user `/oncalls` did not give whole (those of schedules
        // read whole, or every one if PagerDuty ignored include[]=users) are read again by id, so
        // that a changed email counts at once; so is anyone the snapshot names but does not have.
        let givenWhole = Set(onCalls.compactMap { $0.user.user?.id })
        let onCallInSpan = Set(contents.shifts.filter { $0.start < until && since < $0.end }.map(\.userId))
        var stale = onCallInSpan.subtracting(givenWhole)
        stale.formUnion(SnapshotAssembly.unlistedUserIds(contents))
        func replace(with fetched: [Wire.User]) {
            let fetchedIds = Set(fetched.map(\.id))
            contents.users.removeAll { fetchedIds.contains($0.id) }
            contents.users += fetched.map(SnapshotAssembly.user)
            stale.subtract(fetchedIds)
        }
        // More than the pages of a list: PagerDuty did not give users whole. Reading the list costs less.
        if stale.count > PagerDutyClient.maxOffset / PagerDutyClient.pageLimit {
            report("users (/oncalls did not include them)", 0, stale.count)
            logger.notice("/oncalls gave no whole users; reading /users", metadata: ["on_call_users": "\(stale.count)"])
            let wanted = stale
            replace(with: Self.unique(try await fetchUsers().users, by: \.id).filter { wanted.contains($0.id) })
        }
        if !stale.isEmpty {
            report("users on call whose details were not in /oncalls", 0, stale.count)
            replace(with: try await fetchUsers(ids: stale.sorted()))
        }
        contents.users.sort { $0.id < $1.id }
        return finished(contents)
    }
}
