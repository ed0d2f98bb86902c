import Foundation

/// A configuration value that cannot be used, named by its variable.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var variable: String
    public var problem: String

    public var description: String { "\(variable): \(problem)" }
}

/// The approval rules, from the original integration's variables (names unchanged).
public struct ApprovalPolicy: Sendable, Equatable {
    /// `AUTO_APPROVAL_DURATION`, hours (decimals allowed), default 6.
    public var maxDuration: TimeInterval
    /// `AUTO_APPROVAL_PAGERDUTY_SCHEDULES`: schedule IDs or names, trimmed, case-sensitive; empty = all.
    /// The variable unset or empty means all; set to names only (`","`, `" "`) it is refused, never all.
    public var allowedSchedules: [String]
    /// `AUTO_APPROVAL_WINDOW_BEFORE`, minutes, default 1.
    public var windowBefore: TimeInterval
    /// `AUTO_APPROVAL_WINDOW_AFTER`, minutes, default 5.
    public var windowAfter: TimeInterval
    /// `AUTO_APPROVAL_MAX_ESCALATION_LEVEL`: only schedules some policy reaches at this level or lower.
    public var maxEscalationLevel: Int?

    public init(maxDuration: TimeInterval = 6 * 3600, allowedSchedules: [String] = [], windowBefore: TimeInterval = 60,
                windowAfter: TimeInterval = 300, maxEscalationLevel: Int? = nil) {
        self.maxDuration = maxDuration
        self.allowedSchedules = allowedSchedules
        self.windowBefore = windowBefore
        self.windowAfter = windowAfter
        self.maxEscalationLevel = maxEscalationLevel
    }

    public static let variables = [
        "AUTO_APPROVAL_DURATION", "AUTO_APPROVAL_PAGERDUTY_SCHEDULES", "AUTO_APPROVAL_WINDOW_BEFORE",
        "AUTO_APPROVAL_WINDOW_AFTER", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL",
    ]

    /// The longest `AUTO_APPROVAL_DURATION`, in hours: a year.
    public static let durationBoundHours: Double = 8760
    /// The widest `AUTO_APPROVAL_WINDOW_BEFORE` and `_AFTER`, in minutes: a day.
    public static let windowBoundMinutes: Double = 1440

    /// Reads the variables; an unusable value throws an error naming it.
    public init(environment: [String: String]) throws {
        self.init()
        // Whitespace, CR and LF included, is cut at both ends: a CRLF env file's "6\r" is 6.
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else { return nil }
            return raw
        }
        // Bounded where read, so that no value can overflow a date or an integer further on, and a
        // window cannot quietly grow to "anyone on call this month".
        func number(_ name: String, unit: Double, allowZero: Bool, atMost bound: Double, unitName: String) throws -> Double? {
            guard let raw = value(name) else { return nil }
            guard let parsed = Double(raw), parsed.isFinite, allowZero ? parsed >= 0 : parsed > 0 else {
                throw ConfigurationError(variable: name, problem: "'\(raw)' is not a \(allowZero ? "non-negative" : "positive") number")
            }
            guard parsed <= bound else {
                throw ConfigurationError(variable: name, problem: "'\(raw)' is over \(Int(bound)) \(unitName)")
            }
            return parsed * unit
        }
        if let hours = try number("AUTO_APPROVAL_DURATION", unit: 3600, allowZero: false, atMost: Self.durationBoundHours, unitName: "hours") { maxDuration = hours }
        if let before = try number("AUTO_APPROVAL_WINDOW_BEFORE", unit: 60, allowZero: true, atMost: Self.windowBoundMinutes, unitName: "minutes") { windowBefore = before }
        if let after = try number("AUTO_APPROVAL_WINDOW_AFTER", unit: 60, allowZero: true, atMost: Self.windowBoundMinutes, unitName: "minutes") { windowAfter = after }
        // An allow-list fails closed: set but naming nothing is a mistake, never "every schedule".
        if let list = environment["AUTO_APPROVAL_PAGERDUTY_SCHEDULES"], !list.isEmpty {
            allowedSchedules = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
            if allowedSchedules.isEmpty {
                throw ConfigurationError(variable: "AUTO_APPROVAL_PAGERDUTY_SCHEDULES",
                                         problem: "names no schedule; unset it (or leave it empty) to allow every schedule")
            }
        }
        if let raw = value("AUTO_APPROVAL_MAX_ESCALATION_LEVEL") {
            guard let level = Int(raw), level >= 1 else {
                throw ConfigurationError(variable: "AUTO_APPROVAL_MAX_ESCALATION_LEVEL", problem: "'\(raw)' is not a whole number of 1 or more")
            }
            maxEscalationLevel = level
        }
    }
}
