import Foundation
import OnCallStore
import Testing
@testable import Approval

/// The decision rules as a table: who asks, when, for how long, under which policy → the outcome
/// and the seconds granted. Pure: no server, no file.
@Suite struct DeciderTests {
    /// T: a whole hour, so the window edges below are exact seconds.
    static let T = Date(timeIntervalSince1970: Double(1_800_000_000 - 1_800_000_000 % 3600))

    /// - Jane: Primary [T−1h, T+1h), then Secondary [T+1h, T+3h): one stretch to T+3h.
    /// - Raj: Primary [T+4m59s, T+8h), inside the after-window. Omar: Primary [T+5m, T+8h), at its edge.
    /// - Lee: Primary [T−2h, T−30s), ended inside the before-window. Kim: Primary [T−2h, T−60s), at its edge.
    /// - Ana and Ben: Pairs (shift-based) [T−1h, T+2h) and [T−1h, T+4h), on call at once.
    /// - Sam: no shift. Policy: level 1 Primary and Pairs, level 2 Secondary.
    static let snapshot: SnapshotContents = {
        func shift(_ schedule: String, _ user: String, _ from: TimeInterval, _ to: TimeInterval) -> Shift {
            Shift(scheduleId: schedule, userId: user, start: T.addingTimeInterval(from), end: T.addingTimeInterval(to))
        }
        let people = ["Jane", "Raj", "Omar", "Lee", "Kim", "Ana", "Ben", "Sam"]
        return SnapshotContents(
            info: SnapshotInfo(startedAt: T, finishedAt: T, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(7 * 86_400)),
            users: people.map { User(id: "P\($0.uppercased())", name: $0, email: "\($0)@Example.com", timeZone: "UTC") },
            schedules: [Schedule(id: "PPRIMARY", name: "Primary", timeZone: "UTC"), Schedule(id: "PSECOND", name: "Secondary", timeZone: "UTC"),
                        Schedule(id: "PPAIRS", name: "Pairs", timeZone: "UTC", kind: .shiftBased)],
            shifts: [
                shift("PPRIMARY", "PJANE", -3600, 3600), shift("PSECOND", "PJANE", 3600, 3 * 3600),
                shift("PPRIMARY", "PRAJ", 299, 8 * 3600), shift("PPRIMARY", "POMAR", 300, 8 * 3600),
                shift("PPRIMARY", "PLEE", -7200, -30), shift("PPRIMARY", "PKIM", -7200, -60),
                shift("PPAIRS", "PANA", -3600, 2 * 3600), shift("PPAIRS", "PBEN", -3600, 4 * 3600),
            ],
            targets: [
                EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMARY"),
                EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPAIRS"),
                EscalationTarget(policyId: "PPOL", level: 2, ruleId: "R2", delayMinutes: 30, kind: .schedule, targetId: "PSECOND"),
            ])
    }()

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var email: String?
        var at: TimeInterval = 0
        var requested: TimeInterval?
        var policy = ApprovalPolicy()
        var outcome: Decision.Outcome
        var granted: Int?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "on call across two schedules back to back: to the stretch's end", email: "jane@example.com", outcome: .approved, granted: 3 * 3600),
        Case(label: "email case does not matter", email: "JANE@EXAMPLE.COM", outcome: .approved, granted: 3 * 3600),
        Case(label: "a Unicode look-alike (KELVIN SIGN for k) is someone else", email: "\u{212A}im@example.com", outcome: .unknownUser),
        Case(label: "starts inside the after-window", email: "raj@example.com", outcome: .approved, granted: 6 * 3600),
        Case(label: "starts at the after-window's edge (half-open)", email: "omar@example.com", outcome: .notOnCall),
        Case(label: "ended inside the before-window: nothing left", email: "lee@example.com", outcome: .shiftEnded),
        Case(label: "ended at the before-window's edge", email: "kim@example.com", outcome: .notOnCall),
        Case(label: "no shift", email: "sam@example.com", outcome: .notOnCall),
        Case(label: "not a PagerDuty user", email: "nobody@example.com", outcome: .unknownUser),
        Case(label: "no email", email: nil, outcome: .noEmail),
        Case(label: "an empty email", email: "", outcome: .noEmail),
        Case(label: "two on call at once in a shift-based schedule: the first to her end", email: "ana@example.com", outcome: .approved, granted: 2 * 3600),
        Case(label: "two on call at once: the second to his own end", email: "ben@example.com", outcome: .approved, granted: 4 * 3600),
        Case(label: "the requested duration caps the grant", email: "jane@example.com", requested: 3600, outcome: .approved, granted: 3600),
        Case(label: "an indefinite request (negative) is capped by the stretch", email: "jane@example.com", requested: -1e-9, outcome: .approved, granted: 3 * 3600),
        Case(label: "under a second requested", email: "jane@example.com", requested: 0.5, outcome: .durationTooShort),
        Case(label: "AUTO_APPROVAL_DURATION caps the grant", email: "raj@example.com", policy: ApprovalPolicy(maxDuration: 1.5 * 3600), outcome: .approved, granted: 5400),
        Case(label: "later: the grant shrinks with the stretch", email: "jane@example.com", at: 2 * 3600 + 1800, outcome: .approved, granted: 1800),
        Case(label: "the allow-list by name leaves only its schedule: not yet on call there", email: "jane@example.com",
             policy: ApprovalPolicy(allowedSchedules: ["Secondary"]), outcome: .outsideRuleSchedules),
        Case(label: "the allow-list by name: on call there an hour later", email: "jane@example.com", at: 3660,
             policy: ApprovalPolicy(allowedSchedules: ["Secondary"]), outcome: .approved, granted: 7140),
        Case(label: "the allow-list by id excludes the others", email: "raj@example.com", policy: ApprovalPolicy(allowedSchedules: ["PSECOND"]), outcome: .outsideRuleSchedules),
        Case(label: "the allow-list: not on call anywhere is still not_on_call", email: "sam@example.com", policy: ApprovalPolicy(allowedSchedules: ["PSECOND"]),
             outcome: .notOnCall),
        Case(label: "level 1 only: Secondary (level 2) does not extend the stretch", email: "jane@example.com", policy: ApprovalPolicy(maxEscalationLevel: 1),
             outcome: .approved, granted: 3600),
        Case(label: "level 1 only: later, on call only in Secondary (level 2)", email: "jane@example.com", at: 3660, policy: ApprovalPolicy(maxEscalationLevel: 1),
             outcome: .escalationLevelTooHigh),
        Case(label: "level 1 and an allow-list without Secondary: outside the list comes second", email: "jane@example.com", at: 3660,
             policy: ApprovalPolicy(allowedSchedules: ["Primary"], maxEscalationLevel: 1), outcome: .outsideRuleSchedules),
        Case(label: "level 1 only still reaches the shift-based schedule", email: "ben@example.com", policy: ApprovalPolicy(maxEscalationLevel: 1),
             outcome: .approved, granted: 4 * 3600),
    ]

    @Test(arguments: cases)
    func decides(_ check: Case) {
        let index = OnCallIndex(Self.snapshot, policy: check.policy)
        let decision = Decider.decide(email: check.email, requestedDuration: check.requested, now: Self.T.addingTimeInterval(check.at), roster: .ready(index))
        #expect(decision.outcome == check.outcome, "\(decision.reason)")
        #expect(decision.grantedSeconds == check.granted)
        #expect(decision.isApproved == (check.granted != nil))
    }

    @Test(arguments: [
        (Unavailable.noSnapshot, Decision.Outcome.noSnapshot),
        (.stale(age: 1000, limit: 900), .staleCache),
        (.auditUnavailable, .auditUnavailable),
    ])
    func nothingIsApprovedWithoutAUsableRoster(_ unavailable: Unavailable, outcome: Decision.Outcome) {
        let decision = Decider.decide(email: "jane@example.com", requestedDuration: nil, now: Self.T, roster: .unavailable(unavailable))
        #expect(decision.outcome == outcome && decision.grantedSeconds == nil && decision.user == nil)
        #expect(decision.reason == unavailable.reason + "; approving nothing")
    }

    /// A refusal says why: on call in a schedule the allow-list lacks, or reached too high, or not on
    /// call and when the next allowed shift starts.
    @Test func refusalsSayWhy() {
        func decide(_ email: String, at: TimeInterval = 0, _ policy: ApprovalPolicy) -> Decision {
            Decider.decide(email: email, requestedDuration: nil, now: Self.T.addingTimeInterval(at), roster: .ready(OnCallIndex(Self.snapshot, policy: policy)))
        }
        let level = decide("jane@example.com", at: 3660, ApprovalPolicy(maxEscalationLevel: 1))
        #expect(level.reason == "Jane is on call in Secondary, but at escalation level 2 (AUTO_APPROVAL_MAX_ESCALATION_LEVEL is 1)")
        #expect(level.elsewhere == OnCallElsewhere(scheduleId: "PSECOND", scheduleName: "Secondary", level: 2, maxLevel: 1, ruleName: "AUTO_APPROVAL"))
        #expect(level.scheduleIds.isEmpty && level.grantedSeconds == nil)

        let outside = decide("raj@example.com", ApprovalPolicy(allowedSchedules: ["PSECOND"]))
        #expect(outside.reason == "Raj is on call in Primary, which AUTO_APPROVAL_PAGERDUTY_SCHEDULES does not list")
        #expect(outside.elsewhere?.scheduleId == "PPRIMARY" && outside.elsewhere?.maxLevel == nil)

        // Omar's shift starts at the after-window's edge: not on call, and that is his next shift.
        let later = decide("omar@example.com", ApprovalPolicy())
        #expect(later.outcome == .notOnCall && later.reason == "Omar has no shift in an allowed schedule around now")
        #expect(later.nextShift == UpcomingShift(start: Self.T.addingTimeInterval(300), scheduleId: "PPRIMARY", scheduleName: "Primary"))
        // Jane, allowed only Secondary: her next shift there, an hour on.
        #expect(decide("jane@example.com", ApprovalPolicy(allowedSchedules: ["Secondary"])).nextShift?.start == Self.T.addingTimeInterval(3600))
        #expect(decide("sam@example.com", ApprovalPolicy()).nextShift == nil)

        let short = Decider.decide(email: "jane@example.com", requestedDuration: 0.5, now: Self.T, roster: .ready(OnCallIndex(Self.snapshot, policy: ApprovalPolicy())))
        #expect(short.outcome == .durationTooShort && short.reason == "the requested duration is under a second")
    }

    @Test func anApprovalsReasonNamesTheSchedulesAndTheEnd() {
        let decision = Decider.decide(email: "jane@example.com", requestedDuration: nil, now: Self.T, roster: .ready(OnCallIndex(Self.snapshot, policy: ApprovalPolicy())))
        #expect(decision.reason == "Auto-approved based on being on-call in Primary, Secondary until \(IndentTime.format(Self.T.addingTimeInterval(3 * 3600)))")
        #expect(decision.scheduleIds == ["PPRIMARY", "PSECOND"] && decision.stretchEnd == Self.T.addingTimeInterval(3 * 3600))
    }
}
