import Foundation
import OnCallStore

/// What changed between two snapshots of the on-call cache, as `Drift.diff(from:to:)` computes it.
///
/// Schedules and escalation policies are matched by PagerDuty ID, so a rename is reported as a rename.
/// Everything that depends on time (on-call changes, overrides, gaps) is compared only inside
/// `comparedWindow`, the stretch both snapshots cover; outside it one snapshot simply has no data.
///
/// The report is plain data: render it with `Drift.render(_:as:)`. Its JSON form is documented in
/// `DRIFT-JSON.md` beside this file; `format_version` changes whenever that shape changes incompatibly.
public struct DriftReport: Codable, Sendable, Equatable {
    /// The version of the JSON shape, written as `format_version`. 3: keys in snake_case, like every
    /// other JSON output. 2: schedules carry their `kind` (layer-based or shift-based) and
    /// `kind_change`, and each side of an on-call change is a set of any size (shift-based schedules
    /// put several people on call at once).
    public static let formatVersion = 3

    /// The older snapshot.
    public var from: SnapshotSummary
    /// The newer snapshot.
    public var to: SnapshotSummary
    /// The overlap of the two snapshots' windows; nil when they do not overlap, in which case only
    /// structural changes (schedules, members, policies) can be reported.
    public var comparedWindow: Interval?
    /// Schedules with at least one change, sorted by name (case-insensitively), then ID.
    public var schedules: [ScheduleDrift]
    /// Escalation policies with at least one change, sorted by name (case-insensitively), then ID.
    public var escalationPolicies: [PolicyDrift]

    public init(
        from: SnapshotSummary, to: SnapshotSummary, comparedWindow: Interval?,
        schedules: [ScheduleDrift] = [], escalationPolicies: [PolicyDrift] = []
    ) {
        self.from = from
        self.to = to
        self.comparedWindow = comparedWindow
        self.schedules = schedules
        self.escalationPolicies = escalationPolicies
    }

    /// True when nothing changed between the two snapshots.
    public var isEmpty: Bool { schedules.isEmpty && escalationPolicies.isEmpty }

    /// One line for humans and for the JSON `summary` key, e.g. "2 schedules and 1 escalation policy changed".
    public var summary: String {
        if isEmpty { return "No drift between snapshot \(from.id) and snapshot \(to.id)." }
        var parts: [String] = []
        if !schedules.isEmpty { parts.append(Self.count(schedules.count, "schedule", "schedules")) }
        if !escalationPolicies.isEmpty {
            parts.append(Self.count(escalationPolicies.count, "escalation policy", "escalation policies"))
        }
        return parts.joined(separator: " and ") + " changed between snapshot \(from.id) and snapshot \(to.id)."
    }

    static func count(_ count: Int, _ singular: String, _ plural: String) -> String {
        "\(count) \(count == 1 ? singular : plural)"
    }
}

// MARK: - Building blocks

extension DriftReport {
    /// A half-open stretch of time [start, end).
    public struct Interval: Codable, Sendable, Hashable {
        public var start: Date
        public var end: Date

        public init(start: Date, end: Date) {
            self.start = start
            self.end = end
        }
    }

    /// Which snapshot a report compares: its ID, when its sync finished and the window it covers.
    public struct SnapshotSummary: Codable, Sendable, Equatable {
        public var id: Int64
        public var finishedAt: Date
        public var window: Interval

        public init(id: Int64, finishedAt: Date, window: Interval) {
            self.id = id
            self.finishedAt = finishedAt
            self.window = window
        }

        public init(_ info: SnapshotInfo) {
            self.init(id: info.id, finishedAt: info.finishedAt, window: Interval(start: info.windowStart, end: info.windowEnd))
        }
    }

    /// A PagerDuty user as the report shows them. A user missing from both snapshots' user lists is shown
    /// with their ID as the name and an empty email.
    public struct Person: Codable, Sendable, Hashable {
        public var id: String
        public var name: String
        public var email: String

        public init(id: String, name: String, email: String) {
            self.id = id
            self.name = name
            self.email = email
        }
    }

    /// A value before and after, for renames and time zone changes.
    public struct Change<Value: Codable & Sendable & Hashable>: Codable, Sendable, Hashable {
        public var from: Value
        public var to: Value

        public init(from: Value, to: Value) {
            self.from = from
            self.to = to
        }
    }

    /// Whether a schedule or policy appeared, disappeared, or exists in both snapshots with changes.
    public enum Status: String, Codable, Sendable, Hashable {
        case added
        case removed
        case changed
    }
}

// MARK: - Schedules

extension DriftReport {
    /// What changed in one schedule.
    ///
    /// For an `added` or `removed` schedule only the identity is reported; the detail lists apply to
    /// schedules present in both snapshots. Lists are empty (never absent) when nothing of that kind changed.
    public struct ScheduleDrift: Codable, Sendable, Equatable {
        public var id: String
        /// The name in the newer snapshot (the older one for a removed schedule).
        public var name: String
        /// The time zone in the newer snapshot (the older one for a removed schedule); times are shown in it.
        public var timeZone: String
        /// The kind in the newer snapshot (the older one for a removed schedule).
        public var kind: ScheduleKind
        public var status: Status
        public var rename: Change<String>?
        public var timeZoneChange: Change<String>?
        /// Set when the schedule changed kind under the same id: upgraded in place to shift-based.
        public var kindChange: Change<ScheduleKind>?
        /// Users newly listed as members of the schedule, sorted by name.
        public var membersJoined: [Person]
        /// Users no longer listed as members of the schedule, sorted by name.
        public var membersLeft: [Person]
        /// Maximal periods inside the compared window whose on-call people differ, in time order.
        public var onCallChanges: [OnCallChange]
        /// Override entries present only in the newer snapshot, clipped to the compared window.
        public var overridesAdded: [OverrideEntry]
        /// Override entries present only in the older snapshot, clipped to the compared window.
        public var overridesRemoved: [OverrideEntry]
        /// Periods with nobody on call in the newer snapshot but somebody in the older one.
        public var gapsOpened: [Interval]
        /// Periods with nobody on call in the older snapshot but somebody in the newer one.
        public var gapsClosed: [Interval]
        /// Both snapshots' on-call rosters over the compared window, present when `onCallChanges` is not
        /// empty so that renderers can draw before above after.
        public var timeline: Timeline?

        public init(
            id: String, name: String, timeZone: String, kind: ScheduleKind = .layerBased, status: Status,
            rename: Change<String>? = nil, timeZoneChange: Change<String>? = nil, kindChange: Change<ScheduleKind>? = nil,
            membersJoined: [Person] = [], membersLeft: [Person] = [],
            onCallChanges: [OnCallChange] = [], overridesAdded: [OverrideEntry] = [], overridesRemoved: [OverrideEntry] = [],
            gapsOpened: [Interval] = [], gapsClosed: [Interval] = [], timeline: Timeline? = nil
        ) {
            self.id = id
            self.name = name
            self.timeZone = timeZone
            self.kind = kind
            self.status = status
            self.rename = rename
            self.timeZoneChange = timeZoneChange
            self.kindChange = kindChange
            self.membersJoined = membersJoined
            self.membersLeft = membersLeft
            self.onCallChanges = onCallChanges
            self.overridesAdded = overridesAdded
            self.overridesRemoved = overridesRemoved
            self.gapsOpened = gapsOpened
            self.gapsClosed = gapsClosed
            self.timeline = timeline
        }

        /// True when the schedule exists in both snapshots and nothing about it changed.
        var hasNoChanges: Bool {
            status == .changed && rename == nil && timeZoneChange == nil && kindChange == nil && membersJoined.isEmpty && membersLeft.isEmpty
                && onCallChanges.isEmpty && overridesAdded.isEmpty && overridesRemoved.isEmpty
                && gapsOpened.isEmpty && gapsClosed.isEmpty
        }
    }

    /// A period [start, end) in which the people on call differ. Each side is the set of people on call
    /// (sorted by ID): one person in a layer-based schedule, any number in a shift-based one, none for
    /// a gap.
    public struct OnCallChange: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var before: [Person]
        public var after: [Person]

        public init(start: Date, end: Date, before: [Person], after: [Person]) {
            self.start = start
            self.end = end
            self.before = before
            self.after = after
        }
    }

    /// One entry of a schedule's overrides layer.
    public struct OverrideEntry: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var person: Person

        public init(start: Date, end: Date, person: Person) {
            self.start = start
            self.end = end
            self.person = person
        }
    }

    /// One stretch of a roster with the same people on call. Stretches with nobody are left out: they
    /// are the gaps between segments.
    public struct Segment: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var people: [Person]

        public init(start: Date, end: Date, people: [Person]) {
            self.start = start
            self.end = end
            self.people = people
        }
    }

    /// A schedule's on-call roster in each snapshot over the compared window, in time order.
    public struct Timeline: Codable, Sendable, Equatable {
        public var before: [Segment]
        public var after: [Segment]

        public init(before: [Segment], after: [Segment]) {
            self.before = before
            self.after = after
        }
    }
}

// MARK: - Escalation policies

extension DriftReport {
    /// What changed in one escalation policy. Levels are matched by number (PagerDuty's
    /// `escalation_level`, counting from 1) and targets within a level by kind and ID.
    public struct PolicyDrift: Codable, Sendable, Equatable {
        public var id: String
        /// The name in the newer snapshot (the older one for a removed policy).
        public var name: String
        public var status: Status
        public var rename: Change<String>?
        /// Levels present only in the newer snapshot, with their targets.
        public var levelsAdded: [Level]
        /// Levels present only in the older snapshot, with their targets.
        public var levelsRemoved: [Level]
        /// Targets added to levels present in both snapshots.
        public var targetsAdded: [Target]
        /// Targets removed from levels present in both snapshots.
        public var targetsRemoved: [Target]

        public init(
            id: String, name: String, status: Status, rename: Change<String>? = nil,
            levelsAdded: [Level] = [], levelsRemoved: [Level] = [], targetsAdded: [Target] = [], targetsRemoved: [Target] = []
        ) {
            self.id = id
            self.name = name
            self.status = status
            self.rename = rename
            self.levelsAdded = levelsAdded
            self.levelsRemoved = levelsRemoved
            self.targetsAdded = targetsAdded
            self.targetsRemoved = targetsRemoved
        }

        var hasNoChanges: Bool {
            status == .changed && rename == nil && levelsAdded.isEmpty && levelsRemoved.isEmpty
                && targetsAdded.isEmpty && targetsRemoved.isEmpty
        }
    }

    /// One escalation level: who is notified, and how many minutes after the previous level.
    public struct Level: Codable, Sendable, Equatable {
        public var level: Int
        public var delayMinutes: Int
        public var targets: [Target]

        public init(level: Int, delayMinutes: Int, targets: [Target]) {
            self.level = level
            self.delayMinutes = delayMinutes
            self.targets = targets
        }
    }

    /// One target of an escalation level: a schedule or a user. `email` is nil for a schedule.
    public struct Target: Codable, Sendable, Equatable {
        public var level: Int
        public var kind: EscalationTarget.Kind
        public var id: String
        public var name: String
        public var email: String?

        public init(level: Int, kind: EscalationTarget.Kind, id: String, name: String, email: String?) {
            self.level = level
            self.kind = kind
            self.id = id
            self.name = name
            self.email = email
        }
    }
}

// MARK: - JSON encoding
//
// The synthesised encoders leave out nil optionals; these write them as explicit `null` so that every
// key documented in DRIFT-JSON.md is always present. Decoding stays synthesised (it accepts both).

extension DriftReport {
    private enum CodingKeys: String, CodingKey {
        case formatVersion, summary, isEmpty
        case from, to, comparedWindow, schedules, escalationPolicies
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let version = try container.decodeIfPresent(Int.self, forKey: .formatVersion) ?? Self.formatVersion
        guard version == Self.formatVersion else {
            throw DecodingError.dataCorruptedError(
                forKey: .formatVersion, in: container,
                debugDescription: "drift report format \(version) is not supported (expected \(Self.formatVersion))")
        }
        self.init(
            from: try container.decode(SnapshotSummary.self, forKey: .from),
            to: try container.decode(SnapshotSummary.self, forKey: .to),
            comparedWindow: try container.decodeIfPresent(Interval.self, forKey: .comparedWindow),
            schedules: try container.decode([ScheduleDrift].self, forKey: .schedules),
            escalationPolicies: try container.decode([PolicyDrift].self, forKey: .escalationPolicies))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Self.formatVersion, forKey: .formatVersion)
        try container.encode(summary, forKey: .summary)
        try container.encode(isEmpty, forKey: .isEmpty)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(comparedWindow, forKey: .comparedWindow)
        try container.encode(schedules, forKey: .schedules)
        try container.encode(escalationPolicies, forKey: .escalationPolicies)
    }
}

extension DriftReport.ScheduleDrift {
    private enum CodingKeys: String, CodingKey {
        case id, name, timeZone, kind, status, rename, timeZoneChange, kindChange, membersJoined, membersLeft
        case onCallChanges, overridesAdded, overridesRemoved, gapsOpened, gapsClosed, timeline
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(timeZone, forKey: .timeZone)
        try container.encode(kind, forKey: .kind)
        try container.encode(status, forKey: .status)
        try container.encode(rename, forKey: .rename)
        try container.encode(timeZoneChange, forKey: .timeZoneChange)
        try container.encode(kindChange, forKey: .kindChange)
        try container.encode(membersJoined, forKey: .membersJoined)
        try container.encode(membersLeft, forKey: .membersLeft)
        try container.encode(onCallChanges, forKey: .onCallChanges)
        try container.encode(overridesAdded, forKey: .overridesAdded)
        try container.encode(overridesRemoved, forKey: .overridesRemoved)
        try container.encode(gapsOpened, forKey: .gapsOpened)
        try container.encode(gapsClosed, forKey: .gapsClosed)
        try container.encode(timeline, forKey: .timeline)
    }
}

extension DriftReport.PolicyDrift {
    private enum CodingKeys: String, CodingKey {
        case id, name, status, rename, levelsAdded, levelsRemoved, targetsAdded, targetsRemoved
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(status, forKey: .status)
        try container.encode(rename, forKey: .rename)
        try container.encode(levelsAdded, forKey: .levelsAdded)
        try container.encode(levelsRemoved, forKey: .levelsRemoved)
        try container.encode(targetsAdded, forKey: .targetsAdded)
        try container.encode(targetsRemoved, forKey: .targetsRemoved)
    }
}

extension DriftReport.Target {
    private enum CodingKeys: String, CodingKey {
        case level, kind, id, name, email
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(level, forKey: .level)
        try container.encode(kind, forKey: .kind)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(email, forKey: .email)
    }
}
