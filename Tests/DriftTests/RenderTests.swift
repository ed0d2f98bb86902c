@testable import Drift
import Foundation
import OnCallStore
import Testing

/// The four renderers, checked for the facts a reader needs rather than for exact layout.
@Suite struct RenderTests {
    /// A week with one of nearly everything: a renamed and re-zoned schedule with a member swap, a
    /// reassigned day, a gap opened and an override; a gap closed elsewhere; a schedule added and one
    /// removed (its name full of HTML); a policy with a level added and a target swapped.
    static func sample() -> DriftReport {
        var before = Fixture.base(id: 41)
        var after = Fixture.base(id: 42)
        let infra = Schedule(id: "PSINFRA", name: "<b>Infra</b> & \"Ops\"", timeZone: "UTC")
        before.schedules.append(infra)

        after.schedules[0].name = "Payments (primary)"
        after.schedules[0].timeZone = "America/Chicago"
        after.members.removeAll { $0.scheduleId == Fixture.payments.id && $0.userId == Fixture.cat.id }
        after.members.append(ScheduleMember(scheduleId: Fixture.payments.id, userId: Fixture.dan.id))
        Fixture.reassign(&after, Fixture.payments, day: 2, to: Fixture.dan)
        Fixture.removeShift(&after, Fixture.payments, day: 4)
        after.overrides = [Override(scheduleId: Fixture.payments.id, userId: Fixture.ada.id, start: Fixture.at(day: 5, hour: 14), end: Fixture.at(day: 6, hour: 2))]
        for index in after.shifts.indices where after.shifts[index].scheduleId == Fixture.payments.id && after.shifts[index].start == Fixture.at(day: 5, hour: 14) {
            after.shifts[index].end = Fixture.at(day: 6, hour: 2)
            after.shifts[index].userId = Fixture.ada.id
        }
        after.shifts.append(Shift(scheduleId: Fixture.payments.id, userId: Fixture.cat.id, start: Fixture.at(day: 6, hour: 2), end: Fixture.at(day: 6, hour: 14)))

        Fixture.removeShift(&before, Fixture.search, day: 1)

        after.schedules.append(Schedule(id: "PSBILL", name: "Billing", timeZone: "Asia/Tokyo"))
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 3, ruleId: "R3", delayMinutes: 10, kind: .schedule, targetId: "PSBILL"))
        after.targets.removeAll { $0.level == 2 }
        after.targets.append(EscalationTarget(policyId: Fixture.webOps.id, level: 2, ruleId: "R2", delayMinutes: 15, kind: .user, targetId: Fixture.cat.id))
        return Drift.diff(from: before, to: after)
    }

    static func emptyReport() -> DriftReport {
        Drift.diff(from: Fixture.base(id: 41), to: Fixture.base(id: 42))
    }

    @Test func theSampleHasEveryKindOfChange() throws {
        let report = Self.sample()
        #expect(report.schedules.map(\.id) == ["PSINFRA", "PSBILL", "PSPAY", "PSSEARCH"], "sorted by name; '<' sorts first")
        #expect(report.schedules.map(\.status) == [.removed, .added, .changed, .changed])
        let payments = try #require(report.schedules.first { $0.id == Fixture.payments.id })
        #expect(payments.rename != nil && payments.timeZoneChange != nil)
        #expect(!payments.membersJoined.isEmpty && !payments.membersLeft.isEmpty)
        #expect(!payments.onCallChanges.isEmpty && !payments.gapsOpened.isEmpty && !payments.overridesAdded.isEmpty)
        #expect(report.schedules.contains { !$0.gapsClosed.isEmpty })
        #expect(report.escalationPolicies.count == 1)
    }

    // MARK: Text

    @Test func textShowsTimesPeopleAndChanges() {
        let text = Drift.render(Self.sample(), as: .text)
        #expect(text.contains("Drift from snapshot 41 to snapshot 42"))
        #expect(text.contains("Payments Primary → Payments (primary)"))
        #expect(text.contains("America/New_York → America/Chicago"))
        #expect(text.contains("Dan Diaz <dan@example.com>"))
        // Day 2's handoff, UTC then the schedule's (new) zone.
        #expect(text.contains("2026-11-25 14:00 → 2026-11-26 14:00 UTC (08:00 → 08:00 America/Chicago)"))
        #expect(text.contains("Cat Chen <cat@example.com> → Dan Diaz <dan@example.com>"))
        #expect(text.contains("Bob Baker <bob@example.com> → nobody"))
        #expect(text.contains("gap opened"))
        #expect(text.contains("gap closed"))
        #expect(text.contains("override added"))
        #expect(text.contains("Schedule Billing (PSBILL): added"))
        #expect(text.contains("level added"))
        #expect(text.contains("level 3 (escalates after 10 min): schedule Billing"))
        #expect(text.contains("target removed"))
    }

    @Test func localDateIsShownWhenItDiffersFromTheUTCDate() {
        // Search hands over at 14:00 UTC, 15:00 in Berlin: same date. Chicago's 08:00 is too. A gap that
        // ends at 02:00 UTC is the previous evening in Chicago.
        let text = Drift.render(Self.sample(), as: .text)
        #expect(text.contains("2026-11-28 14:00 → 2026-11-29 02:00 UTC (08:00 → 2026-11-28 20:00 America/Chicago)"))
    }

    // MARK: Markdown

    @Test func markdownHasHeadingsAndBullets() {
        let markdown = Drift.render(Self.sample(), as: .markdown)
        #expect(markdown.hasPrefix("## On-call drift: snapshot 41 → snapshot 42"))
        #expect(markdown.contains("### Schedule Payments (primary) (`PSPAY`)"))
        #expect(markdown.contains("- **Renamed:** Payments Primary → Payments (primary)"))
        #expect(markdown.contains("- **Time zone:** America/New_York → America/Chicago"), "no backslash inside a word")
        #expect(markdown.contains("- **Members joined:** Dan Diaz <dan@example.com>"))
        #expect(markdown.contains("Cat Chen <cat@example.com> → Dan Diaz <dan@example.com>"))
        #expect(markdown.contains("Coverage gaps opened"))
        #expect(markdown.contains("### Escalation policy Web Ops (`PPWEB`)"))
        // Markup in a name is escaped, not interpreted.
        #expect(markdown.contains("\\<b\\>Infra\\</b\\> & \"Ops\""))
    }

    // MARK: JSON

    @Test func jsonRoundTrips() throws {
        let report = Self.sample()
        let json = Drift.render(report, as: .json)
        #expect(try Drift.decodeJSON(Data(json.utf8)) == report)
        let empty = Self.emptyReport()
        #expect(try Drift.decodeJSON(Drift.encodeJSON(empty)) == empty)
    }

    @Test func jsonHasStableKeysUTCTimesAndExplicitNulls() throws {
        let json = Drift.render(Self.sample(), as: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        // snake_case, like every other JSON output (#26.18).
        #expect(object.keys.sorted() == ["compared_window", "escalation_policies", "format_version", "from", "is_empty", "schedules", "summary", "to"])
        #expect(object["format_version"] as? Int == 3)
        #expect(object["is_empty"] as? Bool == false)
        #expect(json.contains("\"start\" : \"2026-11-25T14:00:00Z\""))
        let schedules = try #require(object["schedules"] as? [[String: Any]])
        let billing = try #require(schedules.first { $0["id"] as? String == "PSBILL" })
        #expect(billing.keys.sorted() == [
            "gaps_closed", "gaps_opened", "id", "kind", "kind_change", "members_joined", "members_left", "name", "on_call_changes",
            "overrides_added", "overrides_removed", "rename", "status", "time_zone", "time_zone_change", "timeline",
        ])
        #expect(billing["rename"] is NSNull)
        // Keys appear sorted in the text, so diffs of two JSON reports stay small.
        let fromIndex = try #require(json.range(of: "\"from\""))
        let toIndex = try #require(json.range(of: "\"to\" :"))
        #expect(fromIndex.lowerBound < toIndex.lowerBound)
    }

    /// DRIFT-JSON.md's example must stay a report this version reads, with every key the encoder writes.
    @Test func documentedExampleDecodes() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Drift/DRIFT-JSON.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let start = try #require(text.range(of: "```json\n"))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let example = try Drift.decodeJSON(Data(text[start.upperBound..<end.lowerBound].utf8))
        #expect(example.schedules.first?.onCallChanges.count == 2)
        #expect(example.schedules.first?.kindChange == .init(from: .layerBased, to: .shiftBased))
        #expect(example.escalationPolicies.first?.levelsAdded.first?.targets.first?.name == "Ada Lovelace")

        // For every kind of object both contain (by path), the example shows the same keys as the encoder.
        func keysByPath(_ json: Data) throws -> [String: Set<String>] {
            func walk(_ value: Any, _ path: String, into result: inout [String: Set<String>]) {
                if let object = value as? [String: Any] {
                    result[path, default: []].formUnion(object.keys)
                    for (key, child) in object { walk(child, path + "." + key, into: &result) }
                } else if let array = value as? [Any] {
                    for child in array { walk(child, path + "[]", into: &result) }
                }
            }
            var result: [String: Set<String>] = [:]
            walk(try JSONSerialization.jsonObject(with: json), "", into: &result)
            return result
        }
        let documented = try keysByPath(Data(text[start.upperBound..<end.lowerBound].utf8))
        let written = try keysByPath(Drift.encodeJSON(Self.sample()))
        #expect(documented.count >= 15)
        for (path, keys) in documented {
            guard let writtenKeys = written[path] else { continue }
            #expect(keys == writtenKeys, "keys of \(path)")
        }
    }

    @Test func jsonFromAnotherFormatVersionIsRefused() throws {
        let json = Drift.render(Self.emptyReport(), as: .json).replacingOccurrences(of: "\"format_version\" : 3", with: "\"format_version\" : 2")
        #expect(throws: DecodingError.self) { try Drift.decodeJSON(Data(json.utf8)) }
    }

    // MARK: HTML

    /// #26.18: over windows of every length and offset, the axis labels stay inside the picture,
    /// right of the row captions, and never overlap, the right edge included.
    @Test func timelineTickLabelsNeverOverlapOrLeaveThePicture() {
        let layout = (left: HTMLRenderer.Layout.left, right: HTMLRenderer.Layout.right, width: HTMLRenderer.Layout.width)
        let width = HTMLRenderer.labelWidth(characters: "Wed 25 Nov 14:00".count)
        var placed = 0
        for hours in [1.0, 2, 5, 7.5, 12, 23, 24, 25, 47, 49, 71, 100, 167, 169, 200, 335, 337, 500, 720] {
            for offsetMinutes in [0.0, 1, 29, 59, 61, 119, 601] {
                let start = Date(timeIntervalSince1970: 1_795_000_000).addingTimeInterval(offsetMinutes * 60)
                let window = DriftReport.Interval(start: start, end: start.addingTimeInterval(hours * 3600))
                let span = window.end.timeIntervalSince(window.start)
                let xs = HTMLRenderer.ticks(window).map { layout.left + (layout.right - layout.left) * $0.timeIntervalSince(window.start) / span }
                var previousEnd = -Double.infinity
                for placement in HTMLRenderer.tickLabelPlacements(xs, labelWidth: width).compactMap({ $0 }) {
                    let start = switch placement.anchor {
                    case "start": placement.x
                    case "end": placement.x - width
                    default: placement.x - width / 2
                    }
                    #expect(start >= layout.left && start + width <= layout.width, "\(hours) h from +\(offsetMinutes) min: a label leaves the picture")
                    #expect(start > previousEnd, "\(hours) h from +\(offsetMinutes) min: labels overlap")
                    previousEnd = start + width
                    placed += 1
                }
            }
        }
        #expect(placed > 300, "most ticks keep their label")
    }

    @Test func htmlIsSelfContainedAndEscaped() {
        let html = Drift.render(Self.sample(), as: .html)
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("http"), "no external asset, not even a namespace URL")
        #expect(!html.contains("<link"))
        #expect(!html.contains("<b>Infra"))
        #expect(html.contains("&lt;b&gt;Infra&lt;/b&gt; &amp; &quot;Ops&quot;"))
    }

    @Test func htmlHasATimelinePerScheduleWhoseRosterChanged() {
        let report = Self.sample()
        let html = Drift.render(report, as: .html)
        let withTimeline = report.schedules.filter { $0.timeline != nil }.count
        #expect(withTimeline == 2)
        #expect(html.components(separatedBy: "<svg class=\"timeline\"").count - 1 == withTimeline)
        #expect(html.contains(">before</text>") && html.contains(">after</text>"))
        #expect(html.contains("fill=\"url(#gap-hatch-1)\""))
        #expect(html.contains("class=\"changed\""))
        #expect(html.contains("nobody on call (gap)"), "the legend")
        #expect(html.contains("Dan Diaz"))
        #expect(html.contains("&lt;dan@example.com&gt;"))
    }

    @Test(arguments: [DriftFormat.text, .markdown, .html])
    func windowsThatDoNotOverlapAreExplained(_ format: DriftFormat) {
        var after = Fixture.base(id: 42, firstDay: 7, days: 7)
        after.schedules[0].name = "Payments"
        let output = Drift.render(Drift.diff(from: Fixture.base(id: 41), to: after), as: format)
        #expect(output.contains("windows do not overlap"))
        #expect(output.contains("Payments Primary → Payments"))
    }

    // MARK: No drift

    @Test(arguments: DriftFormat.allCases)
    func anEmptyReportSaysNoDrift(_ format: DriftFormat) {
        let output = Drift.render(Self.emptyReport(), as: format)
        #expect(output.contains("No drift"))
        #expect(!output.contains("Schedule "))
    }

    /// Writes the sample in every format to `$DRIFT_PREVIEW_DIR` when set (for looking at the HTML in
    /// a browser after changing a renderer), else to a temporary folder, and checks what was written.
    @Test func everyFormatWritesAWholePreview() throws {
        let directory = ProcessInfo.processInfo.environment["DRIFT_PREVIEW_DIR"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("drift-preview-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["DRIFT_PREVIEW_DIR"] == nil { try? FileManager.default.removeItem(at: directory) } }
        let report = Self.sample()
        for format in DriftFormat.allCases {
            let url = directory.appendingPathComponent("drift.\(format == .markdown ? "md" : format == .text ? "txt" : format.rawValue)")
            try Drift.render(report, as: format).write(to: url, atomically: true, encoding: .utf8)
            let written = try String(contentsOf: url, encoding: .utf8)
            #expect(written.contains("Payments"), "\(format)")
            switch format {
            case .json: #expect(try Drift.decodeJSON(Data(written.utf8)) == report)
            case .html: #expect(written.hasPrefix("<!DOCTYPE html>") && written.hasSuffix("</html>\n"))
            case .text, .markdown: #expect(written.contains(report.summary))
            }
        }
    }
}
