import Foundation
import OnCallStore

/// A resource as a caller names it: Indent's `kind`, `id` and `labels`, or the decision API's.
public struct ResourceRef: Sendable, Equatable {
    public var kind: String
    public var id: String
    public var labels: [String: String]

    public init(kind: String, id: String = "", labels: [String: String] = [:]) {
        self.kind = kind
        self.id = id
        self.labels = labels
    }

    /// `KIND:ID`, or `KIND` without an id: how reasons and `check` name a resource.
    public var display: String { id.isEmpty ? kind : "\(kind):\(id)" }
}

/// Which resources a rule is for: a glob on the kind, optionally on the id, and labels that must
/// all be present and match (each value a glob). A class: a decision walks every rule's patterns
/// until one matches, and reading a struct holding several strings and arrays out of an array
/// retained and released each of them (with 50 rules, most of a decision's time).
public final class ResourcePattern: Sendable, Equatable {
    public let kind: Glob
    public let id: Glob?
    public let labels: [(key: String, value: Glob)]

    public init(kind: Glob, id: Glob? = nil, labels: [(key: String, value: Glob)] = []) {
        self.kind = kind
        self.id = id
        self.labels = labels
    }

    public func matches(_ resource: ResourceRef) -> Bool {
        guard kind.matches(resource.kind) else { return false }
        if id?.matches(resource.id) == false { return false }
        if labels.isEmpty { return true }
        return labels.withUnsafeBufferPointer { labels in
            for index in labels.indices {
                guard let label = resource.labels[labels[index].key], labels[index].value.matches(label) else { return false }
            }
            return true
        }
    }

    public static func == (lhs: ResourcePattern, rhs: ResourcePattern) -> Bool {
        lhs.kind == rhs.kind && lhs.id == rhs.id && lhs.labels.map(\.key) == rhs.labels.map(\.key) && lhs.labels.map(\.value) == rhs.labels.map(\.value)
    }
}

/// Where something is in a rules file (1-based, as editors count).
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// One approval rule: for the resources it matches, who may be approved (on call in `schedules`,
/// reached at `maxEscalationLevel` or lower) and for how long at most, or `never`.
public struct ApprovalRule: Sendable, Equatable {
    public var name: String
    /// Empty: the rule matches every resource (the implicit rule of the AUTO_APPROVAL_* variables).
    public var resources: [ResourcePattern]
    public var approves: Bool
    /// Schedule ids or names; empty = every schedule.
    public var schedules: [String]
    public var maxEscalationLevel: Int?
    public var maxDuration: TimeInterval
    /// Where the rule starts in its file, and where each schedule entry is (for warnings).
    public var location: SourceLocation?
    public var scheduleLocations: [SourceLocation]

    public init(name: String, resources: [ResourcePattern] = [], approves: Bool = true, schedules: [String] = [],
                maxEscalationLevel: Int? = nil, maxDuration: TimeInterval = 6 * 3600, location: SourceLocation? = nil,
                scheduleLocations: [SourceLocation] = []) {
        self.name = name
        self.resources = resources
        self.approves = approves
        self.schedules = schedules
        self.maxEscalationLevel = maxEscalationLevel
        self.maxDuration = maxDuration
        self.location = location
        self.scheduleLocations = scheduleLocations
    }

    public func matches(_ resource: ResourceRef) -> Bool {
        guard !resources.isEmpty else { return true }
        return resources.withUnsafeBufferPointer { patterns in
            for index in patterns.indices where patterns[index].matches(resource) { return true }
            return false
        }
    }
}

/// The rules a decision uses: from a rules file (`--rules`), or the AUTO_APPROVAL_* variables as one
/// implicit rule matching everything. Either way the decision takes the same path; only the implicit
/// rule's reasons keep today's wording, byte for byte.
public struct RuleSet: Sendable, Equatable {
    public var rules: [ApprovalRule]
    /// `AUTO_APPROVAL_WINDOW_BEFORE` / `_AFTER`: for every rule.
    public var windowBefore: TimeInterval
    public var windowAfter: TimeInterval
    /// The rules file, or nil for the AUTO_APPROVAL_* variables.
    public var source: String?
    /// The file's `targets:` section: the systems grants put people into, by name (empty without it).
    public var targets: [GrantTarget]
    /// The file's `grants:` section, in file order (empty without it).
    public var grants: [GrantRule]

    public init(rules: [ApprovalRule], windowBefore: TimeInterval = 60, windowAfter: TimeInterval = 300, source: String?,
                targets: [GrantTarget] = [], grants: [GrantRule] = []) {
        self.rules = rules
        self.windowBefore = windowBefore
        self.windowAfter = windowAfter
        self.source = source
        self.targets = targets
        self.grants = grants
    }

    /// Today's variables as one rule that matches every resource.
    public init(policy: ApprovalPolicy) {
        self.init(rules: [ApprovalRule(name: "AUTO_APPROVAL", approves: true, schedules: policy.allowedSchedules,
                                       maxEscalationLevel: policy.maxEscalationLevel, maxDuration: policy.maxDuration)],
                  windowBefore: policy.windowBefore, windowAfter: policy.windowAfter, source: nil)
    }

    /// True for the AUTO_APPROVAL_* variables' single rule.
    public var isImplicit: Bool { source == nil }

    /// The position of the first rule that matches `resource`, or nil.
    public func ruleIndex(for resource: ResourceRef) -> Int? {
        rules.withUnsafeBufferPointer { rules in
            for index in rules.indices where rules[index].matches(resource) { return index }
            return nil
        }
    }

    /// The schedules `sync` needs to read: the union of the approving rules' `schedules`, when every
    /// approving rule lists some; nil (read everything) when any approving rule allows every schedule.
    /// Grants' schedules are added to it: a file with grants and no rules reads exactly those.
    public var syncScope: Set<String>? {
        var scope = Set<String>()
        for rule in rules where rule.approves {
            guard !rule.schedules.isEmpty else { return nil }
            scope.formUnion(rule.schedules)
        }
        for grant in grants { scope.formUnion(grant.schedules) }
        return scope
    }

    /// The target a grant names (nil when there is none: the reader refuses such a file).
    public func target(named name: String) -> GrantTarget? {
        targets.first { $0.name == name }
    }

    /// The longest grant any approving rule allows (how far ahead `sync` must read).
    public var longestDuration: TimeInterval {
        rules.filter(\.approves).map(\.maxDuration).max() ?? 0
    }
}

/// A system whose groups grants put on-call people into (the rules file's `targets:` section). The
/// file holds no secret: a credential is named by a file path or an environment variable only.
public struct GrantTarget: Sendable, Equatable {
    /// The kinds of system a target can be. The set is open for the systems later issues add; the
    /// reader refuses a kind not listed here, and one listed that is not built yet (`isBuilt`).
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case postgres
        case exec
        case okta
        case entra
        case google
        case github
        case slack
        case awsIAM = "aws-iam"
        case awsIdentityCenter = "aws-identity-center"

        /// Whether Shiftgate can act on this kind today.
        public var isBuilt: Bool { self == .postgres || self == .exec }
    }

    /// Where a target's secret comes from; never the secret itself.
    public enum Credential: Sendable, Equatable {
        /// `password_file`: a file holding the secret (trimmed when read).
        case file(String)
        /// `password_env`: the environment variable holding it.
        case environment(String)
    }

    public var name: String
    public var kind: Kind
    /// `url` (postgres): the server, without a password.
    public var url: String?
    /// Nil: the kind's own default (PGPASSWORD for postgres).
    public var credential: Credential?
    /// `user` or `map_file`: how a PagerDuty user is named in this target.
    public var naming: UserNaming
    /// `command` (exec): the program and its first arguments; Shiftgate appends `list`, `add` or `remove`.
    public var command: [String]
    /// `timeout`: how long one call to the target may take (default 30s).
    public var timeout: TimeInterval
    /// Where the target's entry is in its file.
    public var location: SourceLocation?

    public static let defaultTimeout: TimeInterval = 30

    public init(name: String, kind: Kind, url: String? = nil, credential: Credential? = nil, naming: UserNaming = .default,
                command: [String] = [], timeout: TimeInterval = GrantTarget.defaultTimeout, location: SourceLocation? = nil) {
        self.name = name
        self.kind = kind
        self.url = url
        self.credential = credential
        self.naming = naming
        self.command = command
        self.timeout = timeout
        self.location = location
    }
}

/// How a PagerDuty user is named in a target: a template over the user's fields, or a map file
/// (YAML `email: name`). A user the naming cannot name is skipped, never a stop for the rest.
public enum UserNaming: Sendable, Equatable {
    /// A template with `{email}`, `{email_local}` (before the @), `{name}`, `{pagerduty_id}`.
    case template(String)
    /// `map_file`: the path of a YAML mapping from email to the target's name.
    case mapFile(String)

    /// `{email}`: a target that names people by their email.
    public static let `default` = UserNaming.template("{email}")
    /// A map file's entries keyed as `name(for:map:)` looks them up (emails ASCII case folded), so
    /// that naming a person is one dictionary hit. Of two emails that fold alike, the first in
    /// sorted order wins, so the choice does not depend on the file's order.
    public static func foldedMap(_ entries: [String: String]) -> [String: String] {
        var folded: [String: String] = [:]
        for (email, name) in entries.sorted(by: { $0.key < $1.key }) where folded[email.emailMatchKey] == nil {
            folded[email.emailMatchKey] = name
        }
        return folded
    }

    /// The placeholders a template may use.
    public static let placeholders = ["email", "email_local", "name", "pagerduty_id"]

    /// The placeholders a template uses that are not known, in order (empty when it is valid), or
    /// nil when its braces do not pair up.
    public static func unknownPlaceholders(in template: String) -> [String]? {
        var unknown: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else { return nil }
            let name = String(rest[rest.index(after: open)..<close])
            guard !name.contains("{") else { return nil }
            if !placeholders.contains(name) { unknown.append(name) }
            rest = rest[rest.index(after: close)...]
        }
        return unknown
    }

    /// The user's name in the target, or nil when it cannot be made: a template over an empty field
    /// (no email, no name), a map without the user's email (compared case-insensitively, as
    /// approvals compare emails), or a result that is empty or holds a control character.
    /// `map` is the map file's contents for `.mapFile`, its keys folded by `foldedMap`; ignored for
    /// a template.
    public func name(for user: User, map: [String: String]? = nil) -> String? {
        let result: String
        switch self {
        case .template(let template):
            let email = user.email.trimmingCharacters(in: .whitespaces)
            let local = email.lastIndex(of: "@").map { String(email[..<$0]) } ?? ""
            let values = ["email": email, "email_local": local, "name": user.name, "pagerduty_id": user.id]
            var text = ""
            var rest = Substring(template)
            while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
                text += rest[..<open]
                guard let value = values[String(rest[rest.index(after: open)..<close])], !value.isEmpty else { return nil }
                text += value
                rest = rest[rest.index(after: close)...]
            }
            result = text + rest
        case .mapFile:
            let key = user.email.emailMatchKey
            guard !key.isEmpty, let found = map?[key] else { return nil }
            result = found
        }
        guard !result.isEmpty, !result.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return nil }
        return result
    }
}

/// What a grant does with its members when the cache is stale (older than `--max-staleness`).
public enum StaleAction: String, Sendable, Equatable {
    /// Remove everyone Shiftgate added (fail closed). The default.
    case revoke
    /// Keep the members Shiftgate added until their recorded end; add nobody.
    case keep
}

/// One entry of the rules file's `grants:` section: whoever is on call in `schedules` (reached at
/// `maxEscalationLevel` or lower) belongs in `group` of `target`, from `lead` before their stretch
/// to `grace` after it.
public struct GrantRule: Sendable, Equatable {
    /// Unique in the file; in logs, the audit and metrics.
    public var name: String
    /// Schedule ids or names, as in rules; never empty.
    public var schedules: [String]
    public var maxEscalationLevel: Int?
    /// The name of an entry of `targets:`.
    public var target: String
    /// The group, role or team in the target.
    public var group: String
    public var lead: TimeInterval
    public var grace: TimeInterval
    /// True: the group holds exactly the on-call people; anyone else is removed.
    public var exclusive: Bool
    public var onStale: StaleAction
    public var location: SourceLocation?
    public var scheduleLocations: [SourceLocation]

    public init(name: String, schedules: [String], maxEscalationLevel: Int? = nil, target: String, group: String,
                lead: TimeInterval = 0, grace: TimeInterval = 0, exclusive: Bool = false, onStale: StaleAction = .revoke,
                location: SourceLocation? = nil, scheduleLocations: [SourceLocation] = []) {
        self.name = name
        self.schedules = schedules
        self.maxEscalationLevel = maxEscalationLevel
        self.target = target
        self.group = group
        self.lead = lead
        self.grace = grace
        self.exclusive = exclusive
        self.onStale = onStale
        self.location = location
        self.scheduleLocations = scheduleLocations
    }
}
