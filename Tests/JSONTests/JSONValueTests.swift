import Foundation
import JSON
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
        let text = String(decoding: value.serialized(sortingKeys: true), as: UTF8.self)
        #expect(text == #"{"a":"quote \" backslash \\ slash / newline \n tab \t bell \u0007 é","b":[3,-2.5,true,null],"c":{}}"#)
        #expect(try JSONValue.parse(Data(text.utf8)) == value)
        // Without sorting, members keep the order they were given in (the simulator's replies keep PagerDuty's).
        #expect(String(decoding: value.serialized(), as: UTF8.self).hasPrefix(#"{"b":[3,-2.5,true,null],"a":"#))
    }

    @Test func repeatedKeysAreRefusedUnlessAllowed() throws {
        for text in [#"{"a":1,"b":2,"a":3}"#, #"{"x":{"a":1,"a":1}}"#, #"[{"e":1,"\u0065":2}]"#] {
            #expect { try JSONValue.parse(Data(text.utf8)) } throws: { "\($0)".contains("appears twice in one object") }
        }
        // Past the point where the check switches from a scan to a set, and at its edge.
        let many = (0..<40).map { #""k\#($0)":\#($0)"# }
        #expect(throws: Never.self) { try JSONValue.parse(Data("{\(many.joined(separator: ","))}".utf8)) }
        for repeated in [0, 15, 16, 39] {
            let text = "{\((many + [#""k\#(repeated)":0"#]).joined(separator: ","))}"
            #expect { try JSONValue.parse(Data(text.utf8)) } throws: { "\($0)".contains(#"the key "k\#(repeated)" appears twice"#) }
        }
        #expect(throws: Never.self) { try JSONValue.parse(Data(#"{"a":{"b":1},"b":{"a":1}}"#.utf8)) }
    }

    @Test func repeatedKeysReadAsTheLastOneAndObjectsCompareWhateverTheOrder() throws {
        let value = try JSONValue.parse(Data(#"{"a":1,"b":2,"a":3}"#.utf8), allowingDuplicateKeys: true)
        #expect(value["a"] == .number(3))
        #expect(value == .object(["b": 2, "a": 3]))
        #expect(String(decoding: value.serialized(sortingKeys: true), as: UTF8.self) == #"{"a":3,"b":2}"#)
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"a":1,"b":2,"a":3}"#, "as it came")
        #expect(JSONValue.object([("x", 1), ("y", "two")]) == .object(["y": "two", "x": 1]))
        #expect(Set([JSONValue.object(["x": 1, "y": 2]), .object(["y": 2, "x": 1])]).count == 1)
    }

    @Test(arguments: ["{", "[1] x", "", "{\"a\" 1}", "\u{0}"])
    func unreadableTextIsAnErrorWithAReason(text: String) {
        #expect {
            try JSONValue.parse(Data(text.utf8))
        } throws: { error in
            (error as? JSONValue.SyntaxError)?.description.isEmpty == false
        }
    }

    @Test func escapesAreDecoded() throws {
        let text = #"["\u00e9\ud83d\ude00\n\/\"\\\u0000", -0.5e2, 1E+2, 0, -12345678901234567890]"#
        let value = try JSONValue.parse(Data(text.utf8))
        #expect(value == .array([.string("é😀\n/\"\\\u{0}"), .number(-50), .number(100), .number(0), .number(-12_345_678_901_234_567_890)]))
    }

    /// The reader is strict (RFC 8259) and says what is wrong, and where.
    @Test(arguments: [
        ("[1,]", "unexpected character ']' at byte 3"),
        ("{\"a\":1,}", "expected a string as the object's key at byte 7"),
        ("01", "leading zero"),
        ("1.", "expected a digit after '.'"),
        ("-", "expected a digit"),
        ("1e400", "number out of range at byte 0"),
        (#""\ud800""#, "without its low half"),
        (#""\udc00x""#, "without its high half"),
        (#""\x""#, "invalid escape \\'x'"),
        (#""\u12"#, "four hex digits"),
        ("\"a\u{1}\"", "unescaped control character in a string at byte 2"),
        ("\u{FEFF}1", "unexpected character 0xEF at byte 0"),
        ("[1] x", "unexpected text after the JSON value at byte 4"),
        ("{\"a\" 1}", "expected ':' after an object's key"),
        ("[1 2]", "expected ',' or ']' in an array"),
        ("tru", "not true"),
        (#""abc"#, "unterminated string"),
        ("// no comments", "unexpected character '/'"),
    ])
    func strictAboutTheGrammar(text: String, expected: String) {
        #expect {
            try JSONValue.parse(Data(text.utf8))
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    /// Foundation on Linux drops a U+FEFF that starts a string; it is text like any other.
    @Test func aZeroWidthNoBreakSpaceInAStringIsKept() throws {
        #expect(try JSONValue.parse(Data("[\"\u{FEFF}x\", \"a\u{FEFF}\"]".utf8)) == .array([.string("\u{FEFF}x"), .string("a\u{FEFF}")]))
    }

    @Test func invalidUTF8IsRefused() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xC3, 0x22]] {
            #expect { try JSONValue.parse(Data(bytes)) } throws: { "\($0)".contains("invalid UTF-8 in the string starting at byte 0") }
        }
    }
}
