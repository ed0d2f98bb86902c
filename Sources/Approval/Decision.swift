import Foundation
import OnCallStore

/// The answer for one access request.
public struct Decision: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case approved
        case notOnCall = "not_on_call"
        case shiftEnded = "shift_ended"
        case unknownUser = "unknown_user"
        case noEmail = "no_email"
        case staleCache = "stale_cache"
        case noSnapshot = "no_snapshot"
        case auditUnavailable = "audit_unavailable"
    }

    public var outcome: Outcome
    public var reason: String
    public var user: User?
    public var scheduleIds: [String] = []
    public var scheduleNames: [String] = []
    public var stretchEnd: Date?
    public var grantedSeconds: Int?

    public var isApproved: Bool { outcome == .approved }

    // MARK: The outcomes

    static let noEmail = Decision(outcome: .noEmail, reason: "the request's actor has no email")

    static func unknownUser(email: String) -> Decision {
        Decision(outcome: .unknownUser, reason: "no PagerDuty user has the email \(email)")
    }

    static func notOnCall(_ user: User) -> Decision {
        Decision(outcome: .notOnCall, reason: "\(user.name) has no shift in an allowed schedule around now", user: user)
    }

    /// On call by the window, but the stretch is over: nothing left to grant.
    static func shiftEnded(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String]) -> Decision {
        Decision(outcome: .shiftEnded,
                 reason: "\(user.name)'s on-call stretch in \(names.joined(separator: ", ")) ended at \(IndentTime.format(stretch.end)); nothing left to grant",
                 user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end)
    }

    /// On call, but asking for less than a second.
    static func tooShort(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String]) -> Decision {
        Decision(outcome: .notOnCall, reason: "the requested duration is under a second", user: user,
                 scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end)
    }

    static func approved(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String], seconds: Int) -> Decision {
        Decision(outcome: .approved,
                 reason: "Auto-approved based on being on-call in \(names.joined(separator: ", ")) until \(IndentTime.format(stretch.end))",
                 user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, grantedSeconds: seconds)
    }

    /// Fail closed: no roster may be used, so nothing is approved.
    public static func refused(_ unavailable: Unavailable) -> Decision {
        Decision(outcome: unavailable.outcome, reason: "\(unavailable.reason); approving nothing")
    }
}

/// The decision rules, pure: same roster state, email, request and time give the same answer.
public enum Decider {
    /// - Parameters:
    ///   - requestedDuration: the request's own `indent.com/time/duration`, if any (negative = indefinite).
    ///   - now: T, the server's clock.
    public static func decide(email: String?, requestedDuration: TimeInterval?, now: Date, roster: RosterState) -> Decision {
        switch roster {
        case .unavailable(let unavailable): .refused(unavailable)
        case .ready(let index): decide(email: email, requestedDuration: requestedDuration, now: now, index: index)
        }
    }

    public static func decide(email: String?, requestedDuration: TimeInterval?, now: Date, index: OnCallIndex) -> Decision {
        guard let email, !email.isEmpty else { return .noEmail }
        guard let user = index.user(email: email) else { return .unknownUser(email: email) }
        let policy = index.policy
        guard let stretch = index.stretch(userId: user.id, overlapping: now.addingTimeInterval(-policy.windowBefore), now.addingTimeInterval(policy.windowAfter)) else {
            return .notOnCall(user)
        }
        let names = stretch.scheduleIds.map { index.schedule(id: $0)?.name ?? $0 }
        let left = stretch.end.timeIntervalSince(now)
        guard left >= 1 else { return .shiftEnded(user, stretch, names: names) }
        var granted = min(policy.maxDuration, left)
        if let requestedDuration, requestedDuration > 0 { granted = min(granted, requestedDuration) }
        let seconds = Int(granted.rounded(.down))
        guard seconds >= 1 else { return .tooShort(user, stretch, names: names) }
        return .approved(user, stretch, names: names, seconds: seconds)
    }
}
