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

public struct SimulatedSchedule: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var timeZone: String
    public var description: String
    public var teamIds: [String]
    /// Layers in PagerDuty's order; where two layers cover the same time, the later one wins.
    public var layers: [SimulatedLayer]
    public var overrides: [SimulatedOverride]

    public init(
        id: String, name: String, timeZone: String = "UTC", description: String = "", teamIds: [String] = [],
        layers: [SimulatedLayer] = [], overrides: [SimulatedOverride] = []
    ) {
        self.id = id
        self.name = name
        self.timeZone = timeZone
        self.description = description
        self.teamIds = teamIds
        self.layers = layers
        self.overrides = overrides
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, layers, overrides
        case timeZone = "time_zone"
        case teamIds = "team_ids"
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
    public var userId: String

    public init(id: String, start: Date, end: Date, userId: String) {
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
    public enum TargetKind: String, Codable, Sendable {
        case schedule = "schedule_reference"
        case user = "user_reference"
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
            overrides: try container.decodeIfPresent([SimulatedOverride].self, forKey: .overrides) ?? []
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
