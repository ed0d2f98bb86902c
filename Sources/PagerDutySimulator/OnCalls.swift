import Foundation

/// One `/oncalls` entry: who is on call for a policy at a level, through a schedule (with the
/// final-schedule entry's real start and end) or directly (schedule, start and end nil: always).
public struct SimulatedOnCall: Sendable, Hashable {
    public var policyId: String
    /// 1 for the policy's first rule.
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

/// What `/oncalls` is asked for.
public struct SimulatedOnCallQuery: Sendable, Hashable {
    /// The window; `since == until` asks for that instant (PagerDuty's default: now).
    public var since: Date
    public var until: Date
    public var earliest: Bool
    /// Empty: no filter.
    public var scheduleIds: Set<String>
    public var userIds: Set<String>
    public var escalationPolicyIds: Set<String>

    public init(
        since: Date, until: Date, earliest: Bool = false, scheduleIds: Set<String> = [], userIds: Set<String> = [],
        escalationPolicyIds: Set<String> = []
    ) {
        self.since = since
        self.until = until
        self.earliest = earliest
        self.scheduleIds = scheduleIds
        self.userIds = userIds
        self.escalationPolicyIds = escalationPolicyIds
    }
}

extension SimulatedAccount {
    /// The on-call entries `/oncalls` answers with, before pagination: for each escalation policy,
    /// each rule (level = position + 1) and each target, one entry per final-schedule entry that
    /// overlaps the window (real start and end kept), or one permanent entry for a user target.
    /// A shift-based schedule gives one entry per person and stretch, so several at once where its
    /// rotations and custom shifts overlap (API-v3.md §8: UNVERIFIED, but PagerDuty's `/oncalls` is
    /// one entry per user and level).
    /// Ordered by policy id, level, start (permanent first), user id, schedule id.
    public func onCalls(_ query: SimulatedOnCallQuery) -> [SimulatedOnCall] {
        AccountIndex(self).computeOnCalls(query)
    }
}

extension AccountIndex {
    /// `computeOnCalls`, remembered per query.
    func onCalls(_ query: SimulatedOnCallQuery) -> [SimulatedOnCall] {
        if let cached = onCallCache.withLock({ $0[query] }) {
            return cached
        }
        let onCalls = computeOnCalls(query)
        onCallCache.withLock { cache in
            if cache.count >= Self.onCallCacheSize { cache.removeAll() }
            cache[query] = onCalls
        }
        return onCalls
    }

    func computeOnCalls(_ query: SimulatedOnCallQuery) -> [SimulatedOnCall] {
        var finals: [String: [SimulatedEntry]] = [:]
        func finalSchedule(_ id: String) -> [SimulatedEntry] {
            if let cached = finals[id] { return cached }
            let entries = schedulesById[id]?.onCallEntries(since: query.since, until: query.until, overflow: true) ?? []
            finals[id] = entries
            return entries
        }

        var result: [SimulatedOnCall] = []
        for policy in escalationPolicies {
            if !query.escalationPolicyIds.isEmpty, !query.escalationPolicyIds.contains(policy.id) { continue }
            for (position, rule) in policy.rules.enumerated() {
                for target in rule.targets {
                    switch target.type {
                    case .user:
                        guard query.scheduleIds.isEmpty else { continue }
                        result.append(SimulatedOnCall(policyId: policy.id, level: position + 1, scheduleId: nil, userId: target.id, start: nil, end: nil))
                    case .schedule:
                        if !query.scheduleIds.isEmpty, !query.scheduleIds.contains(target.id) { continue }
                        for entry in finalSchedule(target.id) {
                            result.append(SimulatedOnCall(
                                policyId: policy.id, level: position + 1, scheduleId: target.id, userId: entry.userId,
                                start: entry.start, end: entry.end
                            ))
                        }
                    }
                }
            }
        }
        if !query.userIds.isEmpty {
            result.removeAll { !query.userIds.contains($0.userId) }
        }
        result.sort(by: Self.onCallOrder)
        if query.earliest {
            // Sorted with the earliest start first within a policy and level, so the first entry
            // seen for a user there is the one to keep.
            var seen = Set<[String]>()
            result = result.filter { seen.insert([$0.policyId, String($0.level), $0.userId]).inserted }
        }
        return result
    }

    static func onCallOrder(_ left: SimulatedOnCall, _ right: SimulatedOnCall) -> Bool {
        if left.policyId != right.policyId { return left.policyId < right.policyId }
        if left.level != right.level { return left.level < right.level }
        if left.start != right.start {
            guard let leftStart = left.start else { return true }
            guard let rightStart = right.start else { return false }
            return leftStart < rightStart
        }
        if left.userId != right.userId { return left.userId < right.userId }
        return (left.scheduleId ?? "") < (right.scheduleId ?? "")
    }
}
