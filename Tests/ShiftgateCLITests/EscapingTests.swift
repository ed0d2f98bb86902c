import Approval
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OnCallStore
import SQLiteStore
import Testing
import TestSupport

/// Issue #26, item 1: text from a request or from PagerDuty is escaped wherever Shiftgate prints
/// it, through the real binary: `serve`'s log, `audit`, `check`, `status` and `drift` (text and
/// Markdown). One event is one line, and no control character reaches a terminal.
@Suite struct EscapingTests {
    /// What a hostile requester or a careless PagerDuty admin can put into a name.
    static let hostile = "x\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J\u{0}\u{9B}31m\u{202E}"

    /// No control character but the line ends, and every line that a log line starts with a time.
    func expectClean(_ text: String, _ what: String, logLines: Bool = false) {
        let controls = text.unicodeScalars.filter { $0 != "\n" && ($0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E) }
        #expect(controls.isEmpty, "\(what) printed control characters: \(controls.map { String($0.value, radix: 16) })\n\(text)")
        if logLines {
            for line in text.split(separator: "\n") {
                #expect(line.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} .*/#) != nil, "a line that is not a log line: \(line)")
            }
        }
    }

    func snapshot(_ now: Date, scheduleName: String) -> SnapshotContents {
        SnapshotContents(
            info: SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400), windowEnd: now.addingTimeInterval(7 * 86_400)),
            users: [User(id: "PHOST01", name: "Mallory \(Self.hostile)", email: "mallory@example.com", timeZone: "UTC")],
            schedules: [Schedule(id: "PSCHED1", name: scheduleName, timeZone: "UTC")],
            shifts: [Shift(scheduleId: "PSCHED1", userId: "PHOST01", start: now.addingTimeInterval(-3600), end: now.addingTimeInterval(3600))])
    }

    @Test func theCommandsPrintHostileNamesOnOneLineEscaped() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        let now = Date()
        _ = try database.writeSnapshot(snapshot(now.addingTimeInterval(-60), scheduleName: "Primary"), keep: 10)
        _ = try database.writeSnapshot(snapshot(now, scheduleName: "Primary \(Self.hostile)"), keep: 10)
        try database.appendDecisions([DecisionRecord(decidedAt: now, requestId: "r\u{1B}1", requester: "nobody@example.com\n\(Self.hostile)",
                                                     resources: #"["a\u001b"]"#, outcome: "unknown_user", reason: "no PagerDuty user has the email \(Self.hostile)",
                                                     snapshotId: 2, scheduleId: nil, grantedSeconds: nil)])
        let env = ["SHIFTGATE_DATABASE": path, "AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "PSCHED1"]

        let audit = try await run(["audit"], environment: env)
        #expect(audit.status == 0, "\(audit.stderr)")
        expectClean(audit.stdout, "audit")
        #expect(audit.stdout.split(separator: "\n").count == 1, "one record, one line: \(audit.stdout)")
        // (SQLite's text ends at the NUL; what comes before it is what matters here.)
        #expect(audit.stdout.contains(#"nobody@example.com\nx\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J"#))
        let auditJSON = try await run(["audit", "--format", "json"], environment: env)
        expectClean(auditJSON.stdout, "audit --format json")

        let schedule = try await run(["check", "--schedule", "PSCHED1"], environment: env)
        #expect(schedule.status == 0, "\(schedule.stderr)")
        expectClean(schedule.stdout, "check --schedule")
        #expect(schedule.stdout.contains(#"Primary x\n2026-12-07T00:00:00+0000"#))
        let person = try await run(["check", "mallory@example.com"], environment: env)
        expectClean(person.stdout + person.stderr, "check EMAIL")
        #expect(person.stdout.contains(#"Mallory x\n2026"#))
        let missing = try await run(["check", "--schedule", "no\u{1B}[2Jsuch"], environment: env)
        #expect(missing.status == 2)
        expectClean(missing.stderr, "check's error")
        #expect(missing.stderr.contains(#"no\u{1B}[2Jsuch"#))

        for format in ["text", "markdown"] {
            let drift = try await run(["drift", "--from", "1", "--to", "2", "--format", format], environment: env)
            #expect(drift.status == 0, "\(drift.stderr)")
            expectClean(drift.stdout, "drift --format \(format)")
            #expect(drift.stdout.contains("u{1B}"), "\(drift.stdout)")
        }
        let status = try await run(["status"], environment: env)
        expectClean(status.stdout, "status")
    }

    /// The issue's own reproduction: a signed webhook whose email carries a forged "approved" line.
    /// `serve`'s log keeps it on the decision's line, and that line's `request_id` is the audit
    /// record's (item 17), for an event with an id and for one without.
    @Test func aForgedEmailStaysOnItsDecisionsLogLineAndTheRequestIdsJoin() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        _ = try database.writeSnapshot(snapshot(Date(), scheduleName: "Primary"), keep: 10)
        let port = 20_000 + Int.random(in: 0..<20_000)
        let secret = "escape-secret-\(UUID().uuidString)"
        let env = ["SHIFTGATE_DATABASE": path, "INDENT_WEBHOOK_SECRET": secret, "AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "PSCHED1"]
        let (process, _, errors) = try launch(["serve", "--port", String(port)], environment: env)
        var ready = false
        for _ in 0..<200 where !ready {
            try await Task.sleep(nanoseconds: 50_000_000)
            ready = (try? await httpGet(port: port, path: "/readyz")) == 200
        }
        #expect(ready)

        let forged = "nobody@example.com\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J\u{0}"
        var withoutId = accessRequest("mallory@example.com")
        withoutId["id"] = nil
        let body = requestBody([accessRequest(forged, id: "evt-forged"), withoutId])
        let timestamp = IndentTime.format(Date())
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/indent/webhook")!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue(timestamp, forHTTPHeaderField: "X-Indent-Timestamp")
        request.setValue(IndentSignature.sign(secret: secret, timestamp: timestamp, body: body), forHTTPHeaderField: "X-Indent-Signature")
        request.setValue("http-req-77", forHTTPHeaderField: "X-Request-Id")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (_, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)

        kill(process.processIdentifier, SIGTERM)
        await waitForExit(process)
        let log = String(decoding: await readToEnd(errors), as: UTF8.self)
        expectClean(log, "serve's log", logLines: true)
        let decisions = log.split(separator: "\n").filter { $0.hasSuffix("] decision") }
        #expect(decisions.count == 2, "\(log)")
        #expect(!log.split(separator: "\n").contains { $0.hasPrefix("2026-12-07T00:00:00+0000") }, "a forged line")
        let forgedLine = try #require(decisions.first { $0.contains("request_id=evt-forged") })
        #expect(forgedLine.contains(#"requester="nobody@example.com\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J\u{0}""#))
        #expect(forgedLine.contains("outcome=unknown_user"))
        #expect(forgedLine.contains("http_request_id=http-req-77"))

        let audit = try await run(["audit", "--format", "json"], environment: env)
        let records = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
        let ids = Set(records.compactMap { $0["request_id"] as? String })
        #expect(ids == ["evt-forged", "http-req-77#1"])
        for id in ids {
            #expect(decisions.contains { $0.contains(" request_id=\(id) ") }, "no log line with request_id=\(id)")
        }
    }
}
