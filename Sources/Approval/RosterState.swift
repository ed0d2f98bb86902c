import Foundation

/// What a decision may use now: the current snapshot's index, or why there is none. Every refusal
/// for lack of a usable roster is built from `Unavailable`, so its wording lives here only.
public enum RosterState: Sendable {
    case ready(OnCallIndex)
    case unavailable(Unavailable)

    /// The index, when decisions may be made.
    public var index: OnCallIndex? {
        if case .ready(let index) = self { return index }
        return nil
    }
}

/// Why nothing may be approved (fail closed).
public enum Unavailable: Sendable, Equatable {
    /// No sync has completed.
    case noSnapshot
    /// The newest snapshot is older than the staleness limit.
    case stale(age: TimeInterval, limit: TimeInterval)
    /// An approval's audit record cannot be made durable (neither the cache nor a spool can be
    /// written), or the refusals' queue is full: an approval nobody could find later is worse than
    /// a refusal.
    case auditUnavailable

    /// One line for people: the refusal's reason, `/readyz` and `/v1/oncall` say it the same way.
    public var reason: String {
        switch self {
        case .noSnapshot: "no complete snapshot in the cache"
        case .stale(let age, let limit): "the cache is stale: \(Int(age))s old, over the \(Int(limit))s limit"
        case .auditUnavailable: "the audit log cannot be written (neither the cache nor a spool takes records, or its queue is full); approvals resume when it can"
        }
    }

    public var outcome: Decision.Outcome {
        switch self {
        case .noSnapshot: .noSnapshot
        case .stale: .staleCache
        case .auditUnavailable: .auditUnavailable
        }
    }
}
