import Foundation
import JSON
import Timestamps

/// Times in Indent's form: RFC 3339 in UTC with milliseconds (`2024-03-12T18:00:00.000Z`), as its
/// labels and claims carry them. Reading any RFC 3339 time is `RFC3339.parse`.
public enum IndentTime {
    public static func format(_ date: Date) -> String {
        RFC3339.format(date, fraction: .milliseconds)
    }
}

/// Go's `time.Duration` text, which Indent's labels use: `6h0m0s`, `45m0s`, `30s`, `-1ns`.
public enum GoDuration {
    public static func format(seconds: Int) -> String {
        guard seconds > 0 else { return "0s" }
        let hours = seconds / 3600
        let minutes = seconds % 3600 / 60
        let rest = seconds % 60
        if hours > 0 { return "\(hours)h\(minutes)m\(rest)s" }
        if minutes > 0 { return "\(minutes)m\(rest)s" }
        return "\(rest)s"
    }

    /// Seconds, or nil for text that is not a Go duration. Negative values (Indent's `-1ns`,
    /// "indefinite") come back negative.
    public static func parse(_ text: String) -> Double? {
        var rest = Substring(text.trimmingSpaces)
        var sign = 1.0
        if rest.hasPrefix("-") { sign = -1; rest = rest.dropFirst() } else if rest.hasPrefix("+") { rest = rest.dropFirst() }
        if rest == "0" { return 0 }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("h", 3600), ("m", 60), ("s", 1)]
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return sign * total
    }
}

/// The duration a request asks for: Indent's `indent.com/time/duration` label on the webhook, the
/// `duration` field of `POST /v1/decisions`. One reader for both routes, so that they cannot differ:
/// Go's form as Indent writes it (`1h0m0s`, `45m`, `1.5h`) or Shiftgate's own (`90m`, `7d`). Indent's
/// `-1ns` asks for no end ("indefinite") and gets what a huge request gets: the shortest limit.
/// Zero, any other negative value, ISO 8601 (`PT1H`) and words are not durations to approve for.
public enum RequestedDuration {
    /// Indent's "indefinite", the only negative value taken.
    public static let indefinite = "-1ns"

    /// Why a requested duration is refused; the text as sent, shortened and quoted, and what is taken.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var text: String
        public var description: String {
            let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
            return "the requested duration \(String(reflecting: shown)) is not a positive duration (such as \"1h0m0s\", \"90m\" or Indent's \"-1ns\" for no end)"
        }
    }

    /// Seconds asked for (`.infinity` for `-1ns`), or why the text is not a duration to approve for.
    public static func seconds(_ text: String) -> Result<TimeInterval, Invalid> {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed == indefinite { return .success(.infinity) }
        guard let seconds = GoDuration.parse(trimmed) ?? HumanDuration.parse(trimmed), seconds.isFinite, seconds > 0 else {
            return .failure(Invalid(text: text))
        }
        return .success(seconds)
    }
}

/// The parts of an Indent webhook body Shiftgate reads. Actors and resources stay raw JSON.
public struct IndentBody: Sendable {
    public var events: [IndentEvent]?
    public var kinds: [String]?
    public var info: JSONValue?

    public enum Call: Equatable, Sendable {
        case pullUpdate
        case getInfo
        case applyUpdate
        case getDecision
        case unknown
    }

    /// Reads a parsed body. A field of the wrong type is refused with its path (`events.0.actor`);
    /// `null` counts as absent, and fields Shiftgate does not read are ignored.
    public init(_ json: JSONValue) throws(IndentBodyError) {
        guard case .object(let body) = json else { throw IndentBodyError(description: "the body is not a JSON object") }
        let fields = Fields(body, path: "")
        kinds = try fields.array("kinds") { value, path throws(IndentBodyError) in try Fields.string(value, path: path()) }
        info = fields.raw("info")
        events = try fields.array("events") { value, path throws(IndentBodyError) in try IndentEvent(value, path: path()) }
    }

    /// Which call a body is, by Indent's own rules.
    public var call: Call {
        if kinds != nil { return .pullUpdate }
        if info != nil { return .getInfo }
        guard let events else { return .unknown }
        if events.contains(where: { $0.event == "access/grant" || $0.event == "access/revoke" }) { return .applyUpdate }
        return .getDecision
    }
}

public struct IndentEvent: Sendable {
    public let event: String?
    public let id: String?
    public let actor: JSONValue?
    public let resources: [JSONValue]?
    public let meta: Meta?
    /// The actor's email, trimmed; nil when absent or blank.
    public let actorEmail: String?

    public struct Meta: Sendable {
        public let labels: [String: String]?
    }

    init(_ json: JSONValue, path: String) throws(IndentBodyError) {
        guard case .object(let members) = json else { throw IndentBodyError(description: "wrong type at \(path): expected an object") }
        let fields = Fields(members, path: path)
        event = try fields.string("event")
        id = try fields.string("id")
        actor = fields.raw("actor")
        resources = try fields.array("resources") { value, _ in value }
        if let metaValue = fields.raw("meta") {
            guard case .object(let metaMembers) = metaValue else { throw IndentBodyError(description: "wrong type at \(path).meta: expected an object") }
            let metaFields = Fields(metaMembers, path: path + ".meta")
            meta = Meta(labels: try metaFields.stringMap("labels"))
        } else {
            meta = nil
        }
        let email = actor?["email"]?.stringValue?.trimmingSpaces
        actorEmail = email?.isEmpty == false ? email : nil
    }
}

/// Typed reads of one JSON object's members, naming the path of a member of the wrong type. Paths
/// are written only for an error: a body read without one builds none.
private struct Fields {
    let members: JSONObject
    let path: String

    init(_ members: JSONObject, path: String) {
        self.members = members
        self.path = path
    }

    func location(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func raw(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    static func string(_ value: JSONValue, path: @autoclosure () -> String) throws(IndentBodyError) -> String {
        guard case .string(let text) = value else { throw IndentBodyError(description: "wrong type at \(path()): expected a string") }
        return text
    }

    func string(_ key: String) throws(IndentBodyError) -> String? {
        guard let value = raw(key) else { return nil }
        return try Self.string(value, path: location(key))
    }

    func array<Element>(_ key: String, _ element: (JSONValue, _ path: () -> String) throws(IndentBodyError) -> Element) throws(IndentBodyError) -> [Element]? {
        guard let value = raw(key) else { return nil }
        guard case .array(let elements) = value else { throw IndentBodyError(description: "wrong type at \(location(key)): expected an array") }
        var result: [Element] = []
        result.reserveCapacity(elements.count)
        for (index, item) in elements.enumerated() {
            result.append(try element(item, { "\(location(key)).\(index)" }))
        }
        return result
    }

    func stringMap(_ key: String) throws(IndentBodyError) -> [String: String]? {
        guard let value = raw(key) else { return nil }
        guard case .object(let entries) = value else { throw IndentBodyError(description: "wrong type at \(location(key)): expected an object") }
        var result: [String: String] = [:]
        for (name, entry) in entries {
            result[name] = try Self.string(entry, path: "\(location(key)).\(name)")
        }
        return result
    }
}

/// The bot that signs Shiftgate's claims (the same identity the original integration used).
public let approvalBot: JSONValue = .object([
    "id": .string("pagerduty-approval-bot"),
    "kind": .string("indent.v1.Bot"),
    "displayName": .string("PagerDuty Approval Bot"),
    "email": .string("bot@indent.com"),
])

extension String {
    /// `trimmingCharacters(in: .whitespaces)`, but text that neither starts nor ends with white space
    /// (nearly all of it) comes back as it is, without that method's trip through `NSString`.
    var trimmingSpaces: String {
        guard let first, let last, first.isWhitespace || last.isWhitespace else { return self }
        return trimmingCharacters(in: .whitespaces)
    }
}
