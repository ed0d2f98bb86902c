import Foundation
import OnCallStore
import Timestamps

/// The output formats of `shiftgate drift`.
public enum DriftFormat: String, CaseIterable, Sendable {
    /// Plain, aligned text for a terminal.
    case text
    /// Markdown for a chat message or a ticket.
    case markdown
    /// Stable JSON for machines, documented in `DRIFT-JSON.md`.
    case json
    /// One self-contained HTML page with an SVG timeline per schedule whose on-call roster changed.
    case html
}

extension Drift {
    /// Renders a report in the given format. Every format says plainly when there is no drift.
    public static func render(_ report: DriftReport, as format: DriftFormat) -> String {
        switch format {
        case .text: TextRenderer(report: report).render()
        case .markdown: MarkdownRenderer(report: report).render()
        case .json: String(decoding: encodeJSON(report), as: UTF8.self)
        case .html: HTMLRenderer(report: report).render()
        }
    }

    /// The report as JSON: snake_case keys like every other JSON Shiftgate writes, sorted, ISO 8601
    /// UTC times, explicit nulls. See `DRIFT-JSON.md`.
    public static func encodeJSON(_ report: DriftReport) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .rfc3339
        do {
            return try encoder.encode(report)
        } catch {
            // The report holds only strings, integers, booleans and dates, which JSONEncoder always encodes.
            preconditionFailure("a drift report failed to encode as JSON: \(error)")
        }
    }

    /// Reads a report back from the JSON that `encodeJSON(_:)` writes.
    public static func decodeJSON(_ data: Data) throws -> DriftReport {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .rfc3339
        return try decoder.decode(DriftReport.self, from: data)
    }
}

// MARK: - Shared wording for the human formats

/// Writes times in UTC with a schedule's own time zone alongside:
/// `2026-11-25 14:00 UTC (09:00 America/New_York)`; the local date is shown only when it differs.
struct TimeWriter {
    private let zone: TimeZone?
    private let zoneName: String
    private static let utc = TimeZone.gmt

    /// `zoneIdentifier` nil, empty, unknown to the system or UTC itself: UTC only.
    init(zoneIdentifier: String?) {
        let zone = zoneIdentifier.flatMap { TimeZone(identifier: $0) }
        if let zone, zone.identifier != "UTC", zone.identifier != "GMT", zone.identifier != "Etc/UTC" {
            self.zone = zone
            self.zoneName = zoneIdentifier ?? zone.identifier
        } else {
            self.zone = nil
            self.zoneName = "UTC"
        }
    }

    /// `2026-11-25 14:00 UTC (09:00 America/New_York)`.
    func instant(_ date: Date) -> String {
        let utc = Self.parts(date, in: Self.utc)
        guard let zone else { return "\(utc.date) \(utc.time) UTC" }
        return "\(utc.date) \(utc.time) UTC (\(local(date, zone: zone, utcDate: utc.date)) \(zoneName))"
    }

    /// `2026-11-25 14:00 → 2026-11-26 14:00 UTC (09:00 → 09:00 America/New_York)`.
    func range(_ start: Date, _ end: Date) -> String {
        let a = Self.parts(start, in: Self.utc)
        let b = Self.parts(end, in: Self.utc)
        let utcText = "\(a.date) \(a.time) → \(b.date) \(b.time) UTC"
        guard let zone else { return utcText }
        return "\(utcText) (\(local(start, zone: zone, utcDate: a.date)) → \(local(end, zone: zone, utcDate: b.date)) \(zoneName))"
    }

    /// Only the UTC part, for the report header: `2026-11-25 14:00 UTC`.
    static func utcInstant(_ date: Date) -> String {
        let parts = parts(date, in: utc)
        return "\(parts.date) \(parts.time) UTC"
    }

    /// `2026-11-25 14:00 → 2026-11-26 14:00 UTC`.
    static func utcRange(_ start: Date, _ end: Date) -> String {
        let a = parts(start, in: utc)
        let b = parts(end, in: utc)
        return "\(a.date) \(a.time) → \(b.date) \(b.time) UTC"
    }

    /// The zone shown beside UTC, or nil when times are shown in UTC only.
    var localZoneName: String? { zone == nil ? nil : zoneName }

    /// The zone shown beside UTC, or nil when times are shown in UTC only.
    var localZone: TimeZone? { zone }

    /// Local wall-clock time of `date`, with its date when that differs from the UTC date shown beside it.
    func local(_ date: Date, zone: TimeZone, utcDate: String) -> String {
        let parts = Self.parts(date, in: zone)
        return parts.date == utcDate ? parts.time : "\(parts.date) \(parts.time)"
    }

    /// Date `yyyy-MM-dd` and time `HH:mm` (`HH:mm:ss` when the seconds are not zero) in a zone.
    static func parts(_ date: Date, in zone: TimeZone) -> (date: String, time: String) {
        ReadableTime.parts(date, in: zone)
    }
}

extension DriftReport.Person {
    /// `Name <email>`, or just the name when the email is unknown.
    var display: String { email.isEmpty ? name : "\(name) <\(email)>" }
}

extension DriftReport.Target {
    /// `schedule Payments Primary` or `user Ada Lovelace <ada@example.com>`.
    var display: String {
        switch kind {
        case .schedule: "schedule \(name)"
        case .user: "user " + ((email ?? "").isEmpty ? name : "\(name) <\(email ?? "")>")
        }
    }
}

extension DriftReport.Status {
    var label: String {
        switch self {
        case .added: "added"
        case .removed: "removed"
        case .changed: "changed"
        }
    }
}

extension DriftReport.ScheduleDrift {
    /// Short labels of what changed, for headings: "renamed", "time zone", "members", "on call", ….
    var changeLabels: [String] {
        if status != .changed { return [status.label] }
        var labels: [String] = []
        if rename != nil { labels.append("renamed") }
        if timeZoneChange != nil { labels.append("time zone changed") }
        if let kindChange { labels.append(kindChange.to == .shiftBased ? "upgraded to shift-based" : "now layer-based") }
        if !membersJoined.isEmpty || !membersLeft.isEmpty { labels.append("members changed") }
        if !onCallChanges.isEmpty { labels.append("on call changed") }
        if !overridesAdded.isEmpty || !overridesRemoved.isEmpty { labels.append("overrides changed") }
        if !gapsOpened.isEmpty { labels.append("gaps opened") }
        if !gapsClosed.isEmpty { labels.append("gaps closed") }
        return labels
    }
}

extension ScheduleKind {
    /// "layer-based", "shift-based (v3)".
    var display: String {
        switch self {
        case .layerBased: "layer-based"
        case .shiftBased: "shift-based (v3)"
        }
    }
}

extension DriftReport.Change<ScheduleKind> {
    /// `layer-based → shift-based (v3), same id`.
    var display: String { "\(from.display) → \(to.display), same id" }
}

extension DriftReport.PolicyDrift {
    var changeLabels: [String] {
        if status != .changed { return [status.label] }
        var labels: [String] = []
        if rename != nil { labels.append("renamed") }
        if !levelsAdded.isEmpty || !levelsRemoved.isEmpty { labels.append("levels changed") }
        if !targetsAdded.isEmpty || !targetsRemoved.isEmpty { labels.append("targets changed") }
        return labels
    }
}

extension DriftReport.Level {
    /// `level 3, 30 min after the previous level: schedule Payments, user Ada <ada@example.com>`.
    var display: String {
        let targetsText = targets.isEmpty ? "no targets" : targets.map(\.display).joined(separator: ", ")
        return "level \(level) (escalates after \(delayMinutes) min): \(targetsText)"
    }
}

/// Names a list of people on call, "nobody" for an empty one.
func peopleText(_ people: [DriftReport.Person], _ show: (DriftReport.Person) -> String = { $0.display }) -> String {
    people.isEmpty ? "nobody" : people.map(show).joined(separator: " + ")
}
