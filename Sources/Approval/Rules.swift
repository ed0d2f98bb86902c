import Foundation

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

    public init(rules: [ApprovalRule], windowBefore: TimeInterval = 60, windowAfter: TimeInterval = 300, source: String?) {
        self.rules = rules
        self.windowBefore = windowBefore
        self.windowAfter = windowAfter
        self.source = source
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
    public var syncScope: Set<String>? {
        var scope = Set<String>()
        for rule in rules where rule.approves {
            guard !rule.schedules.isEmpty else { return nil }
            scope.formUnion(rule.schedules)
        }
        return scope
    }

    /// The longest grant any approving rule allows (how far ahead `sync` must read).
    public var longestDuration: TimeInterval {
        rules.filter(\.approves).map(\.maxDuration).max() ?? 0
    }
}
