import Approval
import Foundation
import OnCallStore
import Timestamps

/// One entry of a desired state: a grant and a PagerDuty user it wants in its group.
public struct GrantKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var grant: String
    public var userId: String

    public init(grant: String, userId: String) {
        self.grant = grant
        self.userId = userId
    }

    public static func < (lhs: GrantKey, rhs: GrantKey) -> Bool {
        (lhs.grant, lhs.userId) < (rhs.grant, rhs.userId)
    }

    public var description: String { "\(grant)/\(userId)" }
}

/// Why, and until when, a person belongs in a grant's group at an instant.
public struct DesiredMember: Sendable, Equatable {
    public var userId: String
    /// Nil for an id the snapshot's user list lacks (such a person cannot be named in a target).
    public var user: User?
    /// The start of their widened stretch: the first shift's start − `lead`.
    public var since: Date
    /// The end of their widened stretch: the last shift's end + `grace`. They are wanted before it.
    public var until: Date
    /// The end of the on-call stretch itself (without `grace`).
    public var shiftEnd: Date
    /// The schedules that put them there at the instant asked about, in order (names, or ids
    /// for a schedule the snapshot does not name).
    public var scheduleNames: [String]
    /// What the audit shows: "on call in SRE Primary until 2026-12-07 04:00 UTC".
    public var reason: String
}

/// Each grant's on-call stretches from one snapshot, widened by the grant's `lead` and `grace`:
/// the desired state at any instant, and the next instant it changes. Built once per snapshot
/// (and rules reload); pure.
///
/// Who is on call is decided as for approvals, from the same cached shifts: overrides are already
/// folded in, a shift-based schedule can put several people on call at once, an empty slot puts
/// nobody, and `max_escalation_level` keeps only schedules some escalation policy reaches at that
/// level or lower. A person's shifts across the grant's schedules that touch or overlap are one
/// stretch, and widened stretches that touch or overlap are one too: a hand-over to oneself at the
/// same second (or within lead + grace) never removes and re-adds.
public struct GrantRoster: Sendable {
    public let grants: [GrantRule]
    /// Per grant (by position), per user: disjoint windows sorted by start.
    let windows: [[String: [Window]]]
    let users: [String: User]
    let scheduleNames: [String: String]
    /// Schedule entries of grants that match no schedule of the snapshot (worth a warning).
    public let unmatchedSchedules: [(grant: String, entry: String, location: SourceLocation?)]

    /// A widened stretch: wanted over [start, end).
    struct Window: Sendable {
        var start: Date
        var end: Date
        var shiftStart: Date
        var shiftEnd: Date
        /// The shifts it is made of, sorted by start.
        var shifts: [Shift]
    }

    public init(grants: [GrantRule], index: OnCallIndex) {
        self.grants = grants
        var unmatched: [(grant: String, entry: String, location: SourceLocation?)] = []
        var names: [String: String] = [:]
        var users: [String: User] = [:]
        var perGrant: [[String: [Window]]] = []
        for grant in grants {
            var scheduleIds = Set<String>()
            for (position, entry) in grant.schedules.enumerated() {
                let matches = index.scheduleIds(matching: entry)
                if matches.isEmpty {
                    unmatched.append((grant.name, entry, position < grant.scheduleLocations.count ? grant.scheduleLocations[position] : nil))
                }
                scheduleIds.formUnion(matches)
            }
            if let maxLevel = grant.maxEscalationLevel {
                scheduleIds = scheduleIds.filter { (index.lowestEscalationLevel(scheduleId: $0) ?? .max) <= maxLevel }
            }
            var shiftsByUser: [String: [Shift]] = [:]
            for id in scheduleIds {
                names[id] = index.schedule(id: id)?.name ?? id
                for shift in index.shifts(scheduleId: id) where shift.end > shift.start {
                    shiftsByUser[shift.userId, default: []].append(shift)
                }
            }
            var byUser: [String: [Window]] = [:]
            for (userId, shifts) in shiftsByUser {
                if users[userId] == nil, let user = index.user(id: userId) { users[userId] = user }
                byUser[userId] = Self.windows(shifts.sorted { ($0.start, $0.end, $0.scheduleId) < ($1.start, $1.end, $1.scheduleId) },
                                              lead: grant.lead, grace: grant.grace)
            }
            perGrant.append(byUser)
        }
        windows = perGrant
        self.users = users
        scheduleNames = names
        unmatchedSchedules = unmatched
    }

    /// Shifts sorted by start → widened windows, merged where they touch or overlap.
    static func windows(_ shifts: [Shift], lead: TimeInterval, grace: TimeInterval) -> [Window] {
        var result: [Window] = []
        for shift in shifts {
            let start = shift.start.addingTimeInterval(-lead)
            let end = shift.end.addingTimeInterval(grace)
            if var last = result.last, start <= last.end {
                last.end = max(last.end, end)
                last.shiftEnd = max(last.shiftEnd, shift.end)
                last.shifts.append(shift)
                result[result.count - 1] = last
            } else {
                result.append(Window(start: start, end: end, shiftStart: shift.start, shiftEnd: shift.end, shifts: [shift]))
            }
        }
        return result
    }

    /// Every grant's wanted people at `instant`, with the end of their widened stretch and why.
    public func desired(at instant: Date) -> [GrantKey: DesiredMember] {
        var result: [GrantKey: DesiredMember] = [:]
        for (position, grant) in grants.enumerated() {
            for (userId, windows) in windows[position] {
                guard let window = windows.first(where: { $0.start <= instant && instant < $0.end }) else { continue }
                // The schedules still on call at the instant or ahead in the stretch; in the grace
                // after it, those of its last shifts.
                var ids: [String] = []
                for shift in window.shifts where shift.end > instant && !ids.contains(shift.scheduleId) { ids.append(shift.scheduleId) }
                if ids.isEmpty {
                    for shift in window.shifts where shift.end == window.shiftEnd && !ids.contains(shift.scheduleId) { ids.append(shift.scheduleId) }
                }
                let names = ids.map { scheduleNames[$0] ?? $0 }
                var reason = "on call in \(names.joined(separator: ", "))"
                if instant < window.shiftStart {
                    reason += " from \(ReadableTime.utc(window.shiftStart))"
                }
                reason += " until \(ReadableTime.utc(window.shiftEnd))"
                if instant >= window.shiftEnd {
                    reason += " (grace to \(ReadableTime.utc(window.end)))"
                }
                result[GrantKey(grant: grant.name, userId: userId)] = DesiredMember(
                    userId: userId, user: users[userId], since: window.start, until: window.end, shiftEnd: window.shiftEnd,
                    scheduleNames: names, reason: reason)
            }
        }
        return result
    }

    /// The first instant after `instant` at which some grant's desired set changes (a widened
    /// stretch starts or ends), rounded up to the whole second; nil when no change lies ahead in the
    /// snapshot. A controller sleeps until then (or until a new snapshot, whichever comes first).
    public func nextBoundary(after instant: Date) -> Date? {
        var next: Date?
        for byUser in windows {
            for windows in byUser.values {
                for window in windows {
                    for edge in [window.start, window.end] where edge > instant && edge < (next ?? .distantFuture) {
                        next = edge
                    }
                }
            }
        }
        return next.map { Date(timeIntervalSince1970: $0.timeIntervalSince1970.rounded(.up)) }
    }
}

/// The desired state at `instant` of `grants` under one snapshot: `GrantRoster(grants:index:)`
/// and its `desired(at:)`, for a single question.
public func desired(at instant: Date, grants: [GrantRule], index: OnCallIndex) -> [GrantKey: DesiredMember] {
    GrantRoster(grants: grants, index: index).desired(at: instant)
}
