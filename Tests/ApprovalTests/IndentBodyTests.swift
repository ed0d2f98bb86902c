import Approval
import Foundation
import JSON
import Testing

@Suite struct IndentBodyTests {
    @Test func readsTheFieldsOfAnAccessRequest() throws {
        let body = try IndentBody(JSONValue.parse(Data("""
            {"events": [{"event": "access/request", "id": "evt1", "actor": {"email": "  Ana@Example.com ", "kind": "user", "extra": [1]},
              "resources": [{"id": "arn:aws:iam::1:role/admin"}], "meta": {"labels": {"indent.com/time/duration": "1h0m0s"}},
              "timestamp": "2024-03-12T18:00:00.000Z", "reason": null, "unknown": {"x": 1}}]}
            """.utf8)))
        let event = try #require(body.events?.first)
        #expect(body.call == .getDecision)
        #expect(event.event == "access/request")
        #expect(event.id == "evt1")
        #expect(event.actorEmail == "Ana@Example.com")
        #expect(event.actor?["extra"] == .array([.number(1)]))
        #expect(event.resources?.first?["id"] == .string("arn:aws:iam::1:role/admin"))
        #expect(event.meta?.labels?["indent.com/time/duration"] == "1h0m0s")
    }

    @Test(arguments: [
        (#"{"kinds": ["x"]}"#, IndentBody.Call.pullUpdate),
        (#"{"info": {}}"#, .getInfo),
        (#"{"events": [{"event": "access/grant"}]}"#, .applyUpdate),
        (#"{"events": []}"#, .getDecision),
        (#"{"events": null}"#, .unknown),
    ])
    func tellsTheCallApart(text: String, call: IndentBody.Call) throws {
        #expect(try IndentBody(JSONValue.parse(Data(text.utf8))).call == call)
    }

    @Test(arguments: [
        (#"[]"#, "not a JSON object"),
        (#"{"events": 5}"#, "events: expected an array"),
        (#"{"events": [7]}"#, "events.0: expected an object"),
        (#"{"events": [{"event": 1}]}"#, "events.0.event: expected a string"),
        (#"{"events": [{"meta": {"labels": {"a": 1}}}]}"#, "events.0.meta.labels.a: expected a string"),
        (#"{"events": [{}, {"meta": []}]}"#, "events.1.meta: expected an object"),
        (#"{"kinds": [true]}"#, "kinds.0: expected a string"),
    ])
    func aFieldOfTheWrongTypeIsNamed(text: String, expected: String) throws {
        let value = try JSONValue.parse(Data(text.utf8))
        #expect {
            try IndentBody(value)
        } throws: { error in
            (error as? IndentBodyError)?.description.contains(expected) == true
        }
    }
}
