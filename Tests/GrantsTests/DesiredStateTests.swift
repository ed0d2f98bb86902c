import Approval
import Foundation
import OnCallStore
import Testing
import Timestamps
@testable import Grants

/// The desired state as a table: which grant, at which instant → who is wanted, until when. Pure:
/// a snapshot built here, indexed as approvals index it.
@Suite struct DesiredStateTests {
    /// T: a whole hour.
    static let T = Date(timeIntervalSince1970: Double(1_800_000_000 - 1_800_000_000 % 3600))
    static let hour: TimeInterval = 3600
    static let minute: TimeInterval = 60

    /// - Jane: SRE Primary [T−1h, T+1h), then SRE Secondary [T+1h, T+3h).
    /// - Raj: SRE Primary [T+1h, T+2h), handed over from Jane at the same second.
    /// - Lee: SRE Primary [T+2h, T+3h) and again [T+3h, T+4h): handed over to himself.
    /// - Ana and Ben: Pairs (shift-based) [T−1h, T+2h) and [T−1h, T+4h), on call at once.
    /// - Kim: Deep [T−1h, T+1h), a schedule only level 3 reaches.
    /// - Nina: New York (America/New_York) across both 2027 DST changes; Ghost: an id the user list lacks.
    /// Policy: level 1 SRE Primary, Pairs and New York; level 2 SRE Secondary; level 3 Deep.
    static let snapshot: SnapshotContents = {
        func shift(_ schedule: String, _ user: String, _ from: TimeInterval, _ to: TimeInterval) -> Shift {
            Shift(scheduleId: schedule, userId: user, start: T.addingTimeInterval(from), end: T.addingTimeInterval(to))
        }
        let people = ["Jane", "Raj", "Lee", "Ana", "Ben", "Kim", "Nina"]
        return SnapshotContents(
            info: SnapshotInfo(startedAt: T, finishedAt: T, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(400 * 86_400)),
            users: people.map { User(id: "P\($0.uppercased())", name: $0, email: "\($0.lowercased())@example.com", timeZone: "UTC") },
            schedules: [Schedule(id: "PPRIMARY", name: "SRE Primary", timeZone: "UTC"), Schedule(id: "PSECOND", name: "SRE Secondary", timeZone: "UTC"),
                        Schedule(id: "PPAIRS", name: "Pairs", timeZone: "UTC", kind: .shiftBased), Schedule(id: "PDEEP", name: "Deep", timeZone: "UTC"),
                        Schedule(id: "PNY", name: "New York", timeZone: "America/New_York")],
            shifts: [
                shift("PPRIMARY", "PJANE", -hour, hour), shift("PSECOND", "PJANE", hour, 3 * hour),
                shift("PPRIMARY", "PRAJ", hour, 2 * hour),
                shift("PPRIMARY", "PLEE", 2 * hour, 3 * hour), shift("PPRIMARY", "PLEE", 3 * hour, 4 * hour),
                shift("PPAIRS", "PANA", -hour, 2 * hour), shift("PPAIRS", "PBEN", -hour, 4 * hour),
                shift("PDEEP", "PKIM", -hour, hour),
                shift("PPAIRS", "PGHOST", 0, hour),
                // Midnight to noon in New York on the days the clocks change: 11 hours in March, 13 in November.
                Shift(scheduleId: "PNY", userId: "PNINA", start: RFC3339.parse("2027-03-14T05:00:00Z")!, end: RFC3339.parse("2027-03-14T16:00:00Z")!),
                Shift(scheduleId: "PNY", userId: "PNINA", start: RFC3339.parse("2027-11-07T04:00:00Z")!, end: RFC3339.parse("2027-11-07T17:00:00Z")!),
            ],
            targets: [
                EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMARY"),
                EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPAIRS"),
                EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PNY"),
                EscalationTarget(policyId: "PPOL", level: 2, ruleId: "R2", delayMinutes: 30, kind: .schedule, targetId: "PSECOND"),
                EscalationTarget(policyId: "PPOL", level: 3, ruleId: "R3", delayMinutes: 30, kind: .schedule, targetId: "PDEEP"),
            ])
    }()

    static let grants: [GrantRule] = [
        GrantRule(name: "primary", schedules: ["SRE Primary"], target: "db", group: "admins", lead: 5 * minute, grace: 15 * minute),
        GrantRule(name: "plain", schedules: ["PPRIMARY"], target: "db", group: "plain"),
        GrantRule(name: "both", schedules: ["SRE Primary", "PSECOND"], target: "db", group: "ops"),
        GrantRule(name: "both-l1", schedules: ["SRE Primary", "SRE Secondary"], maxEscalationLevel: 1, target: "db", group: "l1"),
        GrantRule(name: "pairs", schedules: ["Pairs"], target: "hook", group: "pairs"),
        GrantRule(name: "deep", schedules: ["Deep"], maxEscalationLevel: 2, target: "hook", group: "deep"),
        GrantRule(name: "ny", schedules: ["New York"], target: "hook", group: "ny", grace: 10 * minute),
    ]

    static let roster = GrantRoster(grants: grants, index: OnCallIndex(snapshot, rules: RuleSet(rules: [], source: "rules.yaml", grants: grants)))

    static func wanted(_ grant: String, at instant: Date) -> [String: Date] {
        var result: [String: Date] = [:]
        for (key, member) in roster.desired(at: instant) where key.grant == grant { result[key.userId] = member.until }
        return result
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var grant: String
        var at: TimeInterval
        /// User id → until, as an offset from T.
        var wanted: [String: TimeInterval]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "on call: wanted to the end + grace", grant: "primary", at: 0, wanted: ["PJANE": hour + 15 * minute]),
        Case(label: "a second before the next one's lead", grant: "primary", at: 55 * minute - 1, wanted: ["PJANE": hour + 15 * minute]),
        Case(label: "lead: wanted 5m before the stretch", grant: "primary", at: 55 * minute, wanted: ["PJANE": hour + 15 * minute, "PRAJ": 2 * hour + 15 * minute]),
        Case(label: "grace: the last second of it", grant: "primary", at: hour + 15 * minute - 1, wanted: ["PJANE": hour + 15 * minute, "PRAJ": 2 * hour + 15 * minute]),
        Case(label: "grace over: gone at its end", grant: "primary", at: hour + 15 * minute, wanted: ["PRAJ": 2 * hour + 15 * minute]),
        Case(label: "one in grace, one in lead, at once", grant: "primary", at: 2 * hour, wanted: ["PRAJ": 2 * hour + 15 * minute, "PLEE": 4 * hour + 15 * minute]),
        Case(label: "back to back shifts of one person are one stretch", grant: "primary", at: 3 * hour, wanted: ["PLEE": 4 * hour + 15 * minute]),
        Case(label: "an empty slot: nobody", grant: "primary", at: 5 * hour, wanted: [:]),
        Case(label: "hand-over at the same second: the first one a second before", grant: "plain", at: hour - 1, wanted: ["PJANE": hour]),
        Case(label: "hand-over at the same second: the next one at it", grant: "plain", at: hour, wanted: ["PRAJ": 2 * hour]),
        Case(label: "several schedules into one group: one stretch across them", grant: "both", at: hour, wanted: ["PJANE": 3 * hour, "PRAJ": 2 * hour]),
        Case(label: "escalation level 1: the level-2 schedule does not extend the stretch", grant: "both-l1", at: hour - 1, wanted: ["PJANE": hour]),
        Case(label: "escalation level 1: on call only at level 2 is not wanted", grant: "both-l1", at: hour, wanted: ["PRAJ": 2 * hour]),
        Case(label: "shift-based: several on call at once, each to their own end", grant: "pairs", at: 0,
             wanted: ["PANA": 2 * hour, "PBEN": 4 * hour, "PGHOST": hour]),
        Case(label: "shift-based: later, only the one still on call", grant: "pairs", at: 2 * hour, wanted: ["PBEN": 4 * hour]),
        Case(label: "a schedule above the grant's escalation level: nobody", grant: "deep", at: 0, wanted: [:]),
    ]

    @Test(arguments: cases)
    func desiredMembers(_ check: Case) {
        let got = Self.wanted(check.grant, at: Self.T.addingTimeInterval(check.at))
        #expect(got == check.wanted.mapValues { Self.T.addingTimeInterval($0) })
    }

    /// The reason says which schedules, and until when (the stretch, not the grace); lead and grace say so.
    @Test func reasons() throws {
        let at = { (offset: TimeInterval) in Self.roster.desired(at: Self.T.addingTimeInterval(offset)) }
        let jane = try #require(at(0)[GrantKey(grant: "primary", userId: "PJANE")])
        #expect(jane.reason == "on call in SRE Primary until \(ReadableTime.utc(Self.T.addingTimeInterval(Self.hour)))")
        #expect(jane.user?.email == "jane@example.com" && jane.scheduleNames == ["SRE Primary"])
        #expect(jane.since == Self.T.addingTimeInterval(-Self.hour - 5 * Self.minute))
        let raj = try #require(at(55 * Self.minute)[GrantKey(grant: "primary", userId: "PRAJ")])
        #expect(raj.reason.hasPrefix("on call in SRE Primary from \(ReadableTime.utc(Self.T.addingTimeInterval(Self.hour))) until "))
        let graced = try #require(at(Self.hour + Self.minute)[GrantKey(grant: "primary", userId: "PJANE")])
        #expect(graced.reason.hasSuffix("(grace to \(ReadableTime.utc(Self.T.addingTimeInterval(Self.hour + 15 * Self.minute))))"))
        let across = try #require(at(2 * Self.hour)[GrantKey(grant: "both", userId: "PJANE")])
        #expect(across.scheduleNames == ["SRE Secondary"])
        // A user id the snapshot's users lack is wanted but has no user to name.
        #expect(at(0)[GrantKey(grant: "pairs", userId: "PGHOST")]?.user == nil)
    }

    /// DST: shifts are instants, so a day whose clocks change is 11 or 13 hours long and nothing moves.
    @Test(arguments: [
        ("2027-03-14T06:59:59Z", true), ("2027-03-14T07:00:00Z", true), ("2027-03-14T15:59:59Z", true), ("2027-03-14T16:09:59Z", true),
        ("2027-03-14T16:10:00Z", false), ("2027-03-14T04:59:59Z", false),
        ("2027-11-07T05:59:59Z", true), ("2027-11-07T06:00:00Z", true), ("2027-11-07T17:09:59Z", true), ("2027-11-07T17:10:00Z", false),
    ])
    func dstChangesMoveNothing(instant: String, onCall: Bool) throws {
        let at = try #require(RFC3339.parse(instant))
        #expect((Self.wanted("ny", at: at)["PNINA"] != nil) == onCall)
    }

    @Test func dstBoundariesAreInstants() throws {
        let ny = GrantRoster(grants: Self.grants.filter { $0.name == "ny" }, index: OnCallIndex(Self.snapshot, rules: RuleSet(rules: [], source: nil)))
        #expect(ny.nextBoundary(after: RFC3339.parse("2027-03-14T06:00:00Z")!) == RFC3339.parse("2027-03-14T16:10:00Z"))
        #expect(ny.nextBoundary(after: RFC3339.parse("2027-03-14T16:10:00Z")!) == RFC3339.parse("2027-11-07T04:00:00Z"))
        #expect(ny.nextBoundary(after: RFC3339.parse("2027-11-07T04:00:00Z")!) == RFC3339.parse("2027-11-07T17:10:00Z"))
        #expect(ny.nextBoundary(after: RFC3339.parse("2027-11-07T17:10:00Z")!) == nil)
    }

    /// The boundaries of one grant, in order: each lead's start and each grace's end, and no
    /// hand-over to oneself (Lee's at T+3h).
    @Test func nextBoundaryWalksEveryChange() {
        let primary = GrantRoster(grants: Self.grants.filter { $0.name == "primary" }, index: OnCallIndex(Self.snapshot, rules: RuleSet(rules: [], source: nil)))
        var boundaries: [TimeInterval] = []
        var at = Self.T
        while let next = primary.nextBoundary(after: at) {
            boundaries.append(next.timeIntervalSince(Self.T))
            at = next
        }
        let minute = Self.minute, hour = Self.hour
        #expect(boundaries == [55 * minute, hour + 15 * minute, 2 * hour - 5 * minute, 2 * hour + 15 * minute, 4 * hour + 15 * minute])
        let plain = GrantRoster(grants: Self.grants.filter { $0.name == "plain" }, index: OnCallIndex(Self.snapshot, rules: RuleSet(rules: [], source: nil)))
        #expect(plain.nextBoundary(after: Self.T.addingTimeInterval(2 * hour)) == Self.T.addingTimeInterval(4 * hour))
    }

    /// Between two boundaries the desired state does not change, and at each boundary it does:
    /// checked minute by minute over a day, for every grant at once.
    @Test func theDesiredStateChangesOnlyAtBoundaries() {
        func state(_ instant: Date) -> [GrantKey: Date] { Self.roster.desired(at: instant).mapValues(\.until) }
        var boundary = Self.T.addingTimeInterval(-3 * Self.hour)
        var current = state(boundary)
        var changes = 0
        for step in 1...(24 * 60) {
            let instant = Self.T.addingTimeInterval(-3 * Self.hour + Double(step) * Self.minute)
            let now = state(instant)
            while let next = Self.roster.nextBoundary(after: boundary), next <= instant {
                #expect(state(next.addingTimeInterval(-1)) == current, "changed before \(next)")
                #expect(state(next) != current, "nothing changed at \(next)")
                boundary = next
                current = state(next)
                changes += 1
            }
            #expect(now == current, "changed at \(instant) without a boundary")
        }
        #expect(changes >= 10)
    }

    /// Names, not only ids, and a schedule the snapshot lacks is reported (a warning for `rules check`).
    @Test func unmatchedSchedulesAreReported() {
        let roster = GrantRoster(grants: [GrantRule(name: "typo", schedules: ["SRE Primray", "PPRIMARY"], target: "db", group: "x",
                                                    scheduleLocations: [SourceLocation(line: 3, column: 16), SourceLocation(line: 3, column: 29)])],
                                 index: OnCallIndex(Self.snapshot, rules: RuleSet(rules: [], source: nil)))
        #expect(roster.unmatchedSchedules.map(\.entry) == ["SRE Primray"])
        #expect(roster.unmatchedSchedules.first?.location == SourceLocation(line: 3, column: 16))
        #expect(roster.desired(at: Self.T).keys.map(\.userId) == ["PJANE"])
    }
}
