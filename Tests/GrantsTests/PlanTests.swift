import Approval
import Foundation
import OnCallStore
import Testing
import Timestamps
@testable import Grants

/// The plan as a table: desired members, the target's members (or none listed) and the ledger →
/// the adds and removes, which call the target, and why. Pure.
@Suite struct PlanTests {
    static let T = DesiredStateTests.T
    static let admins = GroupRef(target: "db", group: "admins")
    static let until = T.addingTimeInterval(3600)

    static func want(_ name: String, until: Date = until, grant: String = "primary") -> WantedMember {
        WantedMember(name: name, userId: "P\(name.uppercased())", grant: grant, until: until, reason: "on call in SRE Primary until …")
    }

    static func owned(_ name: String, in group: GroupRef = admins, grant: String = "primary", until: Date? = until,
                      state: LedgerEntry.State = .held) -> LedgerEntry {
        LedgerEntry(group: group, member: name, userId: "P\(name.uppercased())", grant: grant, since: T.addingTimeInterval(-3600), until: until,
                    why: "on call in SRE Primary until …", state: state)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var wanted: [String] = []
        var exclusive = false
        /// Nil: the target cannot list.
        var observed: Set<String>?
        var ledger: [LedgerEntry] = []
        /// "add jane", "remove raj", with " (ledger)" when no call is made, and the reason's start.
        var changes: [String]
        var testDescription: String { label }
    }

    static func describe(_ change: Change) -> String {
        "\(change.action.rawValue) \(change.member)\(change.callsTarget ? "" : " (ledger)"): \(change.reason)"
    }

    static let onCall = "on call in SRE Primary until …"

    static let cases: [Case] = [
        Case(label: "a wanted member who is absent is added", wanted: ["jane"], observed: [], changes: ["add jane: \(onCall)"]),
        Case(label: "already a member when the shift began: not ours, nothing to do", wanted: ["jane"], observed: ["jane"], changes: []),
        Case(label: "and after the shift ends they stay", observed: ["jane"], changes: []),
        Case(label: "ours, the shift ended: removed", observed: ["jane"], ledger: [owned("jane")], changes: ["remove jane: shift ended"]),
        Case(label: "ours and still wanted: nothing", wanted: ["jane"], observed: ["jane"], ledger: [owned("jane")], changes: []),
        Case(label: "ours, still wanted, removed by hand: added back", wanted: ["jane"], observed: [], ledger: [owned("jane")],
             changes: ["add jane: \(onCall); added back (removed outside Shiftgate)"]),
        Case(label: "the stretch grew: the ledger's until is settled without a call", wanted: ["jane"], observed: ["jane"],
             ledger: [owned("jane", until: T.addingTimeInterval(1800))], changes: ["add jane (ledger): \(onCall)"]),
        Case(label: "an add in flight that landed: settled without a call", wanted: ["jane"], observed: ["jane"], ledger: [owned("jane", state: .adding)],
             changes: ["add jane (ledger): \(onCall)"]),
        Case(label: "an add in flight that did not land: called again", wanted: ["jane"], observed: [], ledger: [owned("jane", state: .adding)],
             changes: ["add jane: \(onCall)"]),
        Case(label: "removing someone already gone: settled without a call", observed: [], ledger: [owned("jane")], changes: ["remove jane (ledger): shift ended"]),
        Case(label: "a removal in flight that did not land: called again", observed: ["jane"], ledger: [owned("jane", state: .removing)],
             changes: ["remove jane: shift ended"]),
        Case(label: "wanted again while a removal was in flight: kept, settled", wanted: ["jane"], observed: ["jane"], ledger: [owned("jane", state: .removing)],
             changes: ["add jane (ledger): \(onCall)"]),
        Case(label: "exclusive: anyone not wanted is removed, ours or not", wanted: ["jane"], exclusive: true, observed: ["jane", "raj", "lee"],
             ledger: [owned("raj")], changes: ["remove lee: not on call (exclusive)", "remove raj: shift ended"]),
        Case(label: "exclusive: a wanted member already there stays, not ours", wanted: ["jane"], exclusive: true, observed: ["jane"], changes: []),
        Case(label: "not exclusive: someone added by hand is left alone", wanted: ["jane"], observed: ["jane", "lee"], changes: []),
        Case(label: "cannot list: a wanted member not ours is added (adding is idempotent)", wanted: ["jane"], observed: nil, changes: ["add jane: \(onCall)"]),
        Case(label: "cannot list: ours and wanted, nothing", wanted: ["jane"], observed: nil, ledger: [owned("jane")], changes: []),
        Case(label: "cannot list: ours, shift ended, removed by the ledger", observed: nil, ledger: [owned("jane")], changes: ["remove jane: shift ended"]),
        Case(label: "cannot list, exclusive: nobody unknown can be removed", wanted: ["jane"], exclusive: true, observed: nil, ledger: [owned("raj")],
             changes: ["add jane: \(onCall)", "remove raj: shift ended"]),
        Case(label: "several at once, in name order", wanted: ["raj", "ana", "jane"], observed: ["jane"], ledger: [owned("lee")],
             changes: ["add ana: \(onCall)", "remove lee (ledger): shift ended", "add raj: \(onCall)"]),
    ]

    @Test(arguments: cases)
    func plans(_ check: Case) {
        let group = DesiredGroup(members: Dictionary(uniqueKeysWithValues: check.wanted.map { ($0, Self.want($0)) }), grants: ["primary"],
                                 exclusive: check.exclusive)
        let changes = GrantPlanner.plan(desired: [Self.admins: group], observed: check.observed.map { [Self.admins: $0] } ?? [:], ledger: check.ledger)
        #expect(changes.map(Self.describe) == check.changes)
        #expect(changes.allSatisfy { $0.group == Self.admins })
        // What the ledger records: every add is owned and carries its until; a remove of a member we
        // never added (exclusive) is not.
        for change in changes where change.action == .add { #expect(change.owned && change.until == Self.until && change.grant == "primary") }
        for change in changes where change.action == .remove {
            #expect(change.owned == check.ledger.contains { $0.member == change.member })
        }
    }

    /// A grant taken out of the file gives back what it added, and leaves what it did not add.
    @Test func aGrantTakenOutGivesBack() {
        let changes = GrantPlanner.plan(desired: [:], observed: [Self.admins: ["jane", "lee"]], ledger: [Self.owned("jane", grant: "old")])
        #expect(changes.map(Self.describe) == ["remove jane: grant 'old' no longer gives db/admins"])
    }

    /// A grant pointed at another group: its old group gives back, its new one gets the people.
    @Test func aGrantMovedToAnotherGroupMovesItsPeople() {
        let ops = GroupRef(target: "db", group: "ops")
        let desired = [ops: DesiredGroup(members: ["jane": Self.want("jane")], grants: ["primary"])]
        let changes = GrantPlanner.plan(desired: desired, observed: [Self.admins: ["jane"], ops: []], ledger: [Self.owned("jane")])
        #expect(changes.map { "\($0.group) \(Self.describe($0))" } == [
            "db/admins remove jane: grant 'primary' no longer gives db/admins",
            "db/ops add jane: \(Self.onCall)",
        ])
    }

    /// A group another grant still feeds: a member the removed grant added is given back, one the
    /// remaining grant wants stays.
    @Test func anotherGrantStillFeedingTheGroupKeepsItsOwn() {
        let desired = [Self.admins: DesiredGroup(members: ["raj": Self.want("raj", grant: "secondary")], grants: ["secondary"])]
        let changes = GrantPlanner.plan(desired: desired, observed: [Self.admins: ["jane", "raj"]],
                                        ledger: [Self.owned("jane", grant: "old"), Self.owned("raj", grant: "old")])
        #expect(changes.map(Self.describe) == ["remove jane: grant 'old' no longer gives db/admins", "add raj (ledger): \(Self.onCall)"])
    }

    static let staleGrants = [
        GrantRule(name: "revoking", schedules: ["SRE Primary"], target: "db", group: "admins", onStale: .revoke),
        GrantRule(name: "keeping", schedules: ["SRE Primary"], target: "db", group: "ops", onStale: .keep),
    ]

    /// Stale cache, on_stale: revoke: everything Shiftgate added goes, as "stale cache"; what it did
    /// not add stays; nobody is added.
    @Test func staleRevokeRemovesWhatWeAdded() {
        let groups = GrantPlanner.staleGroups(grants: Self.staleGrants.filter { $0.onStale == .revoke }, ledger: [Self.owned("jane", grant: "revoking")],
                                              at: Self.T)
        #expect(groups[Self.admins]?.members.isEmpty == true)
        let changes = GrantPlanner.plan(desired: groups, observed: [Self.admins: ["jane", "lee"]], ledger: [Self.owned("jane", grant: "revoking")])
        #expect(changes.map(Self.describe) == ["remove jane: stale cache"])
    }

    /// Stale cache, on_stale: keep: members we added stay until their recorded until, then go;
    /// one whose until is not known goes; nobody is added, even someone removed by hand.
    @Test func staleKeepKeepsUntilTheRecordedEnd() {
        let ops = GroupRef(target: "db", group: "ops")
        let ledger = [
            Self.owned("jane", in: ops, grant: "keeping", until: Self.T.addingTimeInterval(600)),
            Self.owned("raj", in: ops, grant: "keeping", until: Self.T.addingTimeInterval(-1)),
            Self.owned("lee", in: ops, grant: "keeping", until: nil),
        ]
        let now = GrantPlanner.staleGroups(grants: Self.staleGrants, ledger: ledger, at: Self.T)
        #expect(now[ops]?.members["jane"]?.reason == "stale cache: kept until \(ReadableTime.utc(Self.T.addingTimeInterval(600)))")
        let changes = GrantPlanner.plan(desired: now, observed: [ops: ["jane", "raj", "lee", "ana"]], ledger: ledger)
        #expect(changes.map(Self.describe) == ["remove lee: shift ended", "remove raj: shift ended"])
        // Ten minutes on, Jane's recorded stretch is over too.
        let later = GrantPlanner.staleGroups(grants: Self.staleGrants, ledger: ledger, at: Self.T.addingTimeInterval(600))
        #expect(GrantPlanner.plan(desired: later, observed: [ops: ["jane"]], ledger: [ledger[0]]).map(Self.describe) == ["remove jane: shift ended"])
        // Jane removed by hand while the cache is stale: kept in the ledger, but added back only
        // from a fresh cache; a stale revoke adds nobody either.
        #expect(GrantPlanner.plan(desired: now, observed: [ops: []], ledger: [ledger[0]]).isEmpty)
        #expect(GrantPlanner.plan(desired: now, observed: [Self.admins: []], ledger: []).isEmpty)
    }

    /// From the snapshot to the plan: people named for the target (`{email_local}`), those who
    /// cannot be named skipped with why, and the rest of the group unaffected.
    @Test func fromSnapshotToPlan() {
        let grants = [GrantRule(name: "pairs", schedules: ["Pairs"], target: "db", group: "pairs")]
        let targets = [GrantTarget(name: "db", kind: .postgres, url: "postgres://g@127.0.0.1/postgres", naming: .template("{email_local}"))]
        var contents = DesiredStateTests.snapshot
        contents.users = contents.users.map { $0.id == "PANA" ? User(id: "PANA", name: "Ana", email: "", timeZone: "UTC") : $0 }
        let index = OnCallIndex(contents, rules: RuleSet(rules: [], source: "rules.yaml", targets: targets, grants: grants))
        let wanted = desired(at: Self.T, grants: grants, index: index)
        let (groups, skipped) = GrantPlanner.desiredGroups(wanted, grants: grants, targets: targets)
        let pairs = GroupRef(target: "db", group: "pairs")
        #expect(groups[pairs]?.members.keys.sorted() == ["ben"])
        #expect(skipped.map { "\($0.userId): \($0.why)" } == [
            "PANA: cannot be named by '{email_local}' (a field it uses is empty)",
            "PGHOST: not in the snapshot's users",
        ])
        let changes = GrantPlanner.plan(desired: groups, observed: [pairs: ["ops-bot"]], ledger: [])
        #expect(changes.map(Self.describe) == ["add ben: on call in Pairs until \(ReadableTime.utc(Self.T.addingTimeInterval(4 * 3600)))"])
        #expect(changes.first?.until == Self.T.addingTimeInterval(4 * 3600) && changes.first?.userId == "PBEN")
    }

    /// Two grants into one group: one wanted name, the later until; a map file names people.
    @Test func twoGrantsIntoOneGroupAndAMapFile() {
        let grants = [GrantRule(name: "pairs", schedules: ["Pairs"], target: "hook", group: "oncall"),
                      GrantRule(name: "primary", schedules: ["SRE Primary"], target: "hook", group: "oncall")]
        let targets = [GrantTarget(name: "hook", kind: .exec, naming: .mapFile("people.yaml"), command: ["/bin/true"])]
        var contents = DesiredStateTests.snapshot
        contents.shifts.append(Shift(scheduleId: "PPRIMARY", userId: "PBEN", start: Self.T, end: Self.T.addingTimeInterval(600)))
        let index = OnCallIndex(contents, rules: RuleSet(rules: [], source: nil))
        let (groups, skipped) = GrantPlanner.desiredGroups(desired(at: Self.T, grants: grants, index: index), grants: grants, targets: targets,
                                                           maps: ["people.yaml": ["BEN@example.com": "bsmith", "jane@example.com": "jdoe"]])
        let oncall = GroupRef(target: "hook", group: "oncall")
        #expect(groups[oncall]?.members.mapValues(\.grant) == ["bsmith": "pairs", "jdoe": "primary"])
        #expect(groups[oncall]?.members["bsmith"]?.until == Self.T.addingTimeInterval(4 * 3600))
        #expect(groups[oncall]?.grants == ["pairs", "primary"])
        #expect(Set(skipped.map(\.userId)) == ["PANA", "PGHOST"])
        #expect(skipped.first { $0.userId == "PANA" }?.why == "not in the map file people.yaml")
    }
}
