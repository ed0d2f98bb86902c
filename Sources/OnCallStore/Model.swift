import Foundation

// The cache's value types. They carry no snapshot id: a `SnapshotContents` is one whole snapshot,
// and the store adds the id when it writes and filters by it when it reads. Drift and Approval work
// on these types and nothing else of the store.

/// A PagerDuty user as cached. `email` keeps the case PagerDuty stored; compare case-insensitively.
public struct User: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var email: String
    public var timeZone: String

    public init(id: String, name: String, email: String, timeZone: String) {
        self.id = id
        self.name = name
        self.email = email
        self.timeZone = timeZone
    }
}

/// Which of PagerDuty's schedule APIs answered for a schedule. Ids are shared between the two and a
/// schedule upgraded in place keeps its id, so the kind is learnt again at every sync.
public enum ScheduleKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// Legacy layer-based (`/schedules`): one person on call at a time.
    case layerBased = "layer_based"
    /// Shift-based ("v3", `/v3/schedules`): rotations and custom shifts can put several people on
    /// call at once.
    case shiftBased = "shift_based"
}

/// A PagerDuty schedule (rotation) as cached.
public struct Schedule: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var timeZone: String
    public var description: String
    public var kind: ScheduleKind
    /// Sync's bookkeeping, not PagerDuty's: whether the last time this schedule's detail was read,
    /// `/oncalls` gave the same shifts for it, one for one, over the span both covered. Refreshes
    /// read `/oncalls` instead of the detail only for a schedule marked true. Nil: not known (a
    /// snapshot written before Shiftgate recorded it).
    public var describedByOnCalls: Bool?
    /// Sync's bookkeeping: set when the snapshot confirms this schedule's roster (its shifts and
    /// overrides) as PagerDuty had it at the read only over [confirmedSince, confirmedUntil): a
    /// refresh read `/oncalls` there and carried the rest of the window from an earlier read, which
    /// a change since (a swap, an override, a new time zone, all invisible there) may have made
    /// wrong. A shift-based schedule's time zone and description are carried too. Drift compares,
    /// and `check --at` answers, only where both are confirmed. Nil: the whole window is (a full
    /// read, or the schedule read whole).
    public var confirmedSince: Date?
    public var confirmedUntil: Date?

    public init(id: String, name: String, timeZone: String, description: String = "", kind: ScheduleKind = .layerBased,
                describedByOnCalls: Bool? = nil, confirmedSince: Date? = nil, confirmedUntil: Date? = nil) {
        self.id = id
        self.name = name
        self.timeZone = timeZone
        self.description = description
        self.kind = kind
        self.describedByOnCalls = describedByOnCalls
        self.confirmedSince = confirmedSince
        self.confirmedUntil = confirmedUntil
    }

    /// The part of `window` over which this schedule's roster is confirmed (see `confirmedSince`).
    public func confirmed(within window: (start: Date, end: Date)) -> (start: Date, end: Date)? {
        let start = max(window.start, confirmedSince ?? window.start)
        let end = min(window.end, confirmedUntil ?? window.end)
        return start < end ? (start, end) : nil
    }

    /// Whether the snapshot confirms who is on call here at `instant` (see `confirmedSince`).
    public func isConfirmed(at instant: Date) -> Bool {
        (confirmedSince.map { $0 <= instant } ?? true) && (confirmedUntil.map { instant < $0 } ?? true)
    }
}

/// A user listed as a member of a schedule (the schedule's `users[]`), whether or not they have a shift
/// inside the window.
public struct ScheduleMember: Sendable, Hashable, Codable {
    public var scheduleId: String
    public var userId: String

    public init(scheduleId: String, userId: String) {
        self.scheduleId = scheduleId
        self.userId = userId
    }
}

/// Someone on call in a schedule over the half-open interval [start, end): a shift of the final
/// schedule, or an entry of its overrides layer (`Shift`, `Override`: one shape, two meanings).
public struct ScheduleEntry: Sendable, Hashable, Codable {
    public var scheduleId: String
    public var userId: String
    public var start: Date
    public var end: Date

    public init(scheduleId: String, userId: String, start: Date, end: Date) {
        self.scheduleId = scheduleId
        self.userId = userId
        self.start = start
        self.end = end
    }
}

/// One entry of a schedule's final rendered schedule (overrides already folded in): `userId` is on call
/// for `scheduleId` over [start, end). Shifts of one schedule may overlap (shift-based schedules put
/// several people on call at once): who is on call is always a set.
public typealias Shift = ScheduleEntry

/// An entry of a schedule's overrides layer, as rendered for the window: `userId` is on call instead
/// of someone else. For a shift-based schedule, one entry per override the final schedule shows.
public typealias Override = ScheduleEntry

public struct EscalationPolicy: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var numLoops: Int

    public init(id: String, name: String, numLoops: Int = 0) {
        self.id = id
        self.name = name
        self.numLoops = numLoops
    }
}

/// One target of one escalation rule. `level` counts from 1, as PagerDuty's `escalation_level` does.
public struct EscalationTarget: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        case schedule
        case user
    }

    public var policyId: String
    public var level: Int
    public var ruleId: String
    public var delayMinutes: Int
    public var kind: Kind
    public var targetId: String

    public init(policyId: String, level: Int, ruleId: String, delayMinutes: Int, kind: Kind, targetId: String) {
        self.policyId = policyId
        self.level = level
        self.ruleId = ruleId
        self.delayMinutes = delayMinutes
        self.kind = kind
        self.targetId = targetId
    }
}

/// An entry of PagerDuty's `/oncalls` for the window. `start` and `end` are nil for someone on call
/// permanently at that level (a direct user target); `scheduleId` is nil in that case too.
public struct OnCall: Sendable, Hashable, Codable {
    public var policyId: String
    public var level: Int
    public var scheduleId: String?
    public var userId: String
    public var start: Date?
    public var end: Date?

    public init(policyId: String, level: Int, scheduleId: String?, userId: String, start: Date?, end: Date?) {
        self.policyId = policyId
        self.level = level
        self.scheduleId = scheduleId
        self.userId = userId
        self.start = start
        self.end = end
    }
}

/// How a sync read a snapshot.
public enum SnapshotRead: String, Sendable, Hashable, Codable {
    /// Every list and every schedule's detail for the whole window.
    case full
    /// The lists and `/oncalls` near now, on top of the previous snapshot; see `Syncer`.
    case refresh
}

/// What a sync saw and spent, written with the snapshot.
public struct SnapshotInfo: Sendable, Hashable, Codable {
    public var id: Int64
    public var startedAt: Date
    public var finishedAt: Date
    public var windowStart: Date
    public var windowEnd: Date
    public var userCount: Int
    public var scheduleCount: Int
    /// Of `scheduleCount`, how many are shift-based (v3).
    public var shiftBasedScheduleCount: Int
    public var shiftCount: Int
    public var policyCount: Int
    public var onCallCount: Int
    public var apiRequests: Int
    public var rateLimited: Int
    public var read: SnapshotRead

    public init(
        id: Int64 = 0, startedAt: Date, finishedAt: Date, windowStart: Date, windowEnd: Date,
        userCount: Int = 0, scheduleCount: Int = 0, shiftBasedScheduleCount: Int = 0, shiftCount: Int = 0, policyCount: Int = 0,
        onCallCount: Int = 0, apiRequests: Int = 0, rateLimited: Int = 0, read: SnapshotRead = .full
    ) {
        self.read = read
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.userCount = userCount
        self.scheduleCount = scheduleCount
        self.shiftBasedScheduleCount = shiftBasedScheduleCount
        self.shiftCount = shiftCount
        self.policyCount = policyCount
        self.onCallCount = onCallCount
        self.apiRequests = apiRequests
        self.rateLimited = rateLimited
    }
}

/// One complete snapshot: everything a sync fetched for its window.
public struct SnapshotContents: Sendable, Hashable, Codable {
    public var info: SnapshotInfo
    public var users: [User]
    public var schedules: [Schedule]
    public var members: [ScheduleMember]
    public var shifts: [Shift]
    public var overrides: [Override]
    public var policies: [EscalationPolicy]
    public var targets: [EscalationTarget]
    public var onCalls: [OnCall]

    public init(
        info: SnapshotInfo, users: [User] = [], schedules: [Schedule] = [], members: [ScheduleMember] = [],
        shifts: [Shift] = [], overrides: [Override] = [], policies: [EscalationPolicy] = [],
        targets: [EscalationTarget] = [], onCalls: [OnCall] = []
    ) {
        self.info = info
        self.users = users
        self.schedules = schedules
        self.members = members
        self.shifts = shifts
        self.overrides = overrides
        self.policies = policies
        self.targets = targets
        self.onCalls = onCalls
    }
}

/// The one-row sync state: which snapshot is current and how the last attempts went.
public struct SyncState: Sendable, Hashable, Codable {
    public var currentSnapshotId: Int64?
    public var lastSuccessAt: Date?
    public var lastAttemptAt: Date?
    public var lastFailureAt: Date?
    public var lastFailureReason: String?

    public init(
        currentSnapshotId: Int64? = nil, lastSuccessAt: Date? = nil, lastAttemptAt: Date? = nil,
        lastFailureAt: Date? = nil, lastFailureReason: String? = nil
    ) {
        self.currentSnapshotId = currentSnapshotId
        self.lastSuccessAt = lastSuccessAt
        self.lastAttemptAt = lastAttemptAt
        self.lastFailureAt = lastFailureAt
        self.lastFailureReason = lastFailureReason
    }
}

/// One approval decision, as the audit log keeps it.
public struct DecisionRecord: Sendable, Hashable, Codable {
    public var id: Int64?
    public var decidedAt: Date
    public var requestId: String
    public var requester: String
    public var resources: String
    public var outcome: String
    public var reason: String
    public var snapshotId: Int64?
    public var scheduleId: String?
    public var grantedSeconds: Int?

    public init(
        id: Int64? = nil, decidedAt: Date, requestId: String, requester: String, resources: String,
        outcome: String, reason: String, snapshotId: Int64?, scheduleId: String?, grantedSeconds: Int?
    ) {
        self.id = id
        self.decidedAt = decidedAt
        self.requestId = requestId
        self.requester = requester
        self.resources = resources
        self.outcome = outcome
        self.reason = reason
        self.snapshotId = snapshotId
        self.scheduleId = scheduleId
        self.grantedSeconds = grantedSeconds
    }
}

extension String {
    /// The form emails are compared in: ASCII letters folded to lower case and nothing else.
    /// `lowercased()` applies Unicode case mapping, which turns look-alikes such as U+212A KELVIN SIGN
    /// into ASCII "k", so another mailbox would match an on-call user's address.
    public var emailMatchKey: String {
        String(decoding: utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}

extension Date {
    /// Whole Unix seconds, as the cache stores times (PagerDuty's times are whole seconds).
    public var unixSeconds: Int64 { Int64(timeIntervalSince1970.rounded(.down)) }

    public init(unixSeconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixSeconds))
    }
}
