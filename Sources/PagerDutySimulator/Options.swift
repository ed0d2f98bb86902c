import Foundation

/// Trouble the simulator injects on purpose, so clients can be tested against a PagerDuty that
/// misbehaves. Every field is optional in JSON (`PUT /_simulator/faults`); an empty object clears all.
///
/// Path prefixes match the request path (`"/schedules/"` matches `/schedules/PABC123` but not
/// `/schedules`). `failuresRemaining` is shared by every fault that changes the answer
/// (`failingPaths`, `truncatedPaths`, `malformedPaths`): each injected answer uses one, and at zero
/// the simulator answers normally again. Latency and stalls only delay, and body edits only change a
/// good answer; neither is counted.
public struct SimulatorFaults: Codable, Sendable, Hashable {
    /// A change to the text of good (200) answers, so clients can be tested against input PagerDuty
    /// might send: an unknown member type (`"user_member"` → `"group_member"`), a key dropped or
    /// renamed. Every occurrence of `find` is replaced, edits in the order listed; an empty `find`
    /// changes nothing.
    public struct BodyEdit: Codable, Sendable, Hashable {
        /// Matches the request path as the other faults' prefixes do.
        public var pathPrefix: String
        public var find: String
        public var replace: String

        public init(pathPrefix: String, find: String, replace: String) {
            self.pathPrefix = pathPrefix
            self.find = find
            self.replace = replace
        }
    }

    /// Added to every PagerDuty route before it answers.
    public var latencyMilliseconds: Int
    /// Path prefix → 5xx status to answer instead (with PagerDuty's error body).
    public var failingPaths: [String: Int]
    /// nil: injected failures go on for ever; else how many more are injected.
    public var failuresRemaining: Int?
    /// Path prefixes answered 200 with the body cut in half.
    public var truncatedPaths: [String]
    /// Path prefixes answered 200 with a body that is not JSON.
    public var malformedPaths: [String]
    /// Path prefix → seconds to wait before answering (to exercise client timeouts).
    public var stallPaths: [String: Int]
    /// After this many more PagerDuty requests every key is refused (401), as if revoked.
    public var revokeKeyAfterRequests: Int?
    /// Edits to the body of every 200 answer whose path matches (see `BodyEdit`).
    public var bodyEdits: [BodyEdit]

    public init(
        latencyMilliseconds: Int = 0, failingPaths: [String: Int] = [:], failuresRemaining: Int? = nil,
        truncatedPaths: [String] = [], malformedPaths: [String] = [], stallPaths: [String: Int] = [:],
        revokeKeyAfterRequests: Int? = nil, bodyEdits: [BodyEdit] = []
    ) {
        self.latencyMilliseconds = latencyMilliseconds
        self.failingPaths = failingPaths
        self.failuresRemaining = failuresRemaining
        self.truncatedPaths = truncatedPaths
        self.malformedPaths = malformedPaths
        self.stallPaths = stallPaths
        self.revokeKeyAfterRequests = revokeKeyAfterRequests
        self.bodyEdits = bodyEdits
    }

    enum CodingKeys: String, CodingKey {
        case latencyMilliseconds, failingPaths, failuresRemaining, truncatedPaths, malformedPaths, stallPaths
        case revokeKeyAfterRequests, bodyEdits
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            latencyMilliseconds: try container.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? 0,
            failingPaths: try container.decodeIfPresent([String: Int].self, forKey: .failingPaths) ?? [:],
            failuresRemaining: try container.decodeIfPresent(Int.self, forKey: .failuresRemaining),
            truncatedPaths: try container.decodeIfPresent([String].self, forKey: .truncatedPaths) ?? [],
            malformedPaths: try container.decodeIfPresent([String].self, forKey: .malformedPaths) ?? [],
            stallPaths: try container.decodeIfPresent([String: Int].self, forKey: .stallPaths) ?? [:],
            revokeKeyAfterRequests: try container.decodeIfPresent(Int.self, forKey: .revokeKeyAfterRequests),
            bodyEdits: try container.decodeIfPresent([BodyEdit].self, forKey: .bodyEdits) ?? []
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(latencyMilliseconds, forKey: .latencyMilliseconds)
        try container.encode(failingPaths, forKey: .failingPaths)
        // Written as an explicit null so a round trip through JSON keeps "fail for ever".
        try container.encode(failuresRemaining, forKey: .failuresRemaining)
        try container.encode(truncatedPaths, forKey: .truncatedPaths)
        try container.encode(malformedPaths, forKey: .malformedPaths)
        try container.encode(stallPaths, forKey: .stallPaths)
        try container.encode(revokeKeyAfterRequests, forKey: .revokeKeyAfterRequests)
        try container.encode(bodyEdits, forKey: .bodyEdits)
    }
}

/// `SimulatorFaults.BodyEdit`, by its short name.
public typealias BodyEdit = SimulatorFaults.BodyEdit

/// What the simulator has seen since it started or since the last reset. Only PagerDuty routes
/// count; `/_simulator/…` does not.
public struct SimulatorStats: Codable, Sendable, Hashable {
    /// Every PagerDuty request received, refused ones included.
    public var requests: Int
    /// Requests per route, ids replaced: `"/schedules/{id}"`, `"/schedules/{id}/users"`, `"/oncalls"`,
    /// `"/v3/schedules/{id}"`, `"/v3/schedules/{id}/overrides"`.
    /// A path that is no route is counted as it came.
    public var requestsByPath: [String: Int]
    /// Requests answered 429.
    public var rateLimited: Int
    /// Injected faults (5xx, truncated, malformed) plus every 4xx or 5xx answer.
    public var failures: Int

    public init(requests: Int = 0, requestsByPath: [String: Int] = [:], rateLimited: Int = 0, failures: Int = 0) {
        self.requests = requests
        self.requestsByPath = requestsByPath
        self.rateLimited = rateLimited
        self.failures = failures
    }
}

/// Behaviour of PagerDuty's that no source settles (API-v3.md marks each UNVERIFIED), so that a client
/// can be tested against each possibility. All false: the simulator's reading of the documentation.
public struct PagerDutyVariants: Codable, Sendable, Hashable {
    /// The v3 final schedule also lists the replaced member's own assignment while an override runs,
    /// beside the override's (API-v3.md §6: the documentation's "replaces" suggests it is left out).
    public var finalScheduleKeepsOverriddenMembers: Bool
    /// With `overflow=false`, v3 replies (final schedule, overrides, custom shifts) leave out entries
    /// that cross the window's bounds instead of cutting them at the bounds as v2 does (§6).
    public var v3OverflowFalseDropsCrossingEntries: Bool
    /// v2 `GET /schedules/{id}` of a shift-based schedule answers 404, as PagerDuty's MCP server saw
    /// (its issue #117), instead of the 400 PagerDuty's tools and guide describe (§4).
    public var v2DetailOfShiftBasedAnswers404: Bool

    public init(
        finalScheduleKeepsOverriddenMembers: Bool = false, v3OverflowFalseDropsCrossingEntries: Bool = false,
        v2DetailOfShiftBasedAnswers404: Bool = false
    ) {
        self.finalScheduleKeepsOverriddenMembers = finalScheduleKeepsOverriddenMembers
        self.v3OverflowFalseDropsCrossingEntries = v3OverflowFalseDropsCrossingEntries
        self.v2DetailOfShiftBasedAnswers404 = v2DetailOfShiftBasedAnswers404
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            finalScheduleKeepsOverriddenMembers: try container.decodeIfPresent(Bool.self, forKey: .finalScheduleKeepsOverriddenMembers) ?? false,
            v3OverflowFalseDropsCrossingEntries: try container.decodeIfPresent(Bool.self, forKey: .v3OverflowFalseDropsCrossingEntries) ?? false,
            v2DetailOfShiftBasedAnswers404: try container.decodeIfPresent(Bool.self, forKey: .v2DetailOfShiftBasedAnswers404) ?? false
        )
    }
}

/// How a simulator instance behaves: which keys it accepts, its rate limit, faults and clock.
public struct SimulatorOptions: Sendable {
    /// Keys accepted in `Authorization: Token token=KEY` (or `Bearer KEY`).
    public var apiKeys: Set<String>
    /// Requests each key may make per window; PagerDuty's is 960 per minute.
    public var rateLimitPerWindow: Int
    /// The fixed window's length; tests shorten it (e.g. 20 requests per 2 s).
    public var rateLimitWindowSeconds: Double
    /// Faults in force from the start; change them later with `PagerDutySimulator.setFaults(_:)`.
    public var faults: SimulatorFaults
    /// "Now": the default schedule window and `/oncalls` without since/until are relative to it.
    public var clock: @Sendable () -> Date
    /// Which reading of PagerDuty's unverified behaviour to serve; all false by default.
    public var variants: PagerDutyVariants

    public init(
        apiKeys: Set<String> = ["simulated-key"], rateLimitPerWindow: Int = 960, rateLimitWindowSeconds: Double = 60,
        faults: SimulatorFaults = .init(), clock: @escaping @Sendable () -> Date = { Date() }, variants: PagerDutyVariants = .init()
    ) {
        self.apiKeys = apiKeys
        self.rateLimitPerWindow = rateLimitPerWindow
        self.rateLimitWindowSeconds = rateLimitWindowSeconds
        self.faults = faults
        self.clock = clock
        self.variants = variants
    }
}
