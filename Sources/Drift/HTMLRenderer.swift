import Foundation
import SafeText

/// One self-contained HTML page: inline CSS, an inline SVG timeline per schedule whose roster changed
/// (before above after, gaps hatched red, changed periods outlined), no script and no external asset.
/// Every piece of text from the snapshots goes through `escape`.
struct HTMLRenderer {
    let report: DriftReport
    private var html: [String] = []
    /// Numbers the SVG pattern IDs, which share one namespace across the page.
    private var timelineCount = 0

    init(report: DriftReport) {
        self.report = report
    }

    func render() -> String {
        var renderer = self
        renderer.writeDocument()
        return renderer.html.joined(separator: "\n") + "\n"
    }

    private mutating func writeDocument() {
        let title = "On-call drift: snapshot \(report.from.id) → snapshot \(report.to.id)"
        html.append("""
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>\(Self.css)</style>
            </head>
            <body>
            <header>
            <h1>\(escape(title))</h1>
            """)
        html.append("<dl class=\"meta\">")
        for (label, snapshot) in [("From", report.from), ("To", report.to)] {
            html.append("<dt>\(label)</dt><dd>snapshot \(snapshot.id), finished \(escape(TimeWriter.utcInstant(snapshot.finishedAt))), "
                + "covers \(escape(TimeWriter.utcRange(snapshot.window.start, snapshot.window.end)))</dd>")
        }
        if let window = report.comparedWindow {
            html.append("<dt>Compared</dt><dd><strong>\(escape(TimeWriter.utcRange(window.start, window.end)))</strong></dd>")
        } else {
            html.append("<dt>Compared</dt><dd><strong>nothing</strong>: the windows do not overlap, so only schedules, members and policies are compared</dd>")
        }
        html.append("</dl>")
        if report.isEmpty {
            html.append("<p class=\"nodrift\">No drift: the two snapshots agree.</p>")
        } else {
            html.append("<p class=\"summary\">\(escape(report.summary))</p>")
            if report.schedules.contains(where: { $0.timeline != nil }) { html.append(Self.legend) }
        }
        html.append("</header>")
        html.append("<main>")
        for schedule in report.schedules { write(schedule) }
        for policy in report.escalationPolicies { write(policy) }
        html.append("</main>")
        html.append("</body>")
        html.append("</html>")
    }

    // MARK: Schedules

    private mutating func write(_ schedule: DriftReport.ScheduleDrift) {
        let time = TimeWriter(zoneIdentifier: schedule.timeZone)
        html.append("<section class=\"card\">")
        html.append("<h2><span class=\"kind\">Schedule</span> \(escape(schedule.name)) <code>\(escape(schedule.id))</code></h2>")
        html.append("<p class=\"badges\">" + schedule.changeLabels.map { "<span class=\"badge \(badgeClass($0))\">\(escape($0))</span>" }.joined(separator: " ")
            + " <span class=\"zone\">times in UTC"
            + (time.localZoneName.map { ", then in the schedule's zone \(escape($0))" } ?? "") + "</span></p>")

        if let timeline = schedule.timeline, let window = report.comparedWindow {
            writeTimeline(timeline, changes: schedule.onCallChanges, window: window, time: time)
        }

        var facts: [(String, [String])] = []
        if let rename = schedule.rename { facts.append(("Renamed", ["\(escape(rename.from)) → \(escape(rename.to))"])) }
        if let change = schedule.timeZoneChange { facts.append(("Time zone", ["\(escape(change.from)) → \(escape(change.to))"])) }
        if let change = schedule.kindChange { facts.append(("Kind", [escape(change.display)])) }
        if !schedule.membersJoined.isEmpty { facts.append(("Members joined", schedule.membersJoined.map(personHTML))) }
        if !schedule.membersLeft.isEmpty { facts.append(("Members left", schedule.membersLeft.map(personHTML))) }
        if !schedule.gapsOpened.isEmpty {
            facts.append(("Gaps opened", schedule.gapsOpened.map { "<span class=\"gap\">\(escape(time.range($0.start, $0.end)))</span>" }))
        }
        if !schedule.gapsClosed.isEmpty { facts.append(("Gaps closed", schedule.gapsClosed.map { escape(time.range($0.start, $0.end)) })) }
        if !schedule.overridesAdded.isEmpty {
            facts.append(("Overrides added", schedule.overridesAdded.map { "\(escape(time.range($0.start, $0.end))): \(personHTML($0.person))" }))
        }
        if !schedule.overridesRemoved.isEmpty {
            facts.append(("Overrides removed", schedule.overridesRemoved.map { "\(escape(time.range($0.start, $0.end))): \(personHTML($0.person))" }))
        }
        if schedule.status != .changed {
            facts.append(("Schedule", ["\(schedule.status.label) (time zone \(escape(schedule.timeZone)))"]))
        }
        writeFacts(facts)

        if !schedule.onCallChanges.isEmpty {
            html.append("<table><thead><tr><th>On call changed</th><th>Before</th><th>After</th></tr></thead><tbody>")
            for change in schedule.onCallChanges {
                html.append("<tr><td class=\"when\">\(escape(time.range(change.start, change.end)))</td>"
                    + "<td>\(peopleHTML(change.before))</td><td>\(peopleHTML(change.after))</td></tr>")
            }
            html.append("</tbody></table>")
        }
        html.append("</section>")
    }

    private mutating func writeFacts(_ facts: [(String, [String])]) {
        guard !facts.isEmpty else { return }
        html.append("<dl class=\"facts\">")
        for (label, values) in facts {
            html.append("<dt>\(escape(label))</dt><dd>" + values.joined(separator: "<br>") + "</dd>")
        }
        html.append("</dl>")
    }

    // MARK: Timeline

    enum Layout {
        static let width = 1100.0
        static let left = 92.0
        static let right = 1088.0
        static let beforeY = 26.0
        static let afterY = 66.0
        static let rowHeight = 30.0
        static let axisY = 104.0
        static let height = 146.0
        static let palette = [
            // No reds or ambers: those mean "gap" and "changed" here.
            "#2563eb", "#059669", "#7c3aed", "#0e7490", "#4d7c0f", "#4338ca",
            "#0f766e", "#9333ea", "#475569", "#0369a1", "#15803d", "#6d28d9",
        ]
    }

    private mutating func writeTimeline(_ timeline: DriftReport.Timeline, changes: [DriftReport.OnCallChange], window: DriftReport.Interval, time: TimeWriter) {
        timelineCount += 1
        let hatch = "gap-hatch-\(timelineCount)"
        let span = window.end.timeIntervalSince(window.start)
        func x(_ date: Date) -> Double {
            Layout.left + (Layout.right - Layout.left) * min(1, max(0, date.timeIntervalSince(window.start) / span))
        }
        // Colours by person, in name order, so one person has one colour in both rows.
        let people = Set((timeline.before + timeline.after).flatMap(\.people))
            .sorted { ($0.name.lowercased(), $0.id) < ($1.name.lowercased(), $1.id) }
        var colour: [String: String] = [:]
        for (index, person) in people.enumerated() { colour[person.id] = Layout.palette[index % Layout.palette.count] }

        var svg: [String] = []
        svg.append("<svg class=\"timeline\" viewBox=\"0 0 \(n(Layout.width)) \(n(Layout.height))\" role=\"img\">")
        svg.append("<title>On call before (top) and after (bottom)</title>")
        svg.append("<defs><pattern id=\"\(hatch)\" width=\"7\" height=\"7\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            + "<rect width=\"7\" height=\"7\" fill=\"#fee2e2\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"7\" stroke=\"#dc2626\" stroke-width=\"3\"/></pattern></defs>")

        let ticks = Self.ticks(window)
        // Tick lines first, so the rows hide them and they show only between and below the rows.
        for tick in ticks {
            svg.append("<line class=\"tick\" x1=\"\(n(x(tick)))\" y1=\"\(n(Layout.beforeY - 8))\" x2=\"\(n(x(tick)))\" y2=\"\(n(Layout.axisY + 4))\"/>")
        }
        for (label, y, segments) in [("before", Layout.beforeY, timeline.before), ("after", Layout.afterY, timeline.after)] {
            let snapshotId = label == "before" ? report.from.id : report.to.id
            svg.append("<text class=\"row\" x=\"8\" y=\"\(n(y + 13))\">\(label)</text>")
            svg.append("<text class=\"rowsub\" x=\"8\" y=\"\(n(y + 26))\">snapshot \(snapshotId)</text>")
            // The whole row is hatched first: whatever no bar covers is a gap.
            svg.append("<rect x=\"\(n(Layout.left))\" y=\"\(n(y))\" width=\"\(n(Layout.right - Layout.left))\" height=\"\(n(Layout.rowHeight))\" fill=\"url(#\(hatch))\"><title>nobody on call</title></rect>")
            for segment in segments {
                let x0 = x(segment.start)
                let width = max(1, x(segment.end) - x0)
                let fill = colour[segment.people.first?.id ?? ""] ?? "#64748b"
                let tooltip = "\(peopleText(segment.people)), \(time.range(segment.start, segment.end))"
                svg.append("<g><title>\(escape(tooltip))</title>"
                    + "<rect class=\"bar\" x=\"\(n(x0))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(Layout.rowHeight))\" fill=\"\(fill)\"/>")
                if let label = barLabel(segment.people, width: width) {
                    svg.append("<text class=\"bar\" x=\"\(n(x0 + 5))\" y=\"\(n(y + 19))\">\(escape(label))</text>")
                }
                svg.append("</g>")
            }
        }

        for change in changes {
            let x0 = x(change.start)
            let width = max(2, x(change.end) - x0)
            let tooltip = "changed: \(peopleText(change.before)) → \(peopleText(change.after)), \(time.range(change.start, change.end))"
            svg.append("<rect class=\"changed\" x=\"\(n(x0))\" y=\"\(n(Layout.beforeY - 6))\" width=\"\(n(width))\" "
                + "height=\"\(n(Layout.afterY + Layout.rowHeight - Layout.beforeY + 12))\"><title>\(escape(tooltip))</title></rect>")
        }

        svg.append("<line class=\"axis\" x1=\"\(n(Layout.left))\" y1=\"\(n(Layout.axisY))\" x2=\"\(n(Layout.right))\" y2=\"\(n(Layout.axisY))\"/>")
        svg.append("<text class=\"rowsub\" x=\"8\" y=\"\(n(Layout.axisY + 16))\">UTC</text>")
        if let zone = time.localZoneName {
            svg.append("<text class=\"rowsub\" x=\"8\" y=\"\(n(Layout.axisY + 32))\">\(escape(Self.shortZone(zone)))</text>")
        }
        let labels = ticks.map { tick in (utc: Self.tickLabel(tick, zone: .gmt), local: time.localZone.map { Self.tickLabel(tick, zone: $0) }) }
        let widest = labels.map { max($0.utc.count, $0.local?.count ?? 0) }.max() ?? 0
        for (index, placement) in Self.tickLabelPlacements(ticks.map(x), labelWidth: Self.labelWidth(characters: widest)).enumerated() {
            guard let placement else { continue }
            svg.append("<text class=\"ticklabel\" x=\"\(n(placement.x))\" y=\"\(n(Layout.axisY + 16))\" text-anchor=\"\(placement.anchor)\">\(escape(labels[index].utc))</text>")
            if let local = labels[index].local {
                svg.append("<text class=\"ticklocal\" x=\"\(n(placement.x))\" y=\"\(n(Layout.axisY + 32))\" text-anchor=\"\(placement.anchor)\">\(escape(local))</text>")
            }
        }
        svg.append("</svg>")
        html.append(svg.joined(separator: "\n"))
    }

    /// The longest of full name, first name, initials that fits the bar, or nil.
    private func barLabel(_ people: [DriftReport.Person], width: Double) -> String? {
        let available = width - 10
        let characterWidth = 6.8
        let full = people.map(\.name).joined(separator: " + ")
        let first = people.map { $0.name.split(separator: " ").first.map(String.init) ?? $0.name }.joined(separator: " + ")
        let initials = people.map { $0.name.split(separator: " ").compactMap(\.first).map(String.init).joined() }.joined(separator: "+")
        return [full, first, initials].first { Double($0.count) * characterWidth <= available && !$0.isEmpty }
    }

    /// Tick times on round UTC hours or days, at most about eight across the window.
    static func ticks(_ window: DriftReport.Interval) -> [Date] {
        let span = window.end.timeIntervalSince(window.start)
        let hour = 3600.0
        let steps = [1, 2, 3, 6, 12, 24, 48, 168, 336, 672].map { Double($0) * hour }
        let step = steps.first { span / $0 <= 8 } ?? span / 8
        var tick = (window.start.timeIntervalSince1970 / step).rounded(.up) * step
        var result: [Date] = []
        while tick <= window.end.timeIntervalSince1970 {
            result.append(Date(timeIntervalSince1970: tick))
            tick += step
        }
        return result
    }

    /// How wide a tick label of `characters` is drawn, generously: 11 px text averages under 6.5 px
    /// a character in the fonts the page asks for.
    static func labelWidth(characters: Int) -> Double {
        Double(characters) * 6.5
    }

    /// Where each tick's label goes, or nil where it would not fit: centred under its tick, moved to
    /// start or end at its tick near an edge so that it stays between the row captions and the
    /// picture's right edge (`Layout.left` to `Layout.width`),
    /// and left out when it would overlap the label before it (with a small gap), so that no two
    /// labels ever draw over each other, at the right edge least of all.
    static func tickLabelPlacements(_ xs: [Double], labelWidth: Double, gap: Double = 8) -> [(x: Double, anchor: String)?] {
        var placements: [(x: Double, anchor: String)?] = []
        var previousEnd = -Double.infinity
        for x in xs {
            let start: Double
            let anchor: String
            if x - labelWidth / 2 < Layout.left {
                (start, anchor) = (x, "start")
            } else if x + labelWidth / 2 > Layout.width {
                (start, anchor) = (x - labelWidth, "end")
            } else {
                (start, anchor) = (x - labelWidth / 2, "middle")
            }
            guard start >= previousEnd + gap, start >= Layout.left, start + labelWidth <= Layout.width else {
                placements.append(nil)
                continue
            }
            previousEnd = start + labelWidth
            placements.append((x, anchor))
        }
        return placements
    }

    /// `Wed 25 Nov 14:00`: weekday and date help more than the year on a timeline.
    static func tickLabel(_ date: Date, zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.weekday, .day, .month, .hour, .minute], from: date)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = weekdays[((c.weekday ?? 1) - 1) % 7]
        let month = months[((c.month ?? 1) - 1) % 12]
        let hour = c.hour ?? 0
        let minute = c.minute ?? 0
        return "\(weekday) \(c.day ?? 0) \(month) \(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)"
    }

    /// `America/New_York` → `New York`, for the narrow axis caption.
    static func shortZone(_ identifier: String) -> String {
        (identifier.split(separator: "/").last.map(String.init) ?? identifier).replacingOccurrences(of: "_", with: " ")
    }

    private func n(_ value: Double) -> String {
        String(format: "%.1f", value)
    }

    // MARK: Escalation policies

    private mutating func write(_ policy: DriftReport.PolicyDrift) {
        html.append("<section class=\"card\">")
        html.append("<h2><span class=\"kind\">Escalation policy</span> \(escape(policy.name)) <code>\(escape(policy.id))</code></h2>")
        html.append("<p class=\"badges\">" + policy.changeLabels.map { "<span class=\"badge \(badgeClass($0))\">\(escape($0))</span>" }.joined(separator: " ") + "</p>")
        var facts: [(String, [String])] = []
        if let rename = policy.rename { facts.append(("Renamed", ["\(escape(rename.from)) → \(escape(rename.to))"])) }
        if !policy.levelsAdded.isEmpty { facts.append(("Levels added", policy.levelsAdded.map(levelHTML))) }
        if !policy.levelsRemoved.isEmpty { facts.append(("Levels removed", policy.levelsRemoved.map(levelHTML))) }
        if !policy.targetsAdded.isEmpty { facts.append(("Targets added", policy.targetsAdded.map { "level \($0.level): \(targetHTML($0))" })) }
        if !policy.targetsRemoved.isEmpty { facts.append(("Targets removed", policy.targetsRemoved.map { "level \($0.level): \(targetHTML($0))" })) }
        if policy.status != .changed { facts.append(("Policy", [policy.status.label])) }
        writeFacts(facts)
        html.append("</section>")
    }

    private func levelHTML(_ level: DriftReport.Level) -> String {
        let targets = level.targets.isEmpty ? "no targets" : level.targets.map(targetHTML).joined(separator: ", ")
        return "level \(level.level) (escalates after \(level.delayMinutes) min): \(targets)"
    }

    private func targetHTML(_ target: DriftReport.Target) -> String {
        switch target.kind {
        case .schedule: "schedule <strong>\(escape(target.name))</strong>"
        case .user: "user " + personHTML(DriftReport.Person(id: target.id, name: target.name, email: target.email ?? ""))
        }
    }

    // MARK: Text

    private func personHTML(_ person: DriftReport.Person) -> String {
        person.email.isEmpty
            ? "<strong>\(escape(person.name))</strong>"
            : "<strong>\(escape(person.name))</strong> <span class=\"email\">&lt;\(escape(person.email))&gt;</span>"
    }

    private func peopleHTML(_ people: [DriftReport.Person]) -> String {
        people.isEmpty ? "<span class=\"nobody\">nobody</span>" : people.map(personHTML).joined(separator: " + ")
    }

    private func badgeClass(_ label: String) -> String {
        switch label {
        case "added", "gaps closed": "good"
        case "removed", "gaps opened": "bad"
        default: "neutral"
        }
    }

    /// Escapes text for HTML content and attribute values alike.
    func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        // Control characters shown as escapes (`SafeText`), then HTML's own.
        for character in text.printable {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    private static let legend = """
        <div class="legend">
        <span><svg width="26" height="14"><rect width="26" height="14" fill="#2563eb"/></svg> on call (one colour per person)</span>
        <span><svg width="26" height="14"><defs><pattern id="legend-hatch" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="7" height="7" fill="#fee2e2"/><line x1="0" y1="0" x2="0" y2="7" stroke="#dc2626" stroke-width="3"/></pattern></defs><rect width="26" height="14" fill="url(#legend-hatch)"/></svg> nobody on call (gap)</span>
        <span><svg width="26" height="14"><rect x="1" y="1" width="24" height="12" fill="#f59e0b" fill-opacity="0.18" stroke="#b45309" stroke-width="2"/></svg> period whose on-call person changed</span>
        </div>
        """

    private static let css = """
        :root { color-scheme: light; }
        body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1f2937; background: #f8fafc; margin: 0; padding: 24px; }
        header, main { max-width: 1140px; margin: 0 auto; }
        h1 { font-size: 22px; margin: 0 0 8px; }
        h2 { font-size: 17px; margin: 0 0 4px; }
        h2 .kind { color: #64748b; font-weight: 500; }
        code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #e2e8f0; padding: 1px 5px; border-radius: 4px; }
        dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 10px; color: #475569; }
        dl.meta dt { font-weight: 600; }
        dl.meta dd { margin: 0; }
        .summary { font-weight: 600; margin: 8px 0; }
        .nodrift { font-size: 18px; font-weight: 600; color: #166534; background: #dcfce7; border: 1px solid #86efac; border-radius: 8px; padding: 16px 20px; }
        .legend { display: flex; flex-wrap: wrap; gap: 18px; color: #475569; font-size: 13px; margin: 6px 0 14px; }
        .legend span { display: inline-flex; align-items: center; gap: 6px; }
        .card { background: #fff; border: 1px solid #e2e8f0; border-radius: 10px; padding: 14px 18px; margin: 0 0 16px; }
        .badges { margin: 0 0 8px; }
        .badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 999px; background: #e0e7ff; color: #3730a3; }
        .badge.good { background: #dcfce7; color: #166534; }
        .badge.bad { background: #fee2e2; color: #991b1b; }
        .zone { color: #64748b; font-size: 12px; margin-left: 6px; }
        svg.timeline { width: 100%; height: auto; display: block; margin: 6px 0 10px; }
        svg.timeline text { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        svg.timeline text.row { font-size: 13px; font-weight: 600; fill: #334155; }
        svg.timeline text.rowsub { font-size: 11px; fill: #64748b; }
        svg.timeline text.bar { font-size: 11.5px; fill: #fff; font-weight: 600; }
        svg.timeline rect.bar { stroke: #fff; stroke-width: 1; }
        svg.timeline rect.changed { fill: #f59e0b; fill-opacity: 0.18; stroke: #b45309; stroke-width: 2; }
        svg.timeline line.axis { stroke: #94a3b8; stroke-width: 1; }
        svg.timeline line.tick { stroke: #cbd5e1; stroke-width: 1; stroke-dasharray: 2 3; }
        svg.timeline text.ticklabel { font-size: 11px; fill: #334155; }
        svg.timeline text.ticklocal { font-size: 11px; fill: #94a3b8; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 8px 0; }
        dl.facts dt { font-weight: 600; color: #475569; }
        dl.facts dd { margin: 0; }
        .email { color: #475569; }
        .nobody { color: #b91c1c; font-weight: 600; }
        .gap { color: #b91c1c; }
        table { border-collapse: collapse; width: 100%; margin: 8px 0 0; font-size: 13px; }
        th, td { text-align: left; padding: 5px 8px; border-top: 1px solid #e2e8f0; vertical-align: top; }
        th { color: #475569; font-weight: 600; background: #f1f5f9; }
        td.when { white-space: nowrap; font-variant-numeric: tabular-nums; }
        """
}
