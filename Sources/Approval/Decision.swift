import Foundation
import OnCallStore

/// The answer for one access request.
public struct Decision: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case approved
        case notOnCall = "not_on_call"
        case shiftEnded = "shift_ended"
        case unknownUser = "unknown_user"
        case noEmail = "no_email"
        case staleCache = "stale_cache"
        case noSnapshot = "no_snapshot"
    }

    public var outcome: Outcome
    public var reason: String
    public var user: User?
    public var scheduleIds: [String]
    public var scheduleNames: [String]
    public var stretchEnd: Date?
    public var grantedSeconds: Int?

    public var isApproved: Bool { outcome == .approved }
}

/// The decision rules, pure: same index, email, request and time give the same answer.
public enum Decider {
    /// - Parameters:
    ///   - requestedDuration: the request's own `indent.com/time/duration`, if any (negative = indefinite).
    ///   - now: T, the server's clock.
    public static func decide(email: String?, requestedDuration: TimeInterval?, now: Date, index: OnCallIndex) -> Decision {
        guard let email, !email.isEmpty else {
            return Decision(outcome: .noEmail, reason: "the request's actor has no email", user: nil, scheduleIds: [], scheduleNames: [], stretchEnd: nil, grantedSeconds: nil)
        }
        guard let user = index.user(email: email) else {
            return Decision(outcome: .unknownUser, reason: "no PagerDuty user has the email \(email)", user: nil, scheduleIds: [], scheduleNames: [], stretchEnd: nil, grantedSeconds: nil)
        }
        let policy = index.policy
        guard let stretch = index.stretch(userId: user.id, overlapping: now.addingTimeInterval(-policy.windowBefore), now.addingTimeInterval(policy.windowAfter)) else {
            return Decision(outcome: .notOnCall, reason: "\(user.name) has no shift in an allowed schedule around now", user: user, scheduleIds: [], scheduleNames: [], stretchEnd: nil, grantedSeconds: nil)
        }
        let names = stretch.scheduleIds.map { index.schedule(id: $0)?.name ?? $0 }
        let left = stretch.end.timeIntervalSince(now)
        guard left >= 1 else {
            return Decision(outcome: .shiftEnded, reason: "\(user.name)'s on-call stretch in \(names.joined(separator: ", ")) ended at \(IndentTime.format(stretch.end)); nothing left to grant",
                            user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, grantedSeconds: nil)
        }
        var granted = min(policy.maxDuration, left)
        if let requestedDuration, requestedDuration > 0 { granted = min(granted, requestedDuration) }
        let seconds = Int(granted.rounded(.down))
        guard seconds >= 1 else {
            return Decision(outcome: .notOnCall, reason: "the requested duration is under a second", user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, grantedSeconds: nil)
        }
        let reason = "Auto-approved based on being on-call in \(names.joined(separator: ", ")) until \(IndentTime.format(stretch.end))"
        return Decision(outcome: .approved, reason: reason, user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, grantedSeconds: seconds)
    }
}
