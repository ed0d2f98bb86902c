import Foundation
import OnCallStore

/// The answer for one access request.
public struct Decision: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        case approved
        /// No shift around now in any schedule the deciding rule could allow.
        case notOnCall = "not_on_call"
        /// On call around now, but only in schedules the deciding rule (or the allow-list) does not
        /// list.
        case outsideRuleSchedules = "outside_rule_schedules"
        /// On call around now in a schedule the rule lists, but one no escalation policy reaches at
        /// the rule's `max_escalation_level` (or AUTO_APPROVAL_MAX_ESCALATION_LEVEL) or lower.
        case escalationLevelTooHigh = "escalation_level_too_high"
        /// On call, but the request asked for less than a second.
        case durationTooShort = "duration_too_short"
        case shiftEnded = "shift_ended"
        case unknownUser = "unknown_user"
        case noEmail = "no_email"
        case staleCache = "stale_cache"
        case noSnapshot = "no_snapshot"
        case auditUnavailable = "audit_unavailable"
        /// A requested resource that no rule of the rules file matches.
        case noRule = "no_rule"
        /// A requested resource whose rule says `approve: never`.
        case ruleNever = "rule_never"
        /// The request asks for a duration that is zero, negative or unreadable (`RequestedDuration`).
        case invalidDuration = "invalid_duration"
    }

    public var outcome: Outcome
    public var reason: String
    public var user: User?
    public var scheduleIds: [String] = []
    public var scheduleNames: [String] = []
    public var stretchEnd: Date?
    public var grantedSeconds: Int?
    /// The rules that decided, by name (empty without a rules file, and for refusals made before
    /// any rule was looked at).
    public var rules: [String] = []
    /// For `outside_rule_schedules` and `escalation_level_too_high`: where the requester is on call
    /// instead, and what the rule allowed.
    public var elsewhere: OnCallElsewhere?
    /// For a refusal of someone known but not on call in an allowed schedule: their next shift that
    /// an allowed schedule holds, when the snapshot has one.
    public var nextShift: UpcomingShift?

    public var isApproved: Bool { outcome == .approved }

    // MARK: The outcomes

    static let noEmail = Decision(outcome: .noEmail, reason: "the request's actor has no email")

    static func unknownUser(email: String) -> Decision {
        Decision(outcome: .unknownUser, reason: "no PagerDuty user has the email \(email)")
    }

    static func notOnCall(_ user: User, rule: ApprovalRule?) -> Decision {
        guard let rule else {
            return Decision(outcome: .notOnCall, reason: "\(user.name) has no shift in an allowed schedule around now", user: user)
        }
        return Decision(outcome: .notOnCall, reason: "\(user.name) has no shift around now in a schedule rule \(rule.name) allows",
                        user: user, rules: [rule.name])
    }

    public static func invalidDuration(_ invalid: RequestedDuration.Invalid) -> Decision {
        Decision(outcome: .invalidDuration, reason: invalid.description)
    }

    /// On call, but not where (or not at the level) the rule allows: `rule` is nil for the rules file's
    /// approving rules together (a lookup without resources).
    static func onCallElsewhere(_ user: User, _ elsewhere: OnCallElsewhere, rule: ApprovalRule?, implicit: Bool) -> Decision {
        let reason: String
        let outcome: Outcome
        if let maxLevel = elsewhere.maxLevel {
            outcome = .escalationLevelTooHigh
            let limit = implicit ? "AUTO_APPROVAL_MAX_ESCALATION_LEVEL is \(maxLevel)" : "rule \(elsewhere.ruleName ?? "") allows \(maxLevel)"
            reason = elsewhere.level.map { "\(user.name) is on call in \(elsewhere.scheduleName), but at escalation level \($0) (\(limit))" }
                ?? "\(user.name) is on call in \(elsewhere.scheduleName), but no escalation policy reaches it (\(limit))"
        } else {
            outcome = .outsideRuleSchedules
            let who = implicit ? "AUTO_APPROVAL_PAGERDUTY_SCHEDULES does not list"
                : rule.map { "rule \($0.name) does not allow" } ?? "no approving rule allows"
            reason = "\(user.name) is on call in \(elsewhere.scheduleName), which \(who)"
        }
        return Decision(outcome: outcome, reason: reason, user: user, rules: implicit ? [] : rule.map { [$0.name] } ?? [], elsewhere: elsewhere)
    }

    static func noRule(_ resource: ResourceRef?, user: User?) -> Decision {
        guard let resource else {
            return Decision(outcome: .noRule, reason: "the request names no resource, so no rule approves it", user: user)
        }
        return Decision(outcome: .noRule, reason: "no rule matches the resource \(resource.display)", user: user)
    }

    static func never(_ rule: ApprovalRule, _ resource: ResourceRef, user: User?) -> Decision {
        Decision(outcome: .ruleNever, reason: "rule \(rule.name) never approves \(resource.display)", user: user, rules: [rule.name])
    }

    /// " (rule a)" / " (rules a, b)" after a reason, or nothing without a rules file.
    static func naming(_ rules: [String]) -> String {
        switch rules.count {
        case 0: ""
        case 1: " (rule \(rules[0]))"
        default: " (rules \(rules.joined(separator: ", ")))"
        }
    }

    /// On call by the window, but the stretch is over: nothing left to grant.
    static func shiftEnded(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String], rules: [String]) -> Decision {
        Decision(outcome: .shiftEnded,
                 reason: "\(user.name)'s on-call stretch in \(names.joined(separator: ", ")) ended at \(IndentTime.format(stretch.end)); nothing left to grant\(naming(rules))",
                 user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, rules: rules)
    }

    /// On call, but asking for less than a second.
    static func tooShort(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String], rules: [String]) -> Decision {
        Decision(outcome: .durationTooShort, reason: "the requested duration is under a second", user: user,
                 scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, rules: rules)
    }

    static func approved(_ user: User, _ stretch: OnCallIndex.Stretch, names: [String], seconds: Int, rules: [String]) -> Decision {
        Decision(outcome: .approved,
                 reason: "Auto-approved based on being on-call in \(names.joined(separator: ", ")) until \(IndentTime.format(stretch.end))\(naming(rules))",
                 user: user, scheduleIds: stretch.scheduleIds, scheduleNames: names, stretchEnd: stretch.end, grantedSeconds: seconds, rules: rules)
    }

    /// Fail closed: no roster may be used, so nothing is approved.
    public static func refused(_ unavailable: Unavailable) -> Decision {
        Decision(outcome: unavailable.outcome, reason: "\(unavailable.reason); approving nothing")
    }
}

/// The decision rules, pure: same roster state, email, resources, request and time give the same
/// answer. Each resource takes the first rule that matches it; the requester is approved only if
/// every resource's rule approves them, for the shortest of the rules' limits, the requested
/// duration and their on-call stretch. Without a rules file one implicit rule matches everything.
public enum Decider {
    /// - Parameters:
    ///   - resources: what is asked for; ignored by the implicit rule of the AUTO_APPROVAL_* variables.
    ///     Nil asks "is this person on call in any schedule the rules look at?" (`/v1/oncall`).
    ///   - requestedDuration: the request's own duration, read by `RequestedDuration` (`.infinity` for
    ///     Indent's indefinite `-1ns`; a value not above zero asks for no limit either), if it asks for one.
    ///   - now: T, the server's clock.
    public static func decide(email: String?, resources: [ResourceRef]? = nil, requestedDuration: TimeInterval?, now: Date,
                              roster: RosterState) -> Decision {
        switch roster {
        case .unavailable(let unavailable): .refused(unavailable)
        case .ready(let index): decide(email: email, resources: resources, requestedDuration: requestedDuration, now: now, index: index)
        }
    }

    public static func decide(email: String?, resources: [ResourceRef]? = nil, requestedDuration: TimeInterval?, now: Date,
                              index: OnCallIndex) -> Decision {
        guard let email, !email.isEmpty else { return .noEmail }
        let rules = index.rules
        // The variables' single rule: no resource to match, so no list of deciding rules to build.
        if rules.isImplicit {
            guard let user = index.user(email: email) else { return .unknownUser(email: email) }
            guard let stretch = index.stretch(userId: user.id, overlapping: now.addingTimeInterval(-rules.windowBefore),
                                              now.addingTimeInterval(rules.windowAfter), rule: 0) else {
                return notOnCall(user, now: now, index: index, rule: 0)
            }
            return grant(user, stretch, limit: rules.rules[0].maxDuration, requestedDuration: requestedDuration, now: now, index: index, rules: [])
        }
        let user = index.user(email: email)
        // The rules that apply, by position, each once, in the order of the resources.
        var deciding: [Int] = []
        if let resources {
            guard !resources.isEmpty else { return .noRule(nil, user: user) }
            for resource in resources {
                guard let position = rules.ruleIndex(for: resource) else { return .noRule(resource, user: user) }
                let rule = rules.rules[position]
                guard rule.approves else { return .never(rule, resource, user: user) }
                if !deciding.contains(position) { deciding.append(position) }
            }
        }
        guard let user else { return .unknownUser(email: email) }
        let from = now.addingTimeInterval(-rules.windowBefore)
        let to = now.addingTimeInterval(rules.windowAfter)
        let named = deciding.map { rules.rules[$0].name }

        // `/v1/oncall` with a rules file: on call in any schedule an approving rule allows, for as
        // long as the longest approving rule grants.
        guard !deciding.isEmpty else {
            guard let stretch = index.stretch(userId: user.id, overlapping: from, to) else { return notOnCall(user, now: now, index: index, rule: nil) }
            return grant(user, stretch, limit: rules.longestDuration, requestedDuration: requestedDuration, now: now, index: index, rules: [])
        }
        // The stretch that ends first bounds the grant: it is the one the reason names.
        var shortest: OnCallIndex.Stretch?
        var limit = TimeInterval.infinity
        for position in deciding {
            let rule = rules.rules[position]
            guard let stretch = index.stretch(userId: user.id, overlapping: from, to, rule: position) else {
                return notOnCall(user, now: now, index: index, rule: position)
            }
            limit = min(limit, rule.maxDuration)
            if shortest == nil || stretch.end < shortest!.end { shortest = stretch }
        }
        return grant(user, shortest!, limit: limit, requestedDuration: requestedDuration, now: now, index: index, rules: named)
    }

    /// No stretch in the schedules of the rule at `rule` (nil: of every approving rule): say whether
    /// the user is on call elsewhere (outside the rule's schedules, or above its escalation level) or
    /// not at all, and when their next allowed shift starts.
    static func notOnCall(_ user: User, now: Date, index: OnCallIndex, rule position: Int?) -> Decision {
        let rules = index.rules
        let from = now.addingTimeInterval(-rules.windowBefore)
        let to = now.addingTimeInterval(rules.windowAfter)
        let rule = position.map { rules.rules[$0] }
        var decision = index.onCallElsewhere(userId: user.id, overlapping: from, to, rule: position)
            .map { Decision.onCallElsewhere(user, $0, rule: rule, implicit: rules.isImplicit) }
            ?? .notOnCall(user, rule: rules.isImplicit ? nil : rule)
        decision.nextShift = index.nextShift(userId: user.id, from: to, rule: position)
        return decision
    }

    static func grant(_ user: User, _ stretch: OnCallIndex.Stretch, limit: TimeInterval, requestedDuration: TimeInterval?, now: Date,
                      index: OnCallIndex, rules: [String]) -> Decision {
        let names = stretch.scheduleIds.map { index.schedule(id: $0)?.name ?? $0 }
        let left = stretch.end.timeIntervalSince(now)
        guard left >= 1 else { return .shiftEnded(user, stretch, names: names, rules: rules) }
        var granted = min(limit, left)
        if let requestedDuration, requestedDuration > 0 { granted = min(granted, requestedDuration) }
        let seconds = Int(granted.rounded(.down))
        guard seconds >= 1 else { return .tooShort(user, stretch, names: names, rules: rules) }
        return .approved(user, stretch, names: names, seconds: seconds, rules: rules)
    }
}
