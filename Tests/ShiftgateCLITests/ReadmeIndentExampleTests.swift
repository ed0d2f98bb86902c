import Approval
import Foundation
import OnCallStore
import Testing
import TestSupport
import Timestamps

/// README's "Serving Indent" shows a request and the reply to it; the webhook's own responder, given
/// the situation the README describes, answers that request with exactly that reply.
@Suite struct ReadmeIndentExampleTests {
    /// The ```json block that follows the paragraph starting with `marker`.
    func jsonBlock(after marker: String, in readme: String) throws -> Any {
        let start = try #require(readme.range(of: marker), "README has no '\(marker)'")
        let open = try #require(readme.range(of: "```json\n", range: start.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "\n```", range: open.upperBound..<readme.endIndex))
        return try JSONSerialization.jsonObject(with: Data(readme[open.upperBound..<close.lowerBound].utf8))
    }

    @Test func theReadmeRequestGetsTheReadmeReply() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let request = try jsonBlock(after: "A request, as Indent signs and sends it", in: readme)
        let documented = try jsonBlock(after: "Its approval at 22:01 UTC", in: readme)

        // Jane on call in Primary until 01:00; the decision at 22:01.
        let now = try #require(RFC3339.parse("2026-11-25T22:01:00Z"))
        let end = try #require(RFC3339.parse("2026-11-26T01:00:00Z"))
        let info = SnapshotInfo(id: 118, startedAt: now.addingTimeInterval(-60), finishedAt: now.addingTimeInterval(-42),
                                windowStart: now.addingTimeInterval(-86_400), windowEnd: now.addingTimeInterval(7 * 86_400))
        let contents = SnapshotContents(
            info: info, users: [User(id: "PJANE01", name: "Jane", email: "jane@example.com", timeZone: "UTC")],
            schedules: [Schedule(id: "PPRIMARY", name: "Primary", timeZone: "UTC")],
            shifts: [Shift(scheduleId: "PPRIMARY", userId: "PJANE01", start: end.addingTimeInterval(-8 * 3600), end: end)])
        let index = OnCallIndex(contents, rules: RuleSet(policy: ApprovalPolicy()))
        let body = try JSONSerialization.data(withJSONObject: request)
        let result = try IndentResponder.respond(to: body, roster: .ready(index), now: now)
        #expect(result.decisions.map(\.decision.isApproved) == [true])
        let reply = try JSONSerialization.jsonObject(with: Data(result.reply))
        #expect((reply as? NSDictionary)?.isEqual(to: documented as? [String: Any] ?? [:]) == true,
                "README's reply differs from the responder's: \(String(decoding: result.reply, as: UTF8.self))")
    }
}
