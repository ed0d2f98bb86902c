import Approval
import ArgumentParser
import Foundation
import SafeText
import OnCallStore
import PagerDuty
import Timestamps

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Decide offline whether EMAIL is on call, as the webhook would; or list who is on call in a schedule.",
        discussion: """
            Uses the same AUTO_APPROVAL_* variables and rules file (--rules / SHIFTGATE_RULES) as
            `serve`. With a rules file, --resource KIND[:ID] (repeatable) names what is asked for, with
            --label KEY=VALUE (repeatable) for its labels, and the output says which rule decided each
            resource and why. A refusal says why: on call, but in a schedule the rule does not allow or
            at too high an escalation level, or not on call and when the next allowed shift starts.
            With --schedule instead of EMAIL, lists
            everyone on call in that schedule (by id or name) at the time: a set, since a shift-based
            schedule can have several people on call at once.

            Examples:
              shiftgate check jane@example.com
              shiftgate check jane@example.com --at 2026-11-26T09:00:00Z
              shiftgate check --schedule Primary        # or its id; quote names with spaces
              shiftgate check jane@example.com --rules rules.yaml --resource aws.iam.v1.Role:arn:aws:iam::1:role/prod-admin
              shiftgate check jane@example.com --rules rules.yaml --resource k8s.namespace:payments --label env=prod
            Exit codes: 0 on call (with --schedule: someone is); 1 not on call (nobody is);
            2 cannot decide (no snapshot, or stale with --max-staleness; a time outside the cached
            window; an unknown schedule).
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Argument(help: "The requester's email (matched case-insensitively).")
    var email: String?

    @Option(help: ArgumentHelp("List everyone on call in this schedule (id or name) instead.", valueName: "schedule"))
    var schedule: String?

    @Option(help: ArgumentHelp("Decide as of this time (RFC 3339) instead of now.", valueName: "time"))
    var at: String?

    @Option(help: "Refuse to decide from a snapshot older than this; at most 7d.", transform: CLIDuration.argument)
    var maxStaleness: CLIDuration?

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @OptionGroup var rulesOptions: RulesOptions

    @Option(name: .customLong("resource"), help: ArgumentHelp("A resource asked for, KIND or KIND:ID (repeatable); the rules file's rules apply to it.", valueName: "kind[:id]"))
    var resources: [ResourceArgument] = []

    @Option(name: .customLong("label"), help: ArgumentHelp("A label of the resources asked for, KEY=VALUE (repeatable); it applies to every --resource.",
                                                           valueName: "key=value"))
    var labels: [LabelArgument] = []

    func validate() throws {
        if (email == nil) == (schedule == nil) { throw ValidationError("give either EMAIL or --schedule") }
        if !resources.isEmpty, schedule != nil { throw ValidationError("--resource goes with EMAIL, not --schedule") }
        if let maxStaleness { try ServeCommand.checkStaleness(maxStaleness) }
        if !labels.isEmpty, resources.isEmpty { throw ValidationError("--label needs a --resource to label") }
        var keys = Set<String>()
        for label in labels where !keys.insert(label.key).inserted {
            throw ValidationError("--label: the key '\(label.key.printable)' is given twice")
        }
        if let at, RFC3339.parse(at) == nil { throw ValidationError("--at: '\(at)' is not an RFC 3339 time such as 2026-11-26T09:00:00Z") }
    }

    func run() async throws {
        common.bootstrapLogging()
        let policy = try ApprovalPolicy.fromEnvironment()
        let rules = try rulesOptions.load(policy: policy)
        let contents: SnapshotContents?
        do {
            contents = try await common.withStore(.read, logger: LoggingBootstrap.logger("check")) { try await $0.currentSnapshot() }
        } catch {
            throw fail("\(error)", code: ShiftgateExit.cannotDecide)
        }
        guard let contents else { throw fail("no complete snapshot in the cache: run `shiftgate sync` first", code: ShiftgateExit.cannotDecide) }
        let now = at.flatMap(RFC3339.parse) ?? Date()
        let age = Date().timeIntervalSince(contents.info.finishedAt)
        if let maxStaleness, age > maxStaleness.seconds {
            throw fail("the cache is \(CLIDuration(seconds: age.rounded())) old, over --max-staleness \(maxStaleness)", code: ShiftgateExit.cannotDecide)
        }
        let index = OnCallIndex(contents, rules: rules ?? RuleSet(policy: policy))
        // Outside the snapshot's window the cache holds no shifts: "not on call" would be a guess.
        let from = email == nil ? now : now.addingTimeInterval(-index.rules.windowBefore)
        let to = email == nil ? now : now.addingTimeInterval(index.rules.windowAfter)
        guard index.covers(from, to) else {
            let window = "\(ReadableTime.utc(contents.info.windowStart)) to \(ReadableTime.utc(contents.info.windowEnd)) in snapshot \(contents.info.id)"
            let asked = from == to ? ReadableTime.utc(now) : "\(ReadableTime.utc(from)) to \(ReadableTime.utc(to)) (the decision's window around \(ReadableTime.utc(now)))"
            throw fail("cannot decide (outside the cached window, \(window)): \(asked) is not in it; give an --at inside it, "
                       + "or sync with a longer --lookback or --horizon", code: ShiftgateExit.cannotDecide)
        }
        guard let email else {
            return try listSchedule(schedule ?? "", index: index, now: now, age: age)
        }
        if let unconfirmed = index.unconfirmedAllowedSchedules(at: now).first {
            throw fail(Self.unconfirmed(unconfirmed, at: now, snapshot: contents.info.id), code: ShiftgateExit.cannotDecide)
        }
        let labelled = Dictionary(labels.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
        let asked = resources.map { ResourceRef(kind: $0.resource.kind, id: $0.resource.id, labels: labelled) }
        // Without --resource, a rules file is asked "on call in any schedule the rules look at?"
        // (as /v1/oncall asks); the implicit rule of the variables ignores resources.
        let decision = Decider.decide(email: email, resources: asked.isEmpty ? nil : asked, requestedDuration: nil, now: now, index: index)
        switch format {
        case .json:
            struct Output: Encodable {
                var email: String
                var onCall: Bool
                var outcome: String
                var reason: String
                var userId: String?
                var userName: String?
                var schedules: [[String: String]]
                var until: String?
                var wouldGrant: String?
                var at: String
                var snapshotId: Int64
                var rules: [String]?
                var resources: [[String: String]]?
            }
            print(try encodeJSON(Output(
                email: email, onCall: decision.isApproved, outcome: decision.outcome.rawValue, reason: decision.reason,
                userId: decision.user?.id, userName: decision.user?.name,
                schedules: zip(decision.scheduleIds, decision.scheduleNames).map { ["id": $0, "name": $1] },
                until: decision.stretchEnd.map { RFC3339.format($0) }, wouldGrant: decision.grantedSeconds.map { GoDuration.format(seconds: $0) },
                at: RFC3339.format(now), snapshotId: contents.info.id,
                rules: rules == nil ? nil : decision.rules,
                resources: rules == nil ? nil : explain(asked, rules: index.rules).map { ["resource": $0.resource, "rule": $0.rule, "effect": $0.effect] })))
        case .text:
            let who = decision.user.map { "\($0.name) <\($0.email)>, \($0.id)" } ?? email
            let verdict = decision.isApproved ? "ON CALL" : decision.elsewhere != nil ? "on call, not approved" : "not on call"
            printLine("\(who): \(verdict) (\(decision.outcome.rawValue))")
            if !decision.scheduleIds.isEmpty {
                printLine("  schedules:   " + zip(decision.scheduleIds, decision.scheduleNames).map { "\($1) (\($0))" }.joined(separator: ", "))
            }
            if let refusal = refusalLine(decision, rules: index.rules) { printLine("  refused:     \(refusal)") }
            if let next = nextShiftLine(decision, snapshot: contents.info) { printLine("  next shift:  \(next)") }
            if let end = decision.stretchEnd { printLine("  stretch end: \(ReadableTime.utc(end))") }
            if let seconds = decision.grantedSeconds { printLine("  would grant: \(GoDuration.format(seconds: seconds))") }
            if rules != nil {
                for line in explain(asked, rules: index.rules) {
                    printLine("  resource:    \(line.resource) -> \(line.rule) (\(line.effect))")
                }
            }
            printLine("  reason:      \(decision.reason)")
            printLine("  decided at:  \(ReadableTime.utc(now)) from snapshot \(contents.info.id) (\(CLIDuration(seconds: max(0, age.rounded()))) old)")
        }
        if !decision.isApproved { throw ShiftgateExit.notOnCall }
    }
}

extension CheckCommand {
    /// Why someone on call was refused, in one line: where they are on call and what the rule allows.
    func refusalLine(_ decision: Decision, rules: RuleSet) -> String? {
        guard let elsewhere = decision.elsewhere else { return nil }
        let schedule = "\(elsewhere.scheduleName) (\(elsewhere.scheduleId))"
        let rule = rules.isImplicit ? nil : elsewhere.ruleName.map { "rule \($0)" }
        guard let maxLevel = elsewhere.maxLevel else {
            let allowed = rules.isImplicit ? "AUTO_APPROVAL_PAGERDUTY_SCHEDULES does not list it"
                : rule.map { "\($0) does not allow it" } ?? "no approving rule allows it"
            return "on call in \(schedule), but \(allowed)"
        }
        let limit = rule.map { "\($0) allows \(maxLevel)" } ?? "AUTO_APPROVAL_MAX_ESCALATION_LEVEL is \(maxLevel)"
        guard let level = elsewhere.level else { return "on call in \(schedule), but no escalation policy reaches it (\(limit))" }
        return "on call in \(schedule), but at escalation level \(level) (\(limit))"
    }

    /// For someone known and not on call where the rule allows: when their next allowed shift starts,
    /// or that the cache has none before its window ends.
    func nextShiftLine(_ decision: Decision, snapshot: SnapshotInfo) -> String? {
        guard decision.user != nil, [.notOnCall, .outsideRuleSchedules, .escalationLevelTooHigh].contains(decision.outcome) else { return nil }
        guard let next = decision.nextShift else {
            return "none in an allowed schedule before \(ReadableTime.utc(snapshot.windowEnd)) (the end of the cached window)"
        }
        return "starts \(ReadableTime.utc(next.start)) in \(next.scheduleName) (\(next.scheduleId))"
    }

    /// Which rule each resource takes (the first that matches) and what that rule does.
    func explain(_ resources: [ResourceRef], rules: RuleSet) -> [(resource: String, rule: String, effect: String)] {
        resources.map { resource in
            guard let position = rules.ruleIndex(for: resource) else { return (resource.display, "no rule", "not approved: no rule matches") }
            let rule = rules.rules[position]
            let line = rule.location.map { ", \(rules.source ?? ""):\($0.line)" } ?? ""
            let effect = rule.approves
                ? "rule \(position + 1)\(line): on call in \(rule.schedules.isEmpty ? "any schedule" : rule.schedules.joined(separator: ", "))"
                    + (rule.maxEscalationLevel.map { " at escalation level <= \($0)" } ?? "") + ", at most \(CLIDuration(seconds: rule.maxDuration))"
                : "rule \(position + 1)\(line): never"
            return (resource.display, rule.name, effect)
        }
    }

    /// Why a refresh's snapshot cannot answer for `schedule` at `instant`.
    static func unconfirmed(_ schedule: Schedule, at instant: Date, snapshot: Int64) -> String {
        let span = [schedule.confirmedSince, schedule.confirmedUntil].map { $0.map { RFC3339.format($0) } ?? "the window's edge" }
        return "snapshot \(snapshot) is a refresh: it confirms schedule \(schedule.id)'s roster only from \(span[0]) to \(span[1]), "
            + "not at \(RFC3339.format(instant)); ask again after its turn, or run `shiftgate sync --full`"
    }

    /// `--schedule`: everyone on call there at `now`, each to the end of their own stretch.
    func listSchedule(_ key: String, index: OnCallIndex, now: Date, age: TimeInterval) throws {
        guard let found = index.schedule(idOrName: key) else {
            throw fail("no schedule with the id or name '\(key)' in snapshot \(index.snapshot.id)", code: ShiftgateExit.cannotDecide)
        }
        guard found.isConfirmed(at: now) else {
            throw fail(Self.unconfirmed(found, at: now, snapshot: index.snapshot.id), code: ShiftgateExit.cannotDecide)
        }
        let people = index.onCall(scheduleId: found.id, at: now)
        switch format {
        case .json:
            struct Person: Encodable {
                var id: String
                var name: String
                var email: String
                var until: String
            }
            struct Output: Encodable {
                var schedule: [String: String]
                var onCall: [Person]
                var allowed: Bool
                var at: String
                var snapshotId: Int64
                var rules: [String]?
                var resources: [[String: String]]?
            }
            print(try encodeJSON(Output(
                schedule: ["id": found.id, "name": found.name, "kind": found.kind.rawValue, "time_zone": found.timeZone],
                onCall: people.map { Person(id: $0.userId, name: $0.user?.name ?? $0.userId, email: $0.user?.email ?? "", until: RFC3339.format($0.until)) },
                allowed: index.allowedScheduleIds.contains(found.id), at: RFC3339.format(now), snapshotId: index.snapshot.id)))
        case .text:
            let kind = found.kind == .shiftBased ? "shift-based" : "layer-based"
            printLine("\(found.name) (\(found.id), \(kind), \(found.timeZone)): \(people.isEmpty ? "nobody on call" : "\(people.count) on call")")
            for person in people {
                let who = person.user.map { "\($0.name) <\($0.email)>" } ?? person.userId
                printLine("  \(who) until \(ReadableTime.utc(person.until))")
            }
            if !index.allowedScheduleIds.contains(found.id) {
                printLine(index.rules.isImplicit ? "  (not a schedule AUTO_APPROVAL_* allows: nobody here is approved through it)"
                                             : "  (no approving rule of \(index.rules.source ?? "the rules file") allows this schedule)")
            }
            printLine("  at \(ReadableTime.utc(now)) from snapshot \(index.snapshot.id) (\(CLIDuration(seconds: max(0, age.rounded()))) old)")
        }
        if people.isEmpty { throw ShiftgateExit.notOnCall }
    }
}

/// `--label KEY=VALUE`: the key up to the first `=`, which must not be empty.
struct LabelArgument: ExpressibleByArgument {
    let key: String
    let value: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else { return nil }
        key = String(argument[..<equals])
        value = String(argument[argument.index(after: equals)...])
    }
}
