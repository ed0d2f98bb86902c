import Foundation
import SafeText

/// Plain text for a terminal: a header, then one block per schedule and policy with an aligned label column.
struct TextRenderer {
    let report: DriftReport
    private static let labelWidth = 18
    private var lines: [String] = []

    init(report: DriftReport) {
        self.report = report
    }

    func render() -> String {
        var renderer = self
        renderer.writeHeader()
        for schedule in report.schedules { renderer.write(schedule) }
        for policy in report.escalationPolicies { renderer.write(policy) }
        // Every line is built here as one line; what PagerDuty wrote into names and ids is escaped
        // so that it stays on it and cannot reach the terminal as a control sequence.
        return renderer.lines.lazy.map(\.printable).joined(separator: "\n") + "\n"
    }

    private mutating func writeHeader() {
        lines.append("Drift from snapshot \(report.from.id) to snapshot \(report.to.id)")
        for (label, snapshot) in [("from", report.from), ("to", report.to)] {
            row(label, "snapshot \(snapshot.id), finished \(TimeWriter.utcInstant(snapshot.finishedAt)), "
                + "covers \(TimeWriter.utcRange(snapshot.window.start, snapshot.window.end))")
        }
        if let window = report.comparedWindow {
            row("compared", TimeWriter.utcRange(window.start, window.end))
        } else {
            row("compared", "nothing: the windows do not overlap, so only schedules, members and policies are compared")
        }
        lines.append("")
        lines.append(report.isEmpty ? "No drift: the two snapshots agree." : report.summary)
    }

    private mutating func write(_ schedule: DriftReport.ScheduleDrift) {
        let time = TimeWriter(zoneIdentifier: schedule.timeZone)
        lines.append("")
        lines.append("Schedule \(schedule.name) (\(schedule.id)): \(schedule.changeLabels.joined(separator: ", "))")
        if schedule.status != .changed {
            row("time zone", schedule.timeZone)
            return
        }
        if let rename = schedule.rename { row("renamed", "\(rename.from) → \(rename.to)") }
        if let change = schedule.timeZoneChange { row("time zone", "\(change.from) → \(change.to)") }
        if let change = schedule.kindChange { row("kind", change.display) }
        rows("joined", schedule.membersJoined.map(\.display))
        rows("left", schedule.membersLeft.map(\.display))
        for change in schedule.onCallChanges {
            row("on call", time.range(change.start, change.end))
            row("", "  \(peopleText(change.before)) → \(peopleText(change.after))")
        }
        for entry in schedule.overridesAdded {
            row("override added", time.range(entry.start, entry.end))
            row("", "  \(entry.person.display)")
        }
        for entry in schedule.overridesRemoved {
            row("override removed", time.range(entry.start, entry.end))
            row("", "  \(entry.person.display)")
        }
        rows("gap opened", schedule.gapsOpened.map { time.range($0.start, $0.end) })
        rows("gap closed", schedule.gapsClosed.map { time.range($0.start, $0.end) })
    }

    private mutating func write(_ policy: DriftReport.PolicyDrift) {
        lines.append("")
        lines.append("Escalation policy \(policy.name) (\(policy.id)): \(policy.changeLabels.joined(separator: ", "))")
        if let rename = policy.rename { row("renamed", "\(rename.from) → \(rename.to)") }
        rows("level added", policy.levelsAdded.map(\.display))
        rows("level removed", policy.levelsRemoved.map(\.display))
        rows("target added", policy.targetsAdded.map { "level \($0.level): \($0.display)" })
        rows("target removed", policy.targetsRemoved.map { "level \($0.level): \($0.display)" })
    }

    /// One labelled line; the label is padded so values line up.
    private mutating func row(_ label: String, _ value: String) {
        let padding = String(repeating: " ", count: max(1, Self.labelWidth - label.count))
        lines.append("  " + label + padding + value)
    }

    /// The label on the first value only.
    private mutating func rows(_ label: String, _ values: [String]) {
        for (index, value) in values.enumerated() { row(index == 0 ? label : "", value) }
    }
}
