import Foundation
import OnCallStore

/// One snapshot, indexed for the decision under one rule set: users by email (ASCII case folded),
/// each user's shifts sorted by start, and for each rule the schedules it allows. Built once per
/// snapshot (and again, cheaply, when the rules are reloaded); a lookup is a dictionary hit and a
/// short scan, so a decision takes microseconds.
public struct OnCallIndex: Sendable {
    public let snapshot: SnapshotInfo
    /// The rules decisions follow, with the window and duration defaults of the AUTO_APPROVAL_*
    /// variables.
    public let rules: RuleSet
    let usersByEmail: [String: User]
    let usersById: [String: User]
    /// Each user's shifts in schedules some approving rule allows, sorted by start.
    let shiftsByUser: [String: [Shift]]
    /// Each user's other shifts, sorted by start: only read to explain a refusal ("on call, but in a
    /// schedule the rule does not allow").
    let unallowedShiftsByUser: [String: [Shift]]
    /// Every schedule's shifts (allowed or not), sorted by start: who is on call there, as a set.
    let shiftsBySchedule: [String: [Shift]]
    let schedulesById: [String: Schedule]
    /// The lowest escalation level at which some policy reaches each schedule.
    let lowestLevelBySchedule: [String: Int]
    /// For each rule (by position), the schedules it allows; nil when that is every schedule the
    /// user's shifts may be in (no filtering needed).
    let allowedByRule: [Set<String>?]
    /// For each rule (by position), the schedules its `schedules` list names before the escalation
    /// level is applied; nil when it lists none (every schedule).
    let listedByRule: [Set<String>?]
    /// Schedule entries of the rules (or AUTO_APPROVAL_PAGERDUTY_SCHEDULES) that matched no schedule of
    /// the snapshot (worth a warning at load), with the rule and the entry's place in the rules file.
    public let unmatchedRuleSchedules: [(rule: String, entry: String, location: SourceLocation?)]
    /// The entries alone.
    public var unmatchedAllowList: [String] { unmatchedRuleSchedules.map(\.entry) }
    /// Schedules any approving rule allows.
    public let allowedScheduleIds: Set<String>

    /// The AUTO_APPROVAL_* variables as one rule.
    public init(_ contents: SnapshotContents, policy: ApprovalPolicy) {
        self.init(contents, rules: RuleSet(policy: policy))
    }

    public init(_ contents: SnapshotContents, rules: RuleSet) {
        snapshot = contents.info
        self.rules = rules
        var users: [String: User] = [:]
        var byId: [String: User] = [:]
        for user in contents.users {
            users[user.email.emailMatchKey] = user
            byId[user.id] = user
        }
        usersByEmail = users
        usersById = byId
        var schedules: [String: Schedule] = [:]
        for schedule in contents.schedules { schedules[schedule.id] = schedule }
        schedulesById = schedules
        var levels: [String: Int] = [:]
        for target in contents.targets where target.kind == .schedule {
            levels[target.targetId] = min(levels[target.targetId] ?? .max, target.level)
        }
        lowestLevelBySchedule = levels

        let everySchedule = Set(contents.schedules.map(\.id))
        var perRule: [Set<String>] = []
        var listedPerRule: [Set<String>?] = []
        var unmatchedLocated: [(rule: String, entry: String, location: SourceLocation?)] = []
        for rule in rules.rules {
            var allowed = everySchedule
            if !rule.schedules.isEmpty {
                var listed = Set<String>()
                for (position, entry) in rule.schedules.enumerated() {
                    let matches = contents.schedules.filter { $0.id == entry || $0.name == entry }.map(\.id)
                    if matches.isEmpty {
                        unmatchedLocated.append((rule.name, entry, position < rule.scheduleLocations.count ? rule.scheduleLocations[position] : nil))
                    }
                    listed.formUnion(matches)
                }
                allowed = listed
            }
            listedPerRule.append(rule.schedules.isEmpty ? nil : allowed)
            if let maxLevel = rule.maxEscalationLevel {
                allowed = allowed.filter { (levels[$0] ?? .max) <= maxLevel }
            }
            perRule.append(rule.approves ? allowed : [])
        }
        let union = perRule.reduce(into: Set<String>()) { $0.formUnion($1) }
        allowedScheduleIds = union
        allowedByRule = perRule.map { $0 == union ? nil : $0 }
        listedByRule = listedPerRule
        unmatchedRuleSchedules = unmatchedLocated

        var byUser: [String: [Shift]] = [:]
        var unallowedByUser: [String: [Shift]] = [:]
        var bySchedule: [String: [Shift]] = [:]
        for shift in contents.shifts {
            bySchedule[shift.scheduleId, default: []].append(shift)
            if union.contains(shift.scheduleId) {
                byUser[shift.userId, default: []].append(shift)
            } else {
                unallowedByUser[shift.userId, default: []].append(shift)
            }
        }
        for key in byUser.keys { byUser[key]!.sort { $0.start < $1.start } }
        for key in unallowedByUser.keys { unallowedByUser[key]!.sort { $0.start < $1.start } }
        unallowedShiftsByUser = unallowedByUser
        for key in bySchedule.keys { bySchedule[key]!.sort { $0.start < $1.start } }
        shiftsByUser = byUser
        shiftsBySchedule = bySchedule
    }

    public func user(email: String) -> User? {
        usersByEmail[email.emailMatchKey]
    }

    public func schedule(id: String) -> Schedule? {
        schedulesById[id]
    }

    /// The schedule with this id, or else the one with this name (case-sensitive, as the allow-list
    /// matches names). Nil when none, or when several schedules share the name.
    public func schedule(idOrName: String) -> Schedule? {
        if let schedule = schedulesById[idOrName] { return schedule }
        let named = schedulesById.values.filter { $0.name == idOrName }
        return named.count == 1 ? named[0] : nil
    }

    /// The schedules any approving rule allows whose roster at `instant` the snapshot does not
    /// confirm (a refresh carried it from an earlier read; `Schedule.confirmedSince`), by id: a
    /// decision at that instant must not rest on them.
    public func unconfirmedAllowedSchedules(at instant: Date) -> [Schedule] {
        allowedScheduleIds.compactMap { schedulesById[$0] }.filter { !$0.isConfirmed(at: instant) }.sorted { $0.id < $1.id }
    }

    /// The user with this PagerDuty id, or nil when the snapshot's user list lacks it.
    public func user(id: String) -> User? {
        usersById[id]
    }

    /// The ids of the schedules a rules-file entry names: its id, or every schedule with that name
    /// (as rules match them). Sorted; empty when the snapshot has none.
    public func scheduleIds(matching entry: String) -> [String] {
        if schedulesById[entry] != nil { return [entry] }
        return schedulesById.values.filter { $0.name == entry }.map(\.id).sorted()
    }

    /// The lowest escalation level at which some policy reaches the schedule; nil when none does.
    public func lowestEscalationLevel(scheduleId: String) -> Int? {
        lowestLevelBySchedule[scheduleId]
    }

    /// The schedule's shifts (overrides folded in, as the cache holds them), sorted by start.
    public func shifts(scheduleId: String) -> [Shift] {
        shiftsBySchedule[scheduleId] ?? []
    }

    /// Everyone on call in a schedule at `instant`: a set, since a shift-based schedule can have
    /// several people on call at once. Each comes with the end of their own continuous stretch in
    /// that schedule. Sorted by name, then id.
    public func onCall(scheduleId: String, at instant: Date) -> [OnCallPerson] {
        guard let shifts = shiftsBySchedule[scheduleId] else { return [] }
        var stretchEnds: [String: Date] = [:]
        for shift in shifts where shift.start <= instant && instant < shift.end {
            stretchEnds[shift.userId] = max(stretchEnds[shift.userId] ?? shift.end, shift.end)
        }
        // Back-to-back or overlapping shifts of the same person in this schedule extend the stretch.
        for shift in shifts where stretchEnds[shift.userId] != nil {
            if let end = stretchEnds[shift.userId], shift.start <= end, shift.end > end { stretchEnds[shift.userId] = shift.end }
        }
        return stretchEnds.map { userId, end in
            OnCallPerson(userId: userId, user: usersById[userId], until: end)
        }.sorted { ($0.user?.name ?? $0.userId, $0.userId) < ($1.user?.name ?? $1.userId, $1.userId) }
    }

    public struct OnCallPerson: Sendable, Equatable {
        public var userId: String
        /// Nil for an id the snapshot's user list lacks.
        public var user: User?
        public var until: Date
    }

    /// The user's continuous on-call stretch that overlaps [from, to): back-to-back or overlapping
    /// shifts in allowed schedules count as one. Nil when no allowed shift overlaps. `rule` narrows
    /// the allowed schedules to that rule's (by position in `rules`).
    public func stretch(userId: String, overlapping from: Date, _ to: Date, rule: Int? = nil) -> Stretch? {
        guard let shifts = shiftsByUser[userId] else { return nil }
        // Shifts in schedules the rule does not allow are skipped in place (no filtered copy).
        let allowed = rule.flatMap { allowedByRule[$0] }
        guard let first = shifts.firstIndex(where: { $0.end > from && $0.start < to && allowed?.contains($0.scheduleId) != false }) else { return nil }
        var end = shifts[first].end
        var scheduleIds = [shifts[first].scheduleId]
        var index = first + 1
        while index < shifts.count, shifts[index].start <= end {
            if allowed?.contains(shifts[index].scheduleId) != false {
                if shifts[index].end > end { end = shifts[index].end }
                // A shift already over at `from` (it started with the stretch, sorted after the first
                // by its schedule) adds no time and is not a reason to approve: its schedule is not named.
                if shifts[index].end > from, !scheduleIds.contains(shifts[index].scheduleId) { scheduleIds.append(shifts[index].scheduleId) }
            }
            index += 1
        }
        return Stretch(start: shifts[first].start, end: end, scheduleIds: scheduleIds)
    }

    /// Whether the schedule is one the rule at `rule` allows (nil: any approving rule).
    func allows(_ scheduleId: String, rule: Int?) -> Bool {
        guard let rule, let allowed = allowedByRule[rule] else { return allowedScheduleIds.contains(scheduleId) }
        return allowed.contains(scheduleId)
    }

    /// For someone with no stretch in the allowed schedules of the rule at `rule` (nil: of every
    /// approving rule): a shift overlapping [from, to) in another schedule. One the rule lists but
    /// reaches above its escalation level comes first (the nearer miss), with that level and the
    /// rule's limit; else one the rule does not list. Nil when they have no shift there at all.
    public func onCallElsewhere(userId: String, overlapping from: Date, _ to: Date, rule: Int?) -> OnCallElsewhere? {
        let positions = rule.map { [$0] } ?? rules.rules.indices.filter { rules.rules[$0].approves }
        var outside: Shift?
        for shifts in [shiftsByUser[userId] ?? [], unallowedShiftsByUser[userId] ?? []] {
            for shift in shifts {
                if shift.start >= to { break }
                guard shift.end > from, !allows(shift.scheduleId, rule: rule) else { continue }
                let level = lowestLevelBySchedule[shift.scheduleId]
                for position in positions {
                    let candidate = rules.rules[position]
                    guard let maxLevel = candidate.maxEscalationLevel, (level ?? .max) > maxLevel,
                          listedByRule[position]?.contains(shift.scheduleId) != false else { continue }
                    return OnCallElsewhere(scheduleId: shift.scheduleId, scheduleName: schedulesById[shift.scheduleId]?.name ?? shift.scheduleId,
                                           level: level, maxLevel: maxLevel, ruleName: candidate.name)
                }
                if outside == nil { outside = shift }
            }
        }
        return outside.map {
            OnCallElsewhere(scheduleId: $0.scheduleId, scheduleName: schedulesById[$0.scheduleId]?.name ?? $0.scheduleId, level: nil, maxLevel: nil,
                            ruleName: rule.map { rules.rules[$0].name })
        }
    }

    /// The user's first shift starting at `from` or later in a schedule the rule at `rule` (nil: any
    /// approving rule) allows; nil when the snapshot has none.
    public func nextShift(userId: String, from: Date, rule: Int?) -> UpcomingShift? {
        guard let shifts = shiftsByUser[userId],
              let shift = shifts.first(where: { $0.start >= from && allows($0.scheduleId, rule: rule) }) else { return nil }
        return UpcomingShift(start: shift.start, scheduleId: shift.scheduleId, scheduleName: schedulesById[shift.scheduleId]?.name ?? shift.scheduleId)
    }

    /// Whether [from, to) lies within the snapshot's window: outside it the cache holds no shifts,
    /// so no answer about that time can be given from it.
    public func covers(_ from: Date, _ to: Date) -> Bool {
        snapshot.windowStart <= from && to <= snapshot.windowEnd
    }

    public struct Stretch: Sendable, Equatable {
        public var start: Date
        public var end: Date
        /// Schedules of the shifts that make up the stretch, in order.
        public var scheduleIds: [String]
    }
}

/// Where someone refused is on call instead: a schedule the deciding rule does not list
/// (`maxLevel` nil), or one it lists that no escalation policy reaches at its limit or lower
/// (`level`: the lowest that reaches it, nil for none).
public struct OnCallElsewhere: Sendable, Equatable {
    public var scheduleId: String
    public var scheduleName: String
    public var level: Int?
    public var maxLevel: Int?
    /// The rule whose limit or list refused (nil: every approving rule's list).
    public var ruleName: String?
}

/// A shift ahead, in a schedule the rule allows.
public struct UpcomingShift: Sendable, Equatable {
    public var start: Date
    public var scheduleId: String
    public var scheduleName: String
}
