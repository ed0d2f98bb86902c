import Foundation
import SafeText

/// Markdown that reads well pasted into Slack or a GitHub issue: a heading per schedule and policy,
/// bullet lists beneath, people as `Name <email>`, no tables (Slack shows them raw).
struct MarkdownRenderer {
    let report: DriftReport
    private var lines: [String] = []

    init(report: DriftReport) {
        self.report = report
    }

    func render() -> String {
        var renderer = self
        renderer.writeHeader()
        for schedule in report.schedules { renderer.write(schedule) }
        for policy in report.escalationPolicies { renderer.write(policy) }
        return renderer.lines.joined(separator: "\n") + "\n"
    }

    private mutating func writeHeader() {
        lines.append("## On-call drift: snapshot \(report.from.id) → snapshot \(report.to.id)")
        lines.append("")
        if let window = report.comparedWindow {
            lines.append("Compared window: **\(TimeWriter.utcRange(window.start, window.end))**")
        } else {
            lines.append("Compared window: **none**. The snapshots' windows do not overlap, so only schedules, members and policies are compared.")
        }
        lines.append("")
        for (label, snapshot) in [("From", report.from), ("To", report.to)] {
            lines.append("- \(label): snapshot \(snapshot.id), finished \(TimeWriter.utcInstant(snapshot.finishedAt)), "
                + "covers \(TimeWriter.utcRange(snapshot.window.start, snapshot.window.end))")
        }
        lines.append("")
        lines.append(report.isEmpty ? "**No drift**: the two snapshots agree." : "**\(report.summary)**")
    }

    private mutating func write(_ schedule: DriftReport.ScheduleDrift) {
        let time = TimeWriter(zoneIdentifier: schedule.timeZone)
        lines.append("")
        lines.append("### Schedule \(Self.escape(schedule.name)) (`\(Self.code(schedule.id))`): \(schedule.changeLabels.joined(separator: ", "))")
        lines.append("")
        if schedule.status != .changed {
            lines.append("- Schedule **\(schedule.status.label)** (time zone \(Self.escape(schedule.timeZone)))")
            return
        }
        if let rename = schedule.rename {
            lines.append("- **Renamed:** \(Self.escape(rename.from)) → \(Self.escape(rename.to))")
        }
        if let change = schedule.timeZoneChange {
            lines.append("- **Time zone:** \(Self.escape(change.from)) → \(Self.escape(change.to))")
        }
        if let change = schedule.kindChange {
            lines.append("- **Kind:** \(Self.escape(change.display))")
        }
        list("Members joined", schedule.membersJoined.map(Self.person))
        list("Members left", schedule.membersLeft.map(Self.person))
        list("On call changed", schedule.onCallChanges.map {
            "\(time.range($0.start, $0.end)): \(peopleText($0.before, Self.person)) → \(peopleText($0.after, Self.person))"
        })
        list("Overrides added", schedule.overridesAdded.map { "\(time.range($0.start, $0.end)): \(Self.person($0.person))" })
        list("Overrides removed", schedule.overridesRemoved.map { "\(time.range($0.start, $0.end)): \(Self.person($0.person))" })
        list("Coverage gaps opened (nobody on call)", schedule.gapsOpened.map { time.range($0.start, $0.end) })
        list("Coverage gaps closed", schedule.gapsClosed.map { time.range($0.start, $0.end) })
    }

    private mutating func write(_ policy: DriftReport.PolicyDrift) {
        lines.append("")
        lines.append("### Escalation policy \(Self.escape(policy.name)) (`\(Self.code(policy.id))`): \(policy.changeLabels.joined(separator: ", "))")
        lines.append("")
        if policy.status != .changed {
            lines.append("- Policy **\(policy.status.label)**")
            return
        }
        if let rename = policy.rename {
            lines.append("- **Renamed:** \(Self.escape(rename.from)) → \(Self.escape(rename.to))")
        }
        list("Levels added", policy.levelsAdded.map(Self.level))
        list("Levels removed", policy.levelsRemoved.map(Self.level))
        list("Targets added", policy.targetsAdded.map { "level \($0.level): \(Self.target($0))" })
        list("Targets removed", policy.targetsRemoved.map { "level \($0.level): \(Self.target($0))" })
    }

    /// A bold label with the items nested beneath it; one item goes on the label's line.
    private mutating func list(_ label: String, _ items: [String]) {
        switch items.count {
        case 0: return
        case 1: lines.append("- **\(label):** \(items[0])")
        default:
            lines.append("- **\(label):**")
            for item in items { lines.append("  - \(item)") }
        }
    }

    private static func person(_ person: DriftReport.Person) -> String {
        person.email.isEmpty ? escape(person.name) : "\(escape(person.name)) \(email(person.email))"
    }

    private static func target(_ target: DriftReport.Target) -> String {
        switch target.kind {
        case .schedule: "schedule \(escape(target.name))"
        case .user: "user " + person(DriftReport.Person(id: target.id, name: target.name, email: target.email ?? ""))
        }
    }

    private static func level(_ level: DriftReport.Level) -> String {
        let targets = level.targets.isEmpty ? "no targets" : level.targets.map(target).joined(separator: ", ")
        return "level \(level.level) (escalates after \(level.delayMinutes) min): \(targets)"
    }

    /// `<ada@example.com>`: an autolink on GitHub, literal text in Slack. Anything that is not a plain
    /// address is escaped instead, so it cannot become a link or HTML.
    private static func email(_ address: String) -> String {
        let plain = address.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "._%+-@".unicodeScalars.contains($0)
        }
        return plain && address.contains("@") ? "<\(address)>" : "\\<\(escape(address))\\>"
    }

    /// Backslash-escapes the characters that would start emphasis, code, links or HTML.
    /// An underscore inside a word (`America/New_York`) is left alone: it cannot start emphasis, and
    /// Slack would show the backslash.
    static func escape(_ text: String) -> String {
        // A line break becomes a space; any other control character is shown as an escape
        // (`SafeText`), whose backslash is then escaped below like any other.
        let characters = Array(String(text.map { $0.isNewline ? " " : $0 }).printable)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isNewline {
                result.append(" ")
                continue
            }
            let intraword = character == "_" && index > 0 && index < characters.count - 1
                && characters[index - 1].isLetterOrDigit && characters[index + 1].isLetterOrDigit
            if "\\`*_[]<>#|~".contains(character), !intraword { result.append("\\") }
            result.append(character)
        }
        return result
    }

    /// Text inside a code span cannot contain a backtick, nor a control character.
    private static func code(_ text: String) -> String {
        text.printable.replacingOccurrences(of: "`", with: "'")
    }
}

private extension Character {
    var isLetterOrDigit: Bool { isLetter || isNumber }
}
