import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import TestSupport

/// What probes and scrapers expect of `/healthz` and `/metrics`, over a real socket.
@Suite struct HealthAndMetricsTests {
    @Test func headHealthzAnswers200WithoutABody() async throws {
        try await withWebhook(contents: roster()) { client, _, _ in
            let head = try await client.execute(uri: "/healthz", method: .head)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            #expect(head.headers[.contentType] == "application/json")
            let get = try await client.execute(uri: "/healthz", method: .get)
            #expect(get.status == .ok && String(buffer: get.body) == #"{"status":"ok"}"#)
        }
    }

    /// Every metric family the README lists has a `# HELP` line, right before its `# TYPE` line.
    @Test func everyMetricHasAHelpLine() async throws {
        try await withWebhook(contents: roster()) { client, _, clock in
            _ = try await post(client, requestBody([accessRequest("jane@example.com")]), clock: clock)
            _ = try await client.execute(uri: "/healthz", method: .get)
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            let lines = text.split(separator: "\n").map(String.init)
            let typed = lines.enumerated().filter { $0.element.hasPrefix("# TYPE ") }
            #expect(typed.count >= 7, "\(text)")
            for (position, line) in typed {
                let name = line.split(separator: " ")[2]
                #expect(position > 0 && lines[position - 1].hasPrefix("# HELP \(name) ") && lines[position - 1].count > "# HELP \(name) ".count,
                        "\(name) has no help line:\n\(text)")
            }
            for name in ["shiftgate_http_requests_total", "shiftgate_decisions_total", "shiftgate_decision_duration_seconds", "shiftgate_cache_age_seconds",
                         "shiftgate_cache_snapshot_id", "shiftgate_audit_pending_records", "shiftgate_audit_dropped_records"] {
                #expect(lines.contains { $0.hasPrefix("# HELP \(name) ") }, "\(name)")
            }
            #expect(text.contains("shiftgate_decisions_total{outcome=\"approved\"} 1"))
            #expect(text.contains("shiftgate_http_requests_total{route=\"/healthz\",outcome=\"ok\"} 1"))
        }
    }
}
