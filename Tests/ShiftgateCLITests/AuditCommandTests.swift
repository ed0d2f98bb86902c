import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport

/// `audit --requester` and `--outcome`, the built binary over a real SQLite file's audit table.
@Suite struct AuditCommandTests {
    @Test func filtersByRequesterAndOutcome() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let database = try OnCallDatabase(path: path)
        let now = Date()
        func record(_ id: String, _ requester: String, _ outcome: String, ago: TimeInterval) -> DecisionRecord {
            DecisionRecord(decidedAt: now.addingTimeInterval(-ago), requestId: id, requester: requester, resources: "[]", outcome: outcome,
                           reason: "reason \(id)", snapshotId: 1, scheduleId: nil, grantedSeconds: outcome == "approved" ? 3600 : nil)
        }
        try database.appendDecisions([
            record("r1", "jane@example.com", "approved", ago: 600), record("r2", "Jane@Example.com", "escalation_level_too_high", ago: 500),
            record("r3", "raj@example.com", "escalation_level_too_high", ago: 400), record("r4", "raj@example.com", "not_on_call", ago: 300),
            record("r5", "jane@example.com", "approved", ago: 3 * 86_400),
        ])
        func ids(_ words: [String]) async throws -> [String] {
            let result = try await run(["audit", "--database", path, "--format", "json"] + words)
            #expect(result.status == 0, "\(words): \(result.stderr)")
            let list = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            return list.compactMap { $0["request_id"] as? String }
        }
        #expect(try await ids([]) == ["r1", "r2", "r3", "r4"])
        #expect(try await ids(["--requester", "JANE@example.com"]) == ["r1", "r2"])
        #expect(try await ids(["--outcome", "escalation_level_too_high"]) == ["r2", "r3"])
        #expect(try await ids(["--requester", "raj@example.com", "--outcome", "escalation_level_too_high"]) == ["r3"])
        #expect(try await ids(["--requester", "jane@example.com", "--since", "7d"]) == ["r5", "r1", "r2"])
        #expect(try await ids(["--requester", "nobody@example.com"]) == [])

        let none = try await run(["audit", "--database", path, "--requester", "raj@example.com", "--outcome", "approved"])
        #expect(none.status == 0 && none.stdout.hasPrefix("no decisions for raj@example.com with the outcome approved in the last "), "\(none.stdout)")
        let text = try await run(["audit", "--database", path, "--outcome", "not_on_call"])
        #expect(text.stdout.split(separator: "\n").count == 1 && text.stdout.contains("not_on_call  raj@example.com"), "\(text.stdout)")

        for (words, problem) in [(["--outcome", "nope"], "--outcome: 'nope' is not an outcome"), (["--requester", " "], "--requester")] {
            let refused = try await run(["audit", "--database", path] + words)
            #expect(refused.status == 64, "\(words)")
            #expect(refused.stderr.contains(problem), "\(refused.stderr)")
        }
    }
}
