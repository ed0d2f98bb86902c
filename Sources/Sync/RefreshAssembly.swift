import Foundation
import OnCallStore
import PagerDuty

/// What a refresh read: both schedule lists and the policies (whole), `/oncalls` for a span around
/// now (with whole users), and the details of the schedules `/oncalls` cannot stand for.
struct RefreshReplies: Sendable {
    var listing: ScheduleListing
    var policies: [Wire.EscalationPolicy]
    var onCalls: Set<Wire.OnCall>
    /// The span `/oncalls` was read for.
    var since: Date
    var until: Date
    /// Schedules refreshed from `/oncalls`: their rows outside the span come from the previous
    /// snapshot.
    var fromOnCalls: Set<String>
    /// For the people on call at the span's end: every entry of theirs from `until` to the window's
    /// end (`/oncalls?user_ids[]=…`), so that each one's stretch is known to its end.
    var continuing: Set<String> = []
    var continuingOnCalls: Set<Wire.OnCall> = []
    /// Details read whole for the window, by schedule id (the other schedules).
    var rows: [String: ScheduleRows]
    /// Every user listed (a wide refresh); nil: the previous snapshot's users are kept.
    var users: [Wire.User]? = nil
}

/// The previous snapshot plus a refresh's replies → the next snapshot. Pure.
///
/// Why this gives the decisions a full read would: a decision at a moment t between this refresh
/// and the next looks at shifts covering [t − AUTO_APPROVAL_WINDOW_AFTER, t + AUTO_APPROVAL_DURATION],
/// which the `/oncalls` span covers (the sync sizes it from those variables), and `/oncalls` gives
/// every shift overlapping the span whole (PagerDuty's final schedule, overrides applied). A schedule
/// is refreshed this way only when the last full read showed `/oncalls` and its detail agreeing on
/// every shift in the window (`schedulesDescribedByOnCalls`), which also keeps each shift cut the
/// same way as a full read cuts it (so drift compares like with like); every other schedule is read
/// whole, as a full read would.
enum RefreshAssembly {
    /// The schedules whose shifts in `full` equal, one for one, the `/oncalls` entries that name them
    /// (cut at the window as shifts are): the schedules a refresh may read from `/oncalls`. Only
    /// schedules some policy targets qualify (`/oncalls` says nothing of the others).
    ///
    /// PagerDuty does not document whether `/oncalls` lists every person of a shift-based
    /// schedule's concurrent assignments (API-v3.md §8, UNVERIFIED), nor whether its entries split
    /// where the final schedule's do. This check answers both per schedule from what the account's
    /// own replies showed: where they disagree, the schedule is read whole at every refresh.
    static func schedulesDescribedByOnCalls(_ full: SnapshotContents) -> Set<String> {
        let window = (full.info.windowStart, full.info.windowEnd)
        let targeted = Set(full.targets.filter { $0.kind == .schedule }.map(\.targetId))
        var fromOnCalls: [String: Set<Shift>] = [:]
        for entry in full.onCalls {
            guard let scheduleId = entry.scheduleId, targeted.contains(scheduleId),
                  let shift = clipped(scheduleId: scheduleId, userId: entry.userId, start: entry.start, end: entry.end, to: window) else { continue }
            fromOnCalls[scheduleId, default: []].insert(shift)
        }
        var fromDetails: [String: Set<Shift>] = [:]
        for shift in full.shifts where targeted.contains(shift.scheduleId) {
            if let shift = clipped(scheduleId: shift.scheduleId, userId: shift.userId, start: shift.start, end: shift.end, to: window) {
                fromDetails[shift.scheduleId, default: []].insert(shift)
            }
        }
        return Set(full.schedules.map(\.id).filter { targeted.contains($0) && fromOnCalls[$0, default: []] == fromDetails[$0, default: []] })
    }

    /// `full`'s schedules, each marked with whether `/oncalls` describes it (a full read's own check).
    static func markingDescribedByOnCalls(_ full: SnapshotContents) -> [Schedule] {
        let described = schedulesDescribedByOnCalls(full)
        return full.schedules.map { schedule in
            var marked = schedule
            marked.describedByOnCalls = described.contains(schedule.id)
            return marked
        }
    }

    /// Whether the shifts a schedule's detail gave equal, one for one, the `/oncalls` entries that
    /// name it, over the span a refresh read `/oncalls` for (both cut at the window): the same check
    /// as `schedulesDescribedByOnCalls`, over the span instead of the whole window.
    static func describedInSpan(_ detail: [Shift], _ onCalls: Set<Shift>, since: Date, until: Date) -> Bool {
        Set(detail.filter { $0.start < until && since < $0.end }) == Set(onCalls.filter { $0.start < until && since < $0.end })
    }

    static func assemble(previous: SnapshotContents, _ replies: RefreshReplies, info: SnapshotInfo) -> SnapshotContents {
        let window = (info.windowStart, info.windowEnd)
        let targeted = Set(SnapshotAssembly.targets(replies.policies).filter { $0.kind == .schedule }.map(\.targetId))
        let spanShifts = shiftsBySchedule(replies.onCalls, window: window)
        let previousSchedules = Dictionary(previous.schedules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let previousMembers = Dictionary(grouping: previous.members, by: \.scheduleId)
        let previousShifts = Dictionary(grouping: previous.shifts, by: \.scheduleId)
        let previousOverrides = Dictionary(grouping: previous.overrides, by: \.scheduleId)
        let onCallShifts = shiftsBySchedule(replies.onCalls.union(replies.continuingOnCalls), window: window)

        var schedules: [Schedule] = []
        var members = Set<ScheduleMember>()
        var shifts: [Shift] = []
        var overrides: [Override] = []
        for listed in replies.listing.entries {
            if let rows = replies.rows[listed.id] {
                // Read whole, as a full read would, and checked again against `/oncalls`.
                let old = previousSchedules[listed.id]
                let described = targeted.contains(listed.id)
                    && describedInSpan(rows.shifts, spanShifts[listed.id] ?? [], since: replies.since, until: replies.until)
                schedules.append(Schedule(id: listed.id, name: rows.name ?? listed.name ?? old?.name ?? listed.id,
                                          timeZone: rows.timeZone ?? listed.timeZone ?? old?.timeZone ?? "UTC",
                                          description: rows.description ?? listed.description ?? old?.description ?? "", kind: rows.kind,
                                          describedByOnCalls: described))
                for userId in listed.memberIds + rows.memberIds { members.insert(ScheduleMember(scheduleId: listed.id, userId: userId)) }
                shifts += rows.shifts
                overrides += rows.overrides
            } else if replies.fromOnCalls.contains(listed.id), let old = previousSchedules[listed.id] {
                // The list's name (a rename shows at once); a shift-based schedule's zone and
                // description are only in its detail, so they are carried until the next full read.
                // Its roster is confirmed only where this refresh read `/oncalls` (the whole window in
                // a wide refresh): elsewhere it is the previous snapshot's, as read earlier.
                let partial = replies.since > info.windowStart || replies.until < info.windowEnd
                schedules.append(Schedule(id: listed.id, name: listed.name ?? old.name, timeZone: listed.timeZone ?? old.timeZone,
                                          description: listed.description ?? old.description, kind: old.kind, describedByOnCalls: true,
                                          confirmedSince: partial ? replies.since : nil, confirmedUntil: partial ? replies.until : nil))
                let listedMembers = old.kind == .layerBased && listed.isListed ? listed.memberIds : (previousMembers[listed.id] ?? []).map(\.userId)
                for userId in listedMembers { members.insert(ScheduleMember(scheduleId: listed.id, userId: userId)) }
                // `agrees` held (the sync read whole every schedule where it did not), so this read's
                // entries and the previous rows elsewhere are one roster.
                shifts += carried(previous: previousShifts[listed.id] ?? [], fresh: onCallShifts[listed.id] ?? [], since: replies.since,
                                  until: replies.until, continuing: replies.continuing, window: window)
                overrides += (previousOverrides[listed.id] ?? []).compactMap {
                    guard let kept = clipped(scheduleId: $0.scheduleId, userId: $0.userId, start: $0.start, end: $0.end, to: window) else { return nil }
                    return Override(scheduleId: kept.scheduleId, userId: kept.userId, start: kept.start, end: kept.end)
                }
            }
            // Otherwise the schedule is gone (404 on both APIs when its detail was asked for).
        }

        // Users: the list's (a wide refresh) or the previous snapshot's, with what `/oncalls` gave
        // whole put in their place.
        let listedUsers = replies.users.map { $0.map(SnapshotAssembly.user) } ?? previous.users
        var users = Dictionary(listedUsers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in replies.onCalls {
            if let user = entry.user.user { users[user.id] = SnapshotAssembly.user(user) }
        }

        // On-call entries: the previous snapshot's outside the span, this read's inside it.
        let policyIds = Set(replies.policies.map(\.id))
        var onCalls = Set(previous.onCalls.filter { entry in
            guard policyIds.contains(entry.policyId), let start = entry.start, let end = entry.end else { return false }
            return end <= replies.since || start >= replies.until
        })
        for entry in replies.onCalls {
            onCalls.insert(OnCall(policyId: entry.escalationPolicy.id, level: entry.escalationLevel, scheduleId: entry.schedule?.id,
                                  userId: entry.user.id, start: entry.start, end: entry.end))
        }

        return SnapshotContents(
            info: info,
            users: users.values.sorted { $0.id < $1.id },
            schedules: schedules,
            members: members.sorted { ($0.scheduleId, $0.userId) < ($1.scheduleId, $1.userId) },
            shifts: shifts,
            overrides: overrides,
            policies: replies.policies.map { EscalationPolicy(id: $0.id, name: $0.name ?? $0.summary ?? $0.id, numLoops: $0.numLoops ?? 0) },
            targets: SnapshotAssembly.targets(replies.policies),
            onCalls: onCalls.sorted { ($0.policyId, $0.level, $0.start ?? .distantPast, $0.userId, $0.scheduleId ?? "")
                < ($1.policyId, $1.level, $1.start ?? .distantPast, $1.userId, $1.scheduleId ?? "") }
        )
    }

    /// Whether what a refresh read of one schedule (`read`: its `/oncalls` entries over [since, until)
    /// and the continuing people's later ones, cut at `window`) says the same as the previous
    /// snapshot's shifts of it where both speak: every shift overlapping the span, and every shift
    /// of a continuing person that ends after it. Where they disagree, PagerDuty changed the schedule
    /// since it was read (a swap, an override, a new time zone), and the previous snapshot's rows
    /// outside the span no longer describe it.
    static func agrees(previous: [Shift], read: Set<Shift>, since: Date, until: Date, continuing: Set<String>, window: (Date, Date)) -> Bool {
        let old = Set(previous.compactMap { clipped(scheduleId: $0.scheduleId, userId: $0.userId, start: $0.start, end: $0.end, to: window) })
        let inSpan = { (shift: Shift) in shift.start < until && since < shift.end }
        let later = { (shift: Shift) in continuing.contains(shift.userId) && shift.end > until }
        return old.filter(inSpan) == read.filter(inSpan) && old.filter(later) == read.filter(later)
    }

    /// One unchanged schedule's shifts after a refresh (`agrees` held): what `/oncalls` gave where the
    /// refresh read it (the same shifts as the previous snapshot's there, whole; a wide refresh's
    /// also cover the part of the window the previous one did not reach), and the previous
    /// snapshot's everywhere else, cut at the window.
    static func carried(previous: [Shift], fresh: Set<Shift>, since: Date, until: Date, continuing: Set<String>,
                        window: (Date, Date)) -> [Shift] {
        var result = fresh
        for shift in previous where !(shift.start < until && since < shift.end) && !(continuing.contains(shift.userId) && shift.end > until) {
            if let kept = clipped(scheduleId: shift.scheduleId, userId: shift.userId, start: shift.start, end: shift.end, to: window) {
                result.insert(kept)
            }
        }
        return result.sorted { ($0.start, $0.userId) < ($1.start, $1.userId) }
    }

    /// The schedules' shifts as `/oncalls` entries give them, cut at `window`, by schedule id.
    static func shiftsBySchedule(_ entries: Set<Wire.OnCall>, window: (Date, Date)) -> [String: Set<Shift>] {
        Dictionary(grouping: entries.compactMap { entry -> Shift? in
            guard let scheduleId = entry.schedule?.id else { return nil }
            return clipped(scheduleId: scheduleId, userId: entry.user.id, start: entry.start, end: entry.end, to: window)
        }, by: \.scheduleId).mapValues { Set($0) }
    }

    /// [start, end) cut at `window`; nil when nothing is left, or for an entry without bounds (a
    /// user targeted directly, on call at all times, is no schedule's shift).
    static func clipped(scheduleId: String, userId: String, start: Date?, end: Date?, to window: (Date, Date)) -> Shift? {
        guard let start, let end else { return nil }
        let from = max(start, window.0)
        let to = min(end, window.1)
        guard from < to else { return nil }
        return Shift(scheduleId: scheduleId, userId: userId, start: from, end: to)
    }
}
