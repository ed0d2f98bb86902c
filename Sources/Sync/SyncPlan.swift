import Foundation
import Logging
import OnCallStore
import PagerDuty

/// What a sync reads: everything, or a refresh on top of the current snapshot.
public enum SyncPlan: Sendable {
    /// Every list and every schedule's detail, for the reason given (shown by `sync` and logged).
    case full(reason: String)
    /// Both schedule lists, the policies and `/oncalls` near now; `previous` is the current
    /// snapshot, `describedByOnCalls` the schedules the last full read showed `/oncalls` to
    /// describe exactly (`RefreshAssembly.schedulesDescribedByOnCalls`).
    case refresh(previous: SnapshotContents, describedByOnCalls: Set<String>)

    public var summary: String {
        switch self {
        case .full(let reason): "full read (\(reason))"
        case .refresh(let previous, let described):
            "refresh on snapshot \(previous.info.id) (\(described.count) of \(previous.schedules.count) schedules from /oncalls)"
        }
    }
}

/// A refresh that would cost about as much as a full read; `Syncer.run` reads everything instead.
struct RefreshDeclined: Error {
    var reason: String
}

extension Syncer {
    /// Full when asked (`forceFull`), when `fullEvery` is 0, when there is no snapshot or no full
    /// read kept to build on, when the last full read started `fullEvery` or more ago, or when the
    /// window it read no longer reaches as far as a refresh must (`--lookback`/`--horizon` changed,
    /// or `refreshAhead` runs past its end). Otherwise a refresh.
    public func plan(now: Date = Date(), fullEvery: TimeInterval, forceFull: Bool = false) async throws -> SyncPlan {
        if forceFull { return .full(reason: "--full") }
        guard fullEvery > 0 else { return .full(reason: "--full-every 0") }
        let snapshots = try await store.snapshots()
        guard let lastFull = snapshots.last(where: { $0.read == .full }) else {
            return .full(reason: snapshots.isEmpty ? "no snapshot yet" : "no full read kept")
        }
        let age = now.timeIntervalSince(lastFull.startedAt)
        guard age < fullEvery else { return .full(reason: "the last full read is \(Int(age / 60)) min old (--full-every \(Int(fullEvery / 60)) min)") }
        let span = lastFull.windowEnd.timeIntervalSince(lastFull.windowStart)
        guard abs(span - (options.lookback + options.horizon)) < 1 else { return .full(reason: "--lookback or --horizon changed") }
        guard now.addingTimeInterval(options.refreshAhead) <= lastFull.windowEnd else {
            return .full(reason: "the last full read's window ends too soon for a refresh")
        }
        guard let currentId = try await store.currentSnapshotId(), currentId >= lastFull.id,
              let previous = try await store.snapshot(id: currentId),
              let full = currentId == lastFull.id ? previous : try await store.snapshot(id: lastFull.id) else {
            return .full(reason: "the current snapshot is not the last full read or a refresh of it")
        }
        return .refresh(previous: previous, describedByOnCalls: RefreshAssembly.schedulesDescribedByOnCalls(full))
    }

    /// A refresh: both schedule lists and the policies (renames, schedules added, deleted or
    /// upgraded, members of layer-based schedules, targets), `/oncalls` with whole users for the span
    /// decisions can reach (who is on call, overrides applied, and their current emails), and the
    /// whole detail of every schedule `/oncalls` cannot stand for (new, upgraded, outside every
    /// policy, or not described exactly at the last full read). The rest is carried from `previous`.
    func refresh(previous: SnapshotContents, describedByOnCalls: Set<String>, now: Date, started: Date,
                 progress: (@Sendable (SyncProgress) -> Void)?) async throws -> SnapshotContents {
        let windowStart = Date(unixSeconds: now.addingTimeInterval(-options.lookback).unixSeconds)
        let windowEnd = previous.info.windowEnd
        let since = max(windowStart, Date(unixSeconds: now.addingTimeInterval(-options.refreshBehind).unixSeconds))
        let until = min(windowEnd, Date(unixSeconds: now.addingTimeInterval(options.refreshAhead).unixSeconds))
        let report = reporter(progress)

        report("schedules, escalation policies", 0, 2)
        async let schedulesReply = fetchScheduleLists()
        async let policiesReply = client.escalationPolicies()
        let (layerBasedList, shiftBasedList) = try await schedulesReply
        let policies = Self.unique(try await policiesReply, by: \.id)
        let listing = ScheduleListing(layerBased: layerBasedList, shiftBased: shiftBasedList, policies: policies).scoped(to: options.scope, logger: logger)

        report("on-call entries", 0, 1)
        let onCalls = Set(try await scopedOnCalls(listing, policies: policies, since: since, until: until, includeUsers: true))

        // A schedule is read from /oncalls only when some policy still reaches it, it was
        // described exactly at the last full read, and it is still of the kind it was (an upgrade in
        // place keeps the id and is read whole).
        let targeted = Set(SnapshotAssembly.targets(policies).filter { $0.kind == .schedule }.map(\.targetId))
        let previousKinds = Dictionary(previous.schedules.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first })
        var fromOnCalls = Set<String>()
        var whole: [ScheduleListing.Entry] = []
        for entry in listing.entries {
            if entry.isListed, targeted.contains(entry.id), describedByOnCalls.contains(entry.id), previousKinds[entry.id] == entry.kind {
                fromOnCalls.insert(entry.id)
            } else {
                whole.append(entry)
            }
        }
        // A refresh that would read most schedules whole (a new scope, most schedules upgraded) costs
        // as much as a full read and would build on little: read everything instead.
        if whole.count > max(10, listing.entries.count / 4) {
            throw RefreshDeclined(reason: "\(whole.count) of \(listing.entries.count) schedules would be read whole")
        }
        let chunks = Self.chunks(from: windowStart, to: windowEnd, longest: options.maxRequestWindow)
        let rows = try await fetchScheduleDetails(whole, chunks: chunks, report: report)
        logger.debug("refresh read", metadata: [
            "schedules": "\(listing.entries.count)", "from_oncalls": "\(fromOnCalls.count)", "read_whole": "\(whole.count)",
            "oncall_entries": "\(onCalls.count)",
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
        let replies = RefreshReplies(listing: listing, policies: policies, onCalls: onCalls, since: since, until: until,
                                     fromOnCalls: fromOnCalls, continuing: Set(continuing), continuingOnCalls: continuingOnCalls, rows: rows)
        let info = SnapshotInfo(startedAt: started, finishedAt: started, windowStart: windowStart, windowEnd: windowEnd, read: .refresh)
        var contents = RefreshAssembly.assemble(previous: previous, replies, info: info)

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
