import Foundation
import OnCallStore
import Testing
@testable import Approval

/// The rules as a decision table, over DeciderTests' roster: Jane on call in Primary (level 1) to
/// T+1h then Secondary (level 2) to T+3h; Raj in Primary from T+4m59s to T+8h; Ana in Pairs
/// (level 1) to T+2h; Sam nowhere.
@Suite struct RulesDecisionTests {
    static let T = DeciderTests.T

    static let rulesText = """
        rules:
          - name: prod-db-never
            resources:
              - kind: "postgres.*"
                id: "*prod*"
              - kind: "*"
                labels: {data: "customer-*"}
            approve: never
          - name: prod-aws
            resources:
              - kind: aws.iam.v1.Role
                id: "arn:aws:iam::*:role/prod-*"
            schedules: [PPRIMARY, Secondary]
            max_escalation_level: 1
            max_duration: 2h
          - name: ssh
            resources: [{kind: "ssh.host", id: "web-[0-9]?"}]
            schedules: [Primary, Secondary]
            max_duration: 90m
          - name: pairs-only
            resources: [{kind: "k8s.*", labels: {env: staging, team: "pl?tform"}}]
            schedules: [Pairs]
          - name: everything-else
            resources: [{kind: "*"}]
        """

    static let rules: RuleSet = {
        // AUTO_APPROVAL_DURATION stays the default max_duration: 5h here.
        try! RulesFile.parse(rulesText, file: "rules.yaml", defaults: ApprovalPolicy(maxDuration: 5 * 3600))
    }()

    static let prodRole = ResourceRef(kind: "aws.iam.v1.Role", id: "arn:aws:iam::123456789012:role/prod-admin")
    static let devRole = ResourceRef(kind: "aws.iam.v1.Role", id: "arn:aws:iam::123456789012:role/dev-admin")
    static let prodDB = ResourceRef(kind: "postgres.database", id: "orders-prod-1")
    static let web = ResourceRef(kind: "ssh.host", id: "web-42")
    static let stagingK8s = ResourceRef(kind: "k8s.namespace", id: "payments", labels: ["env": "staging", "team": "platform"])

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var email = "jane@example.com"
        var resources: [ResourceRef]
        var requested: TimeInterval?
        var at: TimeInterval = 0
        var outcome: Decision.Outcome
        var granted: Int?
        var rules: [String]
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "rule order: the never rule comes first and wins over everything-else", resources: [prodDB], outcome: .ruleNever, rules: ["prod-db-never"]),
        Case(label: "a label glob sends any kind to the never rule", resources: [ResourceRef(kind: "s3.bucket", id: "x", labels: ["data": "customer-eu"])],
             outcome: .ruleNever, rules: ["prod-db-never"]),
        Case(label: "a postgres kind without prod in its id falls through to everything-else (default 5h, stretch 3h)",
             resources: [ResourceRef(kind: "postgres.database", id: "orders-dev")], outcome: .approved, granted: 3 * 3600, rules: ["everything-else"]),
        Case(label: "globs on kind and id: prod role, level 1 only, so Secondary does not extend; 2h cap vs 1h left",
             resources: [prodRole], outcome: .approved, granted: 3600, rules: ["prod-aws"]),
        Case(label: "the id glob does not match a dev role: everything-else", resources: [devRole], outcome: .approved, granted: 3 * 3600, rules: ["everything-else"]),
        Case(label: "prod role for someone on call only in Pairs: not in the rule's schedules", email: "ana@example.com",
             resources: [prodRole], outcome: .outsideRuleSchedules, rules: ["prod-aws"]),
        Case(label: "'?' and '[0-9]' in the id: ssh capped at 90m", resources: [web], outcome: .approved, granted: 5400, rules: ["ssh"]),
        Case(label: "an id the ssh glob does not match falls through", resources: [ResourceRef(kind: "ssh.host", id: "db-1")],
             outcome: .approved, granted: 3 * 3600, rules: ["everything-else"]),
        Case(label: "labels all match: Pairs only, Ana approved to her end", email: "ana@example.com", resources: [stagingK8s],
             outcome: .approved, granted: 2 * 3600, rules: ["pairs-only"]),
        Case(label: "labels all match, but Jane is not in Pairs", resources: [stagingK8s], outcome: .outsideRuleSchedules, rules: ["pairs-only"]),
        Case(label: "one label missing: that rule does not match", email: "ana@example.com",
             resources: [ResourceRef(kind: "k8s.namespace", id: "payments", labels: ["env": "staging"])], outcome: .approved, granted: 2 * 3600,
             rules: ["everything-else"]),
        Case(label: "matching is case-sensitive", resources: [ResourceRef(kind: "POSTGRES.database", id: "orders-PROD")],
             outcome: .approved, granted: 3 * 3600, rules: ["everything-else"]),
        Case(label: "several resources, different rules: the shortest limit wins (ssh 90m, prod-aws 1h left)", resources: [web, prodRole],
             outcome: .approved, granted: 3600, rules: ["ssh", "prod-aws"]),
        Case(label: "several resources: one never refuses the whole request", resources: [web, prodDB], outcome: .ruleNever, rules: ["prod-db-never"]),
        Case(label: "several resources: one rule not satisfied refuses the whole request", email: "ana@example.com", resources: [stagingK8s, prodRole],
             outcome: .outsideRuleSchedules, rules: ["prod-aws"]),
        Case(label: "the requested duration caps under every rule", resources: [web, devRole], requested: 600, outcome: .approved, granted: 600,
             rules: ["ssh", "everything-else"]),
        Case(label: "later on: Jane only in Secondary (level 2): prod-aws refuses", resources: [prodRole], at: 3600 + 60, outcome: .escalationLevelTooHigh, rules: ["prod-aws"]),
        Case(label: "later on: ssh allows Secondary", resources: [web], at: 3600 + 60, outcome: .approved, granted: 5400, rules: ["ssh"]),
        Case(label: "no shift anywhere", email: "sam@example.com", resources: [devRole], outcome: .notOnCall, rules: ["everything-else"]),
        Case(label: "a never rule refuses even an unknown person", email: "nobody@example.com", resources: [prodDB], outcome: .ruleNever, rules: ["prod-db-never"]),
        Case(label: "an unknown person", email: "nobody@example.com", resources: [devRole], outcome: .unknownUser, rules: []),
        Case(label: "a request naming no resource", resources: [], outcome: .noRule, rules: []),
    ]

    @Test(arguments: cases)
    func decides(_ check: Case) {
        let index = OnCallIndex(DeciderTests.snapshot, rules: Self.rules)
        let decision = Decider.decide(email: check.email, resources: check.resources, requestedDuration: check.requested,
                                      now: Self.T.addingTimeInterval(check.at), roster: .ready(index))
        #expect(decision.outcome == check.outcome, "\(decision.reason)")
        #expect(decision.grantedSeconds == check.granted, "\(decision.reason)")
        #expect(decision.rules == check.rules)
        for name in check.rules { #expect(decision.reason.contains(name), "\(decision.reason)") }
    }

    @Test func aResourceNoRuleMatchesIsNotApproved() throws {
        let rules = try RulesFile.parse("rules:\n  - name: only-ssh\n    resources: [{kind: ssh.host}]\n", file: "r.yaml", defaults: ApprovalPolicy())
        let index = OnCallIndex(DeciderTests.snapshot, rules: rules)
        let decision = Decider.decide(email: "jane@example.com", resources: [ResourceRef(kind: "ssh.host"), Self.prodRole], requestedDuration: nil,
                                      now: Self.T, index: index)
        #expect(decision.outcome == .noRule && !decision.isApproved)
        #expect(decision.reason == "no rule matches the resource aws.iam.v1.Role:arn:aws:iam::123456789012:role/prod-admin")
    }

    @Test func refusalReasonsNameTheRuleAndTheSchedule() {
        let index = OnCallIndex(DeciderTests.snapshot, rules: Self.rules)
        let level = Decider.decide(email: "jane@example.com", resources: [Self.prodRole], requestedDuration: nil, now: Self.T.addingTimeInterval(3660), index: index)
        #expect(level.reason == "Jane is on call in Secondary, but at escalation level 2 (rule prod-aws allows 1)")
        let outside = Decider.decide(email: "ana@example.com", resources: [Self.prodRole], requestedDuration: nil, now: Self.T, index: index)
        #expect(outside.reason == "Ana is on call in Pairs, which rule prod-aws does not allow")
        #expect(outside.nextShift == nil)
    }

    @Test func approvalReasonsNameTheRules() {
        let index = OnCallIndex(DeciderTests.snapshot, rules: Self.rules)
        let decision = Decider.decide(email: "jane@example.com", resources: [Self.web, Self.prodRole], requestedDuration: nil, now: Self.T, index: index)
        #expect(decision.reason == "Auto-approved based on being on-call in Primary until \(IndentTime.format(Self.T.addingTimeInterval(3600))) (rules ssh, prod-aws)")
    }

    /// Without a rules file the variables are one rule that matches everything: resources are not
    /// looked at, and outcomes, grants and reasons are today's, byte for byte.
    @Test(arguments: DeciderTests.cases)
    func withoutAFileNothingChanges(_ check: DeciderTests.Case) {
        let index = OnCallIndex(DeciderTests.snapshot, policy: check.policy)
        let now = Self.T.addingTimeInterval(check.at)
        let plain = Decider.decide(email: check.email, requestedDuration: check.requested, now: now, roster: .ready(index))
        for resources in [[], [Self.prodDB], [Self.web, Self.prodRole]] {
            let withResources = Decider.decide(email: check.email, resources: resources, requestedDuration: check.requested, now: now, roster: .ready(index))
            #expect(withResources == plain)
        }
        #expect(plain.rules.isEmpty)
        #expect(!plain.reason.contains("(rule"))
        #expect(plain.outcome == check.outcome && plain.grantedSeconds == check.granted)
    }

    /// `/v1/oncall` asks with no resource: on call in any schedule an approving rule allows.
    @Test func aLookupWithoutResourcesUsesEveryApprovingRulesSchedules() throws {
        let rules = try RulesFile.parse("rules:\n  - name: pairs\n    resources: [{kind: \"*\"}]\n    schedules: [Pairs]\n", file: "r.yaml", defaults: ApprovalPolicy())
        let index = OnCallIndex(DeciderTests.snapshot, rules: rules)
        #expect(Decider.decide(email: "ana@example.com", requestedDuration: nil, now: Self.T, index: index).isApproved)
        #expect(Decider.decide(email: "jane@example.com", requestedDuration: nil, now: Self.T, index: index).outcome == .outsideRuleSchedules)
        #expect(Decider.decide(email: "jane@example.com", requestedDuration: nil, now: Self.T, index: index).reason
                == "Jane is on call in Primary, which no approving rule allows")
        #expect(rules.syncScope == ["Pairs"])
        #expect(Self.rules.syncScope == nil)
    }
}
