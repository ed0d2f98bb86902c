import Approval
import Foundation
import OnCallStore
import Timestamps

/// A group of a target: where a grant puts people.
public struct GroupRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var target: String
    public var group: String

    public init(target: String, group: String) {
        self.target = target
        self.group = group
    }

    public static func < (lhs: GroupRef, rhs: GroupRef) -> Bool {
        (lhs.target, lhs.group) < (rhs.target, rhs.group)
    }

    public var description: String { "\(target)/\(group)" }
}

/// A person a group should hold, by their name in the target.
public struct WantedMember: Sendable, Equatable {
    /// The target's name for them (`user` template or `map_file`).
    public var name: String
    public var userId: String
    /// The grant that wants them (the one whose stretch ends last, when several do).
    public var grant: String
    public var until: Date
    public var reason: String

    public init(name: String, userId: String, grant: String, until: Date, reason: String) {
        self.name = name
        self.userId = userId
        self.grant = grant
        self.until = until
        self.reason = reason
    }
}

/// What one group of a target should hold, from every grant that feeds it.
public struct DesiredGroup: Sendable, Equatable {
    /// By the target's name for each.
    public var members: [String: WantedMember]
    /// The grants that feed the group (the reader makes them agree on `exclusive`).
    public var grants: Set<String>
    /// True: the group holds exactly `members`; anyone else is removed.
    public var exclusive: Bool
    /// Why a member Shiftgate added and no longer wants is removed: "shift ended", or "stale cache"
    /// when the cache is stale and a grant of the group says `on_stale: revoke`.
    public var removalReason: String
    /// True when the cache is stale: nobody is added (not even a member Shiftgate added and someone
    /// removed by hand); only removals and ledger settling remain.
    public var addsNobody: Bool

    public init(members: [String: WantedMember] = [:], grants: Set<String> = [], exclusive: Bool = false, removalReason: String = "shift ended",
                addsNobody: Bool = false) {
        self.members = members
        self.grants = grants
        self.exclusive = exclusive
        self.removalReason = removalReason
        self.addsNobody = addsNobody
    }
}

/// Someone a grant wants that its target cannot name (no email, no entry in the map file, or a
/// user id the snapshot lacks): skipped, never a stop for the rest of the group.
public struct SkippedUser: Sendable, Equatable {
    public var grant: String
    public var group: GroupRef
    public var userId: String
    public var why: String
}

/// Who Shiftgate added to a group (the ledger's row for one target, group and member).
public struct LedgerEntry: Sendable, Equatable {
    /// Intent before effect: a row is written before the target is called and settled after.
    public enum State: String, Sendable, Equatable {
        /// Being added: the target may or may not hold them yet.
        case adding
        /// Added: the target held them when last told or seen.
        case held
        /// Being removed: the target may or may not still hold them.
        case removing
    }

    public var group: GroupRef
    /// The target's name for them.
    public var member: String
    public var userId: String?
    /// The grant that added them.
    public var grant: String
    public var since: Date
    /// The end of the widened stretch they were added for (nil: not known; `on_stale: keep` keeps
    /// no such member).
    public var until: Date?
    public var why: String
    public var state: State

    public init(group: GroupRef, member: String, userId: String? = nil, grant: String, since: Date, until: Date?, why: String, state: State = .held) {
        self.group = group
        self.member = member
        self.userId = userId
        self.grant = grant
        self.since = since
        self.until = until
        self.why = why
        self.state = state
    }
}

/// One step of a plan: add someone to a group or remove them, and what the ledger records.
public struct Change: Sendable, Equatable, CustomStringConvertible {
    public enum Action: String, Sendable, Equatable {
        case add
        case remove
    }

    public var group: GroupRef
    public var member: String
    public var action: Action
    /// False when the target already agrees (adding someone present, removing someone gone): the
    /// change only settles the ledger.
    public var callsTarget: Bool
    /// Whether Shiftgate owns the member after the change (an add: yes; a remove of a member it
    /// never added, in an exclusive group: it never did).
    public var owned: Bool
    public var userId: String?
    public var grant: String?
    /// For an add: until when they are wanted (the ledger's `until`).
    public var until: Date?
    /// What the audit shows: "on call in SRE Primary until …", "shift ended", "stale cache",
    /// "not on call (exclusive)".
    public var reason: String

    public init(group: GroupRef, member: String, action: Action, callsTarget: Bool, owned: Bool, userId: String? = nil, grant: String? = nil,
                until: Date? = nil, reason: String) {
        self.group = group
        self.member = member
        self.action = action
        self.callsTarget = callsTarget
        self.owned = owned
        self.userId = userId
        self.grant = grant
        self.until = until
        self.reason = reason
    }

    public var description: String {
        "\(action.rawValue) \(member) \(action == .add ? "to" : "from") \(group)\(callsTarget ? "" : " (ledger only)"): \(reason)"
    }
}

/// The pure core of the grants controller: from a snapshot's desired state, a target's members and
/// the ledger, the changes to make. `grants plan` prints the value that `apply` executes.
public enum GrantPlanner {
    /// Every configured grant's group with the people it should hold at `instant` under a fresh
    /// cache, named for their target. Each configured group appears, even when it should be empty
    /// (so a ledger row for a group no grant feeds any more means "taken out of the file").
    /// `maps`: each `map_file`'s contents by its path (emails as written).
    public static func desiredGroups(_ desired: [GrantKey: DesiredMember], grants: [GrantRule], targets: [GrantTarget],
                                     maps: [String: [String: String]] = [:]) -> (groups: [GroupRef: DesiredGroup], skipped: [SkippedUser]) {
        var groups = emptyGroups(grants: grants)
        var skipped: [SkippedUser] = []
        let grantsByName = Dictionary(grants.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let folded = maps.mapValues(UserNaming.foldedMap)
        for (key, member) in desired.sorted(by: { $0.key < $1.key }) {
            guard let grant = grantsByName[key.grant] else { continue }
            let ref = GroupRef(target: grant.target, group: grant.group)
            guard let target = targets.first(where: { $0.name == grant.target }) else {
                skipped.append(SkippedUser(grant: grant.name, group: ref, userId: key.userId, why: "target '\(grant.target)' is not configured"))
                continue
            }
            guard let user = member.user else {
                skipped.append(SkippedUser(grant: grant.name, group: ref, userId: key.userId, why: "not in the snapshot's users"))
                continue
            }
            var map: [String: String]?
            if case .mapFile(let path) = target.naming { map = folded[path] }
            guard let name = target.naming.name(for: user, map: map) else {
                let why = switch target.naming {
                case .template(let template): "cannot be named by '\(template)' (a field it uses is empty)"
                case .mapFile(let path): "not in the map file \(path)"
                }
                skipped.append(SkippedUser(grant: grant.name, group: ref, userId: key.userId, why: why))
                continue
            }
            let wanted = WantedMember(name: name, userId: key.userId, grant: grant.name, until: member.until, reason: member.reason)
            if let other = groups[ref]?.members[name], other.until >= wanted.until { continue }
            groups[ref]?.members[name] = wanted
        }
        return (groups, skipped)
    }

    /// The groups when the cache is stale: a grant with `on_stale: revoke` wants nobody (what it
    /// added is removed, as "stale cache"); one with `keep` keeps the members it added, as the
    /// ledger records them, until their recorded `until`, and adds nobody.
    public static func staleGroups(grants: [GrantRule], ledger: [LedgerEntry], at instant: Date) -> [GroupRef: DesiredGroup] {
        var groups = emptyGroups(grants: grants)
        for grant in grants {
            let ref = GroupRef(target: grant.target, group: grant.group)
            groups[ref]?.addsNobody = true
            switch grant.onStale {
            case .revoke:
                groups[ref]?.removalReason = "stale cache"
            case .keep:
                for entry in ledger where entry.group == ref && entry.grant == grant.name && entry.state != .removing {
                    guard let until = entry.until, until > instant else { continue }
                    groups[ref]?.members[entry.member] = WantedMember(
                        name: entry.member, userId: entry.userId ?? "", grant: grant.name, until: until,
                        reason: "stale cache: kept until \(ReadableTime.utc(until))")
                }
            }
        }
        return groups
    }

    static func emptyGroups(grants: [GrantRule]) -> [GroupRef: DesiredGroup] {
        var groups: [GroupRef: DesiredGroup] = [:]
        for grant in grants {
            let ref = GroupRef(target: grant.target, group: grant.group)
            groups[ref, default: DesiredGroup(exclusive: grant.exclusive)].grants.insert(grant.name)
            if grant.exclusive { groups[ref]?.exclusive = true }
        }
        return groups
    }

    /// The changes that bring each group to its desired members, sorted by group, then member.
    ///
    /// - `observed`: each group's current member names as the target lists them; a group missing
    ///   here is one whose target cannot list, and then only the ledger is trusted.
    /// - `ledger`: who Shiftgate added, per group and member.
    ///
    /// Shiftgate removes only members it added: someone already in the group when their shift began
    /// stays after it, unless the group is exclusive. A member it added and someone removed by hand
    /// while still wanted is added back. A ledger row for a group no configured grant feeds, or from
    /// a grant that no longer feeds its group, is given back.
    public static func plan(desired: [GroupRef: DesiredGroup], observed: [GroupRef: Set<String>], ledger: [LedgerEntry]) -> [Change] {
        var ledgerByGroup: [GroupRef: [String: LedgerEntry]] = [:]
        for entry in ledger { ledgerByGroup[entry.group, default: [:]][entry.member] = entry }
        var changes: [Change] = []
        for ref in Set(desired.keys).union(ledgerByGroup.keys).sorted() {
            let group = desired[ref]
            let wanted = group?.members ?? [:]
            let owned = ledgerByGroup[ref] ?? [:]
            let listed = observed[ref]
            let exclusive = group?.exclusive ?? false
            var names = Set(wanted.keys).union(owned.keys)
            if exclusive, let listed { names.formUnion(listed) }
            for name in names.sorted() {
                let present = listed.map { $0.contains(name) }
                if let want = wanted[name] {
                    func add(calls: Bool, _ reason: String) {
                        if calls, group?.addsNobody == true { return }
                        changes.append(Change(group: ref, member: name, action: .add, callsTarget: calls, owned: true, userId: want.userId,
                                              grant: want.grant, until: want.until, reason: reason))
                    }
                    guard let entry = owned[name] else {
                        // Already a member, and not by Shiftgate: theirs, so left alone now and later.
                        if present != true { add(calls: true, want.reason) }
                        continue
                    }
                    switch (present, entry.state) {
                    case (true?, .held), (nil, .held):
                        // The ledger follows the stretch's end and the grant that wants them now.
                        if entry.until != want.until || entry.grant != want.grant { add(calls: false, want.reason) }
                    case (true?, _):
                        add(calls: false, want.reason)
                    case (false?, .held):
                        add(calls: true, want.reason + "; added back (removed outside Shiftgate)")
                    case (false?, _), (nil, _):
                        add(calls: true, want.reason)
                    }
                } else if let entry = owned[name] {
                    let reason: String
                    if let group, group.grants.contains(entry.grant) {
                        reason = group.removalReason
                    } else {
                        reason = "grant '\(entry.grant)' no longer gives \(ref)"
                    }
                    changes.append(Change(group: ref, member: name, action: .remove, callsTarget: present != false, owned: true,
                                          userId: entry.userId, grant: entry.grant, reason: reason))
                } else if exclusive, present == true {
                    changes.append(Change(group: ref, member: name, action: .remove, callsTarget: true, owned: false,
                                          grant: group?.grants.sorted().first, reason: "not on call (exclusive)"))
                }
            }
        }
        return changes
    }
}
