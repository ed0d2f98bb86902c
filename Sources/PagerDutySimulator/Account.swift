import Foundation

// The simulated account: the "truth" the simulator renders PagerDuty replies from. It is also the
// scenario file format (`pagerduty-simulator --scenario FILE`), so field names are snake_case JSON
// like PagerDuty's own. Times are `Date`s, written as ISO 8601 in scenario files.

/// A whole simulated PagerDuty account.
public struct SimulatedAccount: Codable, Sendable, Hashable {
    /// The account's time zone: `/oncalls` renders in it unless the request names `time_zone`.
    public var timeZone: String
    public var users: [SimulatedUser]
    public var teams: [SimulatedTeam]
    public var schedules: [SimulatedSchedule]
    public var escalationPolicies: [SimulatedEscalationPolicy]

    public init(
        timeZone: String = "America/New_York", users: [SimulatedUser] = [], teams: [SimulatedTeam] = [],
        schedules: [SimulatedSchedule] = [], escalationPolicies: [SimulatedEscalationPolicy] = []
    ) {
        self.timeZone = timeZone
        self.users = users
        self.teams = teams
        self.schedules = schedules
        self.escalationPolicies = escalationPolicies
    }

    enum CodingKeys: String, CodingKey {
        case timeZone = "time_zone"
        case users, teams, schedules
        case escalationPolicies = "escalation_policies"
    }
}

public struct SimulatedUser: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    /// Stored as typed, mixed case included, as PagerDuty does.
    public var email: String
    public var timeZone: String
    public var role: String
    public var teamIds: [String]

    public init(id: String, name: String, email: String, timeZone: String = "UTC", role: String = "user", teamIds: [String] = []) {
        self.id = id
        self.name = name
        self.email = email
        self.timeZone = timeZone
        self.role = role
        self.teamIds = teamIds
    }

    enum CodingKeys: String, CodingKey {
        case id, name, email, role
        case timeZone = "time_zone"
        case teamIds = "team_ids"
    }
}

public struct SimulatedTeam: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String

    public init(id: String, name: String, description: String = "") {
        self.id = id
        self.name = name
        self.description = description
    }
}

/// Which of PagerDuty's two schedule APIs a schedule belongs to. The same id space serves both, and
/// a schedule upgraded in place keeps its id.
public enum SimulatedScheduleKind: String, Codable, Sendable, Hashable {
    /// Legacy layer-based: `GET /schedules`, `GET /schedules/{id}`; one person at a time.
    case layerBased = "layer_based"
    /// Shift-based ("v3"): `GET /v3/schedules`, `GET /v3/schedules/{id}`; rotations, custom shifts and
    /// scoped overrides, several people at once, explicit empty slots.
    case shiftBased = "shift_based"
}

public struct SimulatedSchedule: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var timeZone: String
    public var description: String
    public var teamIds: [String]
    public var kind: SimulatedScheduleKind
    /// Layer-based only. Layers in PagerDuty's order; where two layers cover the same time, the later
    /// one wins.
    public var layers: [SimulatedLayer]
    /// Layer-based: entries over all layers (where overrides overlap, the later one wins).
    /// Shift-based: each replaces one member of one rotation or custom shift (`rotationId` or
    /// `customShiftId`, `overriddenUserId`) for its window; other people on call stay on call.
    public var overrides: [SimulatedOverride]
    /// Shift-based only: each rotation's assignments are on call concurrently with the others'.
    public var rotations: [SimulatedRotation]
    /// Shift-based only: one-off shifts that add a person (or an explicit empty slot) on top of the rotations.
    public var customShifts: [SimulatedCustomShift]

    public init(
        id: String, name: String, timeZone: String = "UTC", description: String = "", teamIds: [String] = [],
        layers: [SimulatedLayer] = [], overrides: [SimulatedOverride] = [], kind: SimulatedScheduleKind = .layerBased,
        rotations: [SimulatedRotation] = [], customShifts: [SimulatedCustomShift] = []
    ) {
        self.id = id
        self.name = name
        self.timeZone = timeZone
        self.description = description
        self.teamIds = teamIds
        self.kind = kind
        self.layers = layers
        self.overrides = overrides
        self.rotations = rotations
        self.customShifts = customShifts
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, kind, layers, overrides, rotations
        case timeZone = "time_zone"
        case teamIds = "team_ids"
        case customShifts = "custom_shifts"
    }
}

/// A shift-based schedule's rotation: its events' shifts, or, for a rotation made by upgrading a
/// layer in place, exactly the turns that layer had (`upgradedLayer`), so that an upgrade changes
/// nobody's on-call time. Upgraded layers keep their precedence among themselves: a later one still
/// covers an earlier one, as it did before the upgrade.
public struct SimulatedRotation: Codable, Sendable, Hashable {
    public var id: String
    public var events: [SimulatedRotationEvent]
    public var upgradedLayer: SimulatedLayer?

    public init(id: String, events: [SimulatedRotationEvent] = [], upgradedLayer: SimulatedLayer? = nil) {
        self.id = id
        self.events = events
        self.upgradedLayer = upgradedLayer
    }

    enum CodingKeys: String, CodingKey {
        case id, events
        case upgradedLayer = "upgraded_layer"
    }
}

/// A recurring shift of a rotation. Shift n starts `n × repeatSeconds` after `start` on the schedule
/// zone's wall clock (so it keeps its local time across daylight-saving changes) and lasts
/// `shiftSeconds`; when `weekdays` is not empty only shifts starting on those local weekdays
/// (1 = Monday … 7 = Sunday) happen. Shifts stop at `effectiveUntil`.
///
/// `rotating`: the k-th shift that happens goes to `members[(k / shiftsPerMember) mod count]`.
/// `everyMember`: every member is on call for every shift at once. A nil member is an empty slot
/// (PagerDuty's `empty_member`).
public struct SimulatedRotationEvent: Codable, Sendable, Hashable {
    public enum Assignment: String, Codable, Sendable, Hashable {
        case rotating
        case everyMember = "every_member"
    }

    public var id: String
    public var name: String
    public var start: Date
    public var shiftSeconds: Int
    public var repeatSeconds: Int
    public var weekdays: [Int]
    public var effectiveUntil: Date?
    public var assignment: Assignment
    public var shiftsPerMember: Int
    public var members: [String?]

    public init(
        id: String, name: String = "On call", start: Date, shiftSeconds: Int, repeatSeconds: Int? = nil, weekdays: [Int] = [],
        effectiveUntil: Date? = nil, assignment: Assignment = .rotating, shiftsPerMember: Int = 1, members: [String?]
    ) {
        self.id = id
        self.name = name
        self.start = start
        self.shiftSeconds = shiftSeconds
        self.repeatSeconds = repeatSeconds ?? shiftSeconds
        self.weekdays = weekdays
        self.effectiveUntil = effectiveUntil
        self.assignment = assignment
        self.shiftsPerMember = shiftsPerMember
        self.members = members
    }

    enum CodingKeys: String, CodingKey {
        case id, name, start, weekdays, assignment, members
        case shiftSeconds = "shift_seconds"
        case repeatSeconds = "repeat_seconds"
        case effectiveUntil = "effective_until"
        case shiftsPerMember = "shifts_per_member"
    }
}

/// A shift-based schedule's one-off shift: `userId` (nil: an explicit empty slot) is on call over
/// [start, end) in addition to whoever the rotations have.
public struct SimulatedCustomShift: Codable, Sendable, Hashable {
    public var id: String
    public var start: Date
    public var end: Date
    public var userId: String?

    public init(id: String, start: Date, end: Date, userId: String?) {
        self.id = id
        self.start = start
        self.end = end
        self.userId = userId
    }

    enum CodingKeys: String, CodingKey {
        case id, start, end
        case userId = "user_id"
    }
}

/// A rotation layer: turn k runs from `rotationVirtualStart + k × turnLength` for `turnLength` seconds
/// and belongs to `userIds[k mod count]`; it is clipped to [start, end) and to its restrictions.
/// The arithmetic is on the schedule zone's wall clock, so handoffs keep their local time of day
/// across daylight-saving changes (the turn spanning a change is an hour shorter or longer).
public struct SimulatedLayer: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var start: Date
    public var end: Date?
    public var rotationVirtualStart: Date
    public var rotationTurnLengthSeconds: Int
    public var userIds: [String]
    public var restrictions: [SimulatedRestriction]

    public init(
        id: String, name: String, start: Date, end: Date? = nil, rotationVirtualStart: Date,
        rotationTurnLengthSeconds: Int, userIds: [String], restrictions: [SimulatedRestriction] = []
    ) {
        self.id = id
        self.name = name
        self.start = start
        self.end = end
        self.rotationVirtualStart = rotationVirtualStart
        self.rotationTurnLengthSeconds = rotationTurnLengthSeconds
        self.userIds = userIds
        self.restrictions = restrictions
    }

    enum CodingKeys: String, CodingKey {
        case id, name, start, end, restrictions
        case rotationVirtualStart = "rotation_virtual_start"
        case rotationTurnLengthSeconds = "rotation_turn_length_seconds"
        case userIds = "user_ids"
    }
}

/// PagerDuty's layer restrictions, evaluated in the schedule's time zone.
public struct SimulatedRestriction: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable {
        case daily = "daily_restriction"
        case weekly = "weekly_restriction"
    }

    public var type: Kind
    /// "HH:mm:ss" local to the schedule's zone.
    public var startTimeOfDay: String
    public var durationSeconds: Int
    /// 1 = Monday … 7 = Sunday; weekly restrictions only.
    public var startDayOfWeek: Int?

    public init(type: Kind, startTimeOfDay: String, durationSeconds: Int, startDayOfWeek: Int? = nil) {
        self.type = type
        self.startTimeOfDay = startTimeOfDay
        self.durationSeconds = durationSeconds
        self.startDayOfWeek = startDayOfWeek
    }

    enum CodingKeys: String, CodingKey {
        case type
        case startTimeOfDay = "start_time_of_day"
        case durationSeconds = "duration_seconds"
        case startDayOfWeek = "start_day_of_week"
    }
}

public struct SimulatedOverride: Codable, Sendable, Hashable {
    public var id: String
    public var start: Date
    public var end: Date
    /// Who is on call instead.
    public var userId: String
    /// Shift-based schedules only: the rotation or the custom shift whose member this override
    /// replaces (one of the two), and that member (nil: it fills that source's empty slots).
    ///
    /// Within the override's window the member is replaced wherever that source has them, as the
    /// overrides listed before this one left it (`renderShifts` applies them in list order). A nil
    /// member on a rotation also fills the times the rotation has nobody at all, which is how an
    /// override of a layer-based schedule's gap survives an upgrade in place.
    public var rotationId: String?
    public var customShiftId: String?
    public var overriddenUserId: String?

    public init(id: String, start: Date, end: Date, userId: String, rotationId: String? = nil, customShiftId: String? = nil,
                overriddenUserId: String? = nil) {
        self.id = id
        self.start = start
        self.end = end
        self.userId = userId
        self.rotationId = rotationId
        self.customShiftId = customShiftId
        self.overriddenUserId = overriddenUserId
    }

    enum CodingKeys: String, CodingKey {
        case id, start, end
        case userId = "user_id"
        case rotationId = "rotation_id"
        case customShiftId = "custom_shift_id"
        case overriddenUserId = "overridden_user_id"
    }
}

public struct SimulatedEscalationPolicy: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var numLoops: Int
    public var teamIds: [String]
    public var rules: [SimulatedEscalationRule]

    public init(id: String, name: String, numLoops: Int = 0, teamIds: [String] = [], rules: [SimulatedEscalationRule] = []) {
        self.id = id
        self.name = name
        self.numLoops = numLoops
        self.teamIds = teamIds
        self.rules = rules
    }

    enum CodingKeys: String, CodingKey {
        case id, name, rules
        case numLoops = "num_loops"
        case teamIds = "team_ids"
    }
}

/// One escalation rule; its level is its position in `rules`, counting from 1.
public struct SimulatedEscalationRule: Codable, Sendable, Hashable {
    /// A schedule target is written `schedule_reference` or `schedule_v3_reference` according to
    /// the schedule's kind when the policy is read (scenario files may use either word).
    public enum TargetKind: String, Codable, Sendable {
        case schedule = "schedule_reference"
        case user = "user_reference"

        public init(from decoder: any Decoder) throws {
            let text = try decoder.singleValueContainer().decode(String.self)
            switch text {
            case "schedule_reference", "schedule_v3_reference", "schedule": self = .schedule
            case "user_reference", "user": self = .user
            default:
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown target type \(text)"))
            }
        }
    }

    public struct Target: Codable, Sendable, Hashable {
        public var type: TargetKind
        public var id: String

        public init(type: TargetKind, id: String) {
            self.type = type
            self.id = id
        }
    }

    public var id: String
    public var escalationDelayInMinutes: Int
    public var targets: [Target]

    public init(id: String, escalationDelayInMinutes: Int = 30, targets: [Target]) {
        self.id = id
        self.escalationDelayInMinutes = escalationDelayInMinutes
        self.targets = targets
    }

    enum CodingKeys: String, CodingKey {
        case id, targets
        case escalationDelayInMinutes = "escalation_delay_in_minutes"
    }
}

// MARK: Lenient decoding for hand-written scenario files
//
// Every field with a default in its initialiser may be left out of a scenario file; the defaults
// are the initialisers' own.

extension SimulatedAccount {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            timeZone: try container.decodeIfPresent(String.self, forKey: .timeZone) ?? "America/New_York",
            users: try container.decodeIfPresent([SimulatedUser].self, forKey: .users) ?? [],
            teams: try container.decodeIfPresent([SimulatedTeam].self, forKey: .teams) ?? [],
            schedules: try container.decodeIfPresent([SimulatedSchedule].self, forKey: .schedules) ?? [],
            escalationPolicies: try container.decodeIfPresent([SimulatedEscalationPolicy].self, forKey: .escalationPolicies) ?? []
        )
    }
}

extension SimulatedUser {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decode(String.self, forKey: .name),
            email: try container.decode(String.self, forKey: .email),
            timeZone: try container.decodeIfPresent(String.self, forKey: .timeZone) ?? "UTC",
            role: try container.decodeIfPresent(String.self, forKey: .role) ?? "user",
            teamIds: try container.decodeIfPresent([String].self, forKey: .teamIds) ?? []
        )
    }
}

extension SimulatedTeam {
    enum CodingKeys: String, CodingKey {
        case id, name, description
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decode(String.self, forKey: .name),
            description: try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        )
    }
}

extension SimulatedSchedule {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decode(String.self, forKey: .name),
            timeZone: try container.decodeIfPresent(String.self, forKey: .timeZone) ?? "UTC",
            description: try container.decodeIfPresent(String.self, forKey: .description) ?? "",
            teamIds: try container.decodeIfPresent([String].self, forKey: .teamIds) ?? [],
            layers: try container.decodeIfPresent([SimulatedLayer].self, forKey: .layers) ?? [],
            overrides: try container.decodeIfPresent([SimulatedOverride].self, forKey: .overrides) ?? [],
            kind: try container.decodeIfPresent(SimulatedScheduleKind.self, forKey: .kind) ?? .layerBased,
            rotations: try container.decodeIfPresent([SimulatedRotation].self, forKey: .rotations) ?? [],
            customShifts: try container.decodeIfPresent([SimulatedCustomShift].self, forKey: .customShifts) ?? []
        )
    }
}

extension SimulatedRotation {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            events: try container.decodeIfPresent([SimulatedRotationEvent].self, forKey: .events) ?? [],
            upgradedLayer: try container.decodeIfPresent(SimulatedLayer.self, forKey: .upgradedLayer)
        )
    }
}

extension SimulatedRotationEvent {
    /// `repeat_seconds` defaults to `shift_seconds`; `name`, `weekdays`, `assignment` and
    /// `shifts_per_member` may be left out.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decodeIfPresent(String.self, forKey: .name) ?? "On call",
            start: try container.decode(Date.self, forKey: .start),
            shiftSeconds: try container.decode(Int.self, forKey: .shiftSeconds),
            repeatSeconds: try container.decodeIfPresent(Int.self, forKey: .repeatSeconds),
            weekdays: try container.decodeIfPresent([Int].self, forKey: .weekdays) ?? [],
            effectiveUntil: try container.decodeIfPresent(Date.self, forKey: .effectiveUntil),
            assignment: try container.decodeIfPresent(Assignment.self, forKey: .assignment) ?? .rotating,
            shiftsPerMember: try container.decodeIfPresent(Int.self, forKey: .shiftsPerMember) ?? 1,
            members: try container.decode([String?].self, forKey: .members)
        )
    }
}

extension SimulatedLayer {
    /// `rotation_virtual_start` defaults to `start`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let start = try container.decode(Date.self, forKey: .start)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decodeIfPresent(String.self, forKey: .name) ?? "Layer",
            start: start,
            end: try container.decodeIfPresent(Date.self, forKey: .end),
            rotationVirtualStart: try container.decodeIfPresent(Date.self, forKey: .rotationVirtualStart) ?? start,
            rotationTurnLengthSeconds: try container.decode(Int.self, forKey: .rotationTurnLengthSeconds),
            userIds: try container.decode([String].self, forKey: .userIds),
            restrictions: try container.decodeIfPresent([SimulatedRestriction].self, forKey: .restrictions) ?? []
        )
    }
}

extension SimulatedEscalationPolicy {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            name: try container.decode(String.self, forKey: .name),
            numLoops: try container.decodeIfPresent(Int.self, forKey: .numLoops) ?? 0,
            teamIds: try container.decodeIfPresent([String].self, forKey: .teamIds) ?? [],
            rules: try container.decodeIfPresent([SimulatedEscalationRule].self, forKey: .rules) ?? []
        )
    }
}

extension SimulatedEscalationRule {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            escalationDelayInMinutes: try container.decodeIfPresent(Int.self, forKey: .escalationDelayInMinutes) ?? 30,
            targets: try container.decode([Target].self, forKey: .targets)
        )
    }
}
