import Foundation
import OnCallStore

/// Snapshot drift: what changed in the on-call cache between two snapshots, and how to show it.
public enum Drift {
    /// Compares two snapshots. Pure: the result depends only on the arguments.
    ///
    /// Schedules and policies are matched by ID (a schedule upgraded in place to shift-based keeps its
    /// id, so it is one schedule with a `kindChange`). Time-dependent changes (on call, overrides, gaps) are
    /// compared inside the overlap of the two windows only. Runs in O(n log n) in the number of rows.
    public static func diff(from old: SnapshotContents, to new: SnapshotContents) -> DriftReport {
        let window = overlap(old.info, new.info)
        let oldIndex = SnapshotIndex(old)
        let newIndex = SnapshotIndex(new)

        var schedules: [DriftReport.ScheduleDrift] = []
        for schedule in old.schedules where newIndex.schedules[schedule.id] == nil {
            schedules.append(DriftReport.ScheduleDrift(id: schedule.id, name: schedule.name, timeZone: schedule.timeZone, kind: schedule.kind, status: .removed))
        }
        for schedule in new.schedules {
            guard let before = oldIndex.schedules[schedule.id] else {
                schedules.append(DriftReport.ScheduleDrift(id: schedule.id, name: schedule.name, timeZone: schedule.timeZone, kind: schedule.kind, status: .added))
                continue
            }
            let drift = compare(before, schedule, old: oldIndex, new: newIndex, window: window)
            if !drift.hasNoChanges { schedules.append(drift) }
        }

        var policies: [DriftReport.PolicyDrift] = []
        for policy in old.policies where newIndex.policies[policy.id] == nil {
            policies.append(DriftReport.PolicyDrift(id: policy.id, name: policy.name, status: .removed))
        }
        for policy in new.policies {
            guard let before = oldIndex.policies[policy.id] else {
                policies.append(DriftReport.PolicyDrift(id: policy.id, name: policy.name, status: .added))
                continue
            }
            let drift = compare(before, policy, old: oldIndex, new: newIndex)
            if !drift.hasNoChanges { policies.append(drift) }
        }

        return DriftReport(
            from: DriftReport.SnapshotSummary(old.info),
            to: DriftReport.SnapshotSummary(new.info),
            comparedWindow: window,
            schedules: schedules.sorted { byName(($0.name, $0.id), ($1.name, $1.id)) },
            escalationPolicies: policies.sorted { byName(($0.name, $0.id), ($1.name, $1.id)) })
    }

    /// The overlap of the two snapshots' windows, or nil when they do not overlap.
    static func overlap(_ a: SnapshotInfo, _ b: SnapshotInfo) -> DriftReport.Interval? {
        let start = max(a.windowStart, b.windowStart)
        let end = min(a.windowEnd, b.windowEnd)
        return start < end ? DriftReport.Interval(start: start, end: end) : nil
    }

    private static func byName(_ a: (name: String, id: String), _ b: (name: String, id: String)) -> Bool {
        let order = a.name.lowercased().compare(b.name.lowercased())
        if order != .orderedSame { return order == .orderedAscending }
        return a.id < b.id
    }

    // MARK: Schedules

    private static func compare(
        _ before: Schedule, _ after: Schedule, old: SnapshotIndex, new: SnapshotIndex, window: DriftReport.Interval?
    ) -> DriftReport.ScheduleDrift {
        var drift = DriftReport.ScheduleDrift(id: after.id, name: after.name, timeZone: after.timeZone, kind: after.kind, status: .changed)
        if before.name != after.name { drift.rename = .init(from: before.name, to: after.name) }
        // A refresh carries a shift-based schedule's zone from an earlier read (it is only in the
        // detail): a difference is reported only when both snapshots read it.
        let zoneRead = { (schedule: Schedule) in schedule.kind == .layerBased || (schedule.confirmedSince == nil && schedule.confirmedUntil == nil) }
        if before.timeZone != after.timeZone, zoneRead(before), zoneRead(after) {
            drift.timeZoneChange = .init(from: before.timeZone, to: after.timeZone)
        }
        // Upgraded in place: the same schedule, so its roster is compared as usual.
        if before.kind != after.kind { drift.kindChange = .init(from: before.kind, to: after.kind) }

        let membersBefore = old.members[after.id] ?? []
        let membersAfter = new.members[after.id] ?? []
        drift.membersJoined = sortedPeople(membersAfter.subtracting(membersBefore).map { new.person($0, fallback: old) })
        drift.membersLeft = sortedPeople(membersBefore.subtracting(membersAfter).map { old.person($0, fallback: new) })

        // Only where both snapshots confirm the roster: a refresh carries the rest of its window from
        // an earlier read, which a change since may have made wrong (`Schedule.confirmedSince`).
        guard let overlap = window, let confirmedBefore = before.confirmed(within: (overlap.start, overlap.end)),
              let confirmed = after.confirmed(within: confirmedBefore) else { return drift }
        let window = DriftReport.Interval(start: confirmed.start, end: confirmed.end)

        let sweep = OnCallSweep(
            before: (old.shifts[after.id] ?? []).map { ($0.userId, $0.start, $0.end) },
            after: (new.shifts[after.id] ?? []).map { ($0.userId, $0.start, $0.end) },
            window: window)
        drift.onCallChanges = sweep.changes.map { change in
            DriftReport.OnCallChange(
                start: change.start, end: change.end,
                before: change.before.map { old.person($0, fallback: new) },
                after: change.after.map { new.person($0, fallback: old) })
        }
        drift.gapsOpened = sweep.gapsOpened
        drift.gapsClosed = sweep.gapsClosed
        if !drift.onCallChanges.isEmpty {
            drift.timeline = DriftReport.Timeline(
                before: sweep.roster(after: false).map { .init(start: $0.start, end: $0.end, people: $0.userIds.map { old.person($0, fallback: new) }) },
                after: sweep.roster(after: true).map { .init(start: $0.start, end: $0.end, people: $0.userIds.map { new.person($0, fallback: old) }) })
        }

        let (added, removed) = compareOverrides(old.overrides[after.id] ?? [], new.overrides[after.id] ?? [], window: window)
        drift.overridesAdded = added.map { .init(start: $0.start, end: $0.end, person: new.person($0.userId, fallback: old)) }
        drift.overridesRemoved = removed.map { .init(start: $0.start, end: $0.end, person: old.person($0.userId, fallback: new)) }
        return drift
    }

    private struct OverrideKey: Hashable {
        var userId: String
        var start: Date
        var end: Date
    }

    /// Override entries clipped to the window, compared as multisets. Clipping first means that an override
    /// running past one snapshot's window edge is not reported as changed just because it was cut there.
    private static func compareOverrides(
        _ before: [Override], _ after: [Override], window: DriftReport.Interval
    ) -> (added: [OverrideKey], removed: [OverrideKey]) {
        func clipped(_ overrides: [Override]) -> [OverrideKey: Int] {
            var counts: [OverrideKey: Int] = [:]
            for entry in overrides {
                let start = max(entry.start, window.start)
                let end = min(entry.end, window.end)
                if start < end { counts[OverrideKey(userId: entry.userId, start: start, end: end), default: 0] += 1 }
            }
            return counts
        }
        let countsBefore = clipped(before)
        let countsAfter = clipped(after)
        func surplus(_ a: [OverrideKey: Int], over b: [OverrideKey: Int]) -> [OverrideKey] {
            a.flatMap { key, count in Array(repeating: key, count: max(0, count - (b[key] ?? 0))) }
                .sorted { ($0.start, $0.end, $0.userId) < ($1.start, $1.end, $1.userId) }
        }
        return (surplus(countsAfter, over: countsBefore), surplus(countsBefore, over: countsAfter))
    }

    private static func sortedPeople(_ people: [DriftReport.Person]) -> [DriftReport.Person] {
        people.sorted { byName(($0.name, $0.id), ($1.name, $1.id)) }
    }

    // MARK: Escalation policies

    private struct TargetKey: Hashable {
        var kind: EscalationTarget.Kind
        var id: String
    }

    private static func compare(_ before: EscalationPolicy, _ after: EscalationPolicy, old: SnapshotIndex, new: SnapshotIndex) -> DriftReport.PolicyDrift {
        var drift = DriftReport.PolicyDrift(id: after.id, name: after.name, status: .changed)
        if before.name != after.name { drift.rename = .init(from: before.name, to: after.name) }

        let levelsBefore = old.levels[after.id] ?? [:]
        let levelsAfter = new.levels[after.id] ?? [:]
        for level in levelsAfter.keys.sorted() {
            let targetsAfter = levelsAfter[level] ?? []
            guard let targetsBefore = levelsBefore[level] else {
                drift.levelsAdded.append(describe(level: level, targetsAfter, in: new, fallback: old))
                continue
            }
            let keysBefore = Set(targetsBefore.map { TargetKey(kind: $0.kind, id: $0.targetId) })
            let keysAfter = Set(targetsAfter.map { TargetKey(kind: $0.kind, id: $0.targetId) })
            drift.targetsAdded += targetsAfter.filter { !keysBefore.contains(TargetKey(kind: $0.kind, id: $0.targetId)) }
                .map { describe($0, in: new, fallback: old) }
            drift.targetsRemoved += targetsBefore.filter { !keysAfter.contains(TargetKey(kind: $0.kind, id: $0.targetId)) }
                .map { describe($0, in: old, fallback: new) }
        }
        for level in levelsBefore.keys.sorted() where levelsAfter[level] == nil {
            drift.levelsRemoved.append(describe(level: level, levelsBefore[level] ?? [], in: old, fallback: new))
        }
        return drift
    }

    private static func describe(level: Int, _ targets: [EscalationTarget], in index: SnapshotIndex, fallback: SnapshotIndex) -> DriftReport.Level {
        DriftReport.Level(
            level: level, delayMinutes: targets.first?.delayMinutes ?? 0,
            targets: targets.map { describe($0, in: index, fallback: fallback) })
    }

    private static func describe(_ target: EscalationTarget, in index: SnapshotIndex, fallback: SnapshotIndex) -> DriftReport.Target {
        switch target.kind {
        case .user:
            let person = index.person(target.targetId, fallback: fallback)
            return DriftReport.Target(level: target.level, kind: .user, id: target.targetId, name: person.name, email: person.email)
        case .schedule:
            let name = index.schedules[target.targetId]?.name ?? fallback.schedules[target.targetId]?.name ?? target.targetId
            return DriftReport.Target(level: target.level, kind: .schedule, id: target.targetId, name: name, email: nil)
        }
    }
}

/// One snapshot's rows grouped by the IDs the diff looks them up by, built once in O(n).
private struct SnapshotIndex {
    var users: [String: User] = [:]
    var schedules: [String: Schedule] = [:]
    var members: [String: Set<String>] = [:]
    var shifts: [String: [Shift]] = [:]
    var overrides: [String: [Override]] = [:]
    var policies: [String: EscalationPolicy] = [:]
    /// Policy ID → level → targets, in snapshot order with duplicates removed.
    var levels: [String: [Int: [EscalationTarget]]] = [:]

    init(_ contents: SnapshotContents) {
        for user in contents.users { users[user.id] = user }
        for schedule in contents.schedules { schedules[schedule.id] = schedule }
        for member in contents.members { members[member.scheduleId, default: []].insert(member.userId) }
        for shift in contents.shifts { shifts[shift.scheduleId, default: []].append(shift) }
        for entry in contents.overrides { overrides[entry.scheduleId, default: []].append(entry) }
        for policy in contents.policies { policies[policy.id] = policy }
        var seen: Set<[String]> = []
        for target in contents.targets where seen.insert([target.policyId, String(target.level), target.kind.rawValue, target.targetId]).inserted {
            levels[target.policyId, default: [:]][target.level, default: []].append(target)
        }
    }

    /// The user as this snapshot knows them, else as the other one does, else by ID alone.
    func person(_ id: String, fallback: SnapshotIndex) -> DriftReport.Person {
        guard let user = users[id] ?? fallback.users[id] else { return DriftReport.Person(id: id, name: id, email: "") }
        return DriftReport.Person(id: user.id, name: user.name, email: user.email)
    }
}
