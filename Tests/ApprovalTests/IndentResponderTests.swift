import Approval
import Foundation
import JSON
import OnCallStore
import Testing

/// The reply is written straight to bytes; these tests read it back.
@Suite struct IndentResponderTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Jane is on call in one schedule for the next two hours; Lee is not on call.
    var index: OnCallIndex {
        let info = SnapshotInfo(id: 7, startedAt: now, finishedAt: now, windowStart: now.addingTimeInterval(-86_400), windowEnd: now.addingTimeInterval(86_400))
        let contents = SnapshotContents(
            info: info,
            users: [User(id: "U1", name: "Jane", email: "jane@example.com", timeZone: "UTC"), User(id: "U2", name: "Lee", email: "lee@example.com", timeZone: "UTC")],
            schedules: [Schedule(id: "S1", name: "Primary", timeZone: "UTC")],
            shifts: [Shift(scheduleId: "S1", userId: "U1", start: now.addingTimeInterval(-3_600), end: now.addingTimeInterval(7_200))])
        return OnCallIndex(contents, policy: ApprovalPolicy())
    }

    func request(_ email: String, id: String) -> String {
        #"{"event":"access/request","id":"\#(id)","actor":{"email":"\#(email)","kind":"slack/user","x":{"b":[1,"q\"\\"],"a":null}},"#
            + #""resources":[{"id":"role/admin","labels":{"z":"1","env":"prod"}},{"id":"r2"}],"#
            + #""meta":{"labels":{"zeta":"last","indent.com/time/duration":"1h0m0s","alpha":"é"}},"reason":"incident"}"#
    }

    @Test func aDecisionReplyIsCompactWithSortedKeysAndCarriesTheRequestBack() throws {
        let body = Data(#"{"events":[\#(request("jane@example.com", id: "e1")),\#(request("lee@example.com", id: "e2"))]}"#.utf8)
        let result = try IndentResponder.respond(to: body, roster: .ready(index), now: now)
        #expect(result.decisions.map(\.decision.isApproved) == [true, false])

        // Byte for byte what serialising the parsed reply gives: compact, every object's keys sorted.
        let reply = try JSONValue.parse(Data(result.reply))
        #expect(reply.serialized() == result.reply)

        #expect(reply["status"] == .object(["code": .number(0)]))
        guard case .array(let claims)? = reply["claims"] else { Issue.record("no claims in \(reply)"); return }
        #expect(claims.count == 1)
        let claim = try #require(claims.first)
        #expect(claim["event"] == .string("access/approve"))
        #expect(claim["actor"] == approvalBot)
        #expect(claim["timestamp"] == .string(IndentTime.format(now)))
        #expect(claim["reason"] == .string(result.decisions[0].decision.reason))
        let parsedRequest = try JSONValue.parse(Data(request("jane@example.com", id: "e1").utf8))
        // The requester first, then the resources, exactly as they were sent (unknown fields and nulls too).
        #expect(claim["resources"] == .array([parsedRequest["actor"]!] + resources(parsedRequest)))
        #expect(claim["meta"]?["labels"] == .object([
            "zeta": .string("last"), "alpha": .string("é"),
            "indent.com/time/duration": .string("1h0m0s"),
            "indent.com/time/expires": .string(IndentTime.format(now.addingTimeInterval(3_600))),
        ]))
    }

    @Test(arguments: [
        (#"{"kinds":["aws.iam.v1.Role"]}"#, #"{"resources":[\#(String(decoding: approvalBot.serialized(sortingKeys: true), as: UTF8.self))],"status":{"code":0}}"#),
        (#"{"info":{}}"#, #"{"status":{"code":0}}"#),
        (#"{"events":[{"event":"access/grant"}]}"#, #"{"status":{"code":0}}"#),
        (#"{"events":[]}"#, #"{"claims":[],"status":{"code":0}}"#),
    ])
    func otherCallsAreAnsweredInIndentsShape(body: String, reply: String) throws {
        let result = try IndentResponder.respond(to: Data(body.utf8), roster: .ready(index), now: now)
        #expect(String(decoding: result.reply, as: UTF8.self) == reply)
    }

    func resources(_ request: JSONValue) -> [JSONValue] {
        if case .array(let resources)? = request["resources"] { return resources }
        return []
    }
}
