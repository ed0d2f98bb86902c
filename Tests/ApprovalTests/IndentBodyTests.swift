import Approval
import Foundation
import Testing

@Suite struct JSONValueTests {
    @Test func booleansNumbersAndNullsKeepTheirKinds() throws {
        let value = try JSONValue.parse(Data(#"{"t":true,"f":false,"one":1,"zero":0,"half":0.5,"big":12345678901234567890,"none":null,"s":"é/x"}"#.utf8))
        #expect(value["t"] == .bool(true))
        #expect(value["f"] == .bool(false))
        #expect(value["one"] == .number(1))
        #expect(value["zero"] == .number(0))
        #expect(value["half"] == .number(0.5))
        #expect(value["big"] == .number(12_345_678_901_234_567_890))
        #expect(value["none"] == .null)
        #expect(value["s"] == .string("é/x"))
    }

    @Test func writesCompactTextWithSortedKeysThatFoundationReadsBack() throws {
        let value: JSONValue = .object([
            "b": .array([.number(3), .number(-2.5), .bool(true), .null]),
            "a": .string("quote \" backslash \\ slash / newline \n tab \t bell \u{7} é"),
            "c": .object([:]),
        ])
        let text = String(decoding: value.serialized(), as: UTF8.self)
        #expect(text == #"{"a":"quote \" backslash \\ slash / newline \n tab \t bell \u0007 é","b":[3,-2.5,true,null],"c":{}}"#)
        #expect(try JSONValue.parse(Data(text.utf8)) == value)
    }

    @Test(arguments: ["{", "[1] x", "", "{\"a\" 1}", "\u{0}"])
    func unreadableTextIsAnErrorWithAReason(text: String) {
        #expect {
            try JSONValue.parse(Data(text.utf8))
        } throws: { error in
            (error as? JSONValue.SyntaxError)?.description.isEmpty == false
        }
    }
}

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
        #expect(event.reason == nil)
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
