import Foundation
import JSON
import Testing
import TestSupport

/// Shiftgate reads webhook bodies with its own JSON reader (`JSONValue.parse`). Foundation's
/// `JSONSerialization` is the reference: on seeded random documents, written with random white space
/// and escapes, and on byte-level mutations of them, the two must read the same values and refuse
/// the same texts. The reader may be stricter in exactly two ways, both RFC 8259's: it refuses a
/// trailing comma and a byte-order mark, which Foundation lets through.
///
/// The random strings hold no U+FEFF: Foundation on Linux drops one that starts a run of unescaped
/// text in a string (it converts each run with `String(bytes:encoding:)`, which strips a leading
/// byte-order mark), and the reader keeps it. `JSONValueTests` checks that case on its own.
@Suite struct JSONReaderDifferentialTests {
    @Test func readsWhatFoundationReadsAndRefusesWhatItRefuses() throws {
        var random = SeededRandom(seed: seed(0x15_0A_DE_AD))
        var tally = Tally()
        for _ in 0..<3_000 {
            let value = Self.randomValue(&random, depth: 0)
            var text: [UInt8] = []
            Self.write(value, into: &text, &random)
            let read = try JSONValue.parse(Data(text), allowingDuplicateKeys: true)
            #expect(Self.same(read, value), "read \(read) from \(String(decoding: text, as: UTF8.self)), wrote \(value)")
            tally.add(compare(text))
            for _ in 0..<6 {
                tally.add(compare(Self.mutate(text, &random)))
            }
        }
        print("[reliability] JSON reader against JSONSerialization: \(tally)")
        // The mutations must reach both sides of the comparison, or it proves little.
        #expect(tally.bothRead > 5_000 && tally.bothRefused > 5_000, "\(tally)")
        #expect(tally.disagreements.isEmpty, "\(tally.disagreements.prefix(10).joined(separator: "\n"))")
    }

    @Test func aHostileDepthIsRefusedWithoutRecursingIntoIt() throws {
        let deep = Data((String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000)).utf8)
        #expect { try JSONValue.parse(deep) } throws: { "\($0)".contains("nested deeper than 512 levels") }
        let thirtyTwo = Data((String(repeating: "[", count: 32) + String(repeating: "]", count: 32)).utf8)
        #expect(throws: Never.self) { try JSONValue.parse(thirtyTwo, maxNesting: 32) }
        let thirtyThree = Data((String(repeating: "{\"a\":", count: 33) + "1" + String(repeating: "}", count: 33)).utf8)
        #expect { try JSONValue.parse(thirtyThree, maxNesting: 32) } throws: { "\($0)".contains("nested deeper than 32 levels") }
    }

    struct Tally: CustomStringConvertible {
        var bothRead = 0
        var bothRefused = 0
        var onlyFoundationRead = 0
        var disagreements: [String] = []

        mutating func add(_ outcome: Outcome) {
            switch outcome {
            case .bothRead: bothRead += 1
            case .bothRefused: bothRefused += 1
            case .stricterByRFC: onlyFoundationRead += 1
            case .disagree(let why): disagreements.append(why)
            }
        }

        var description: String {
            "\(bothRead) texts read alike, \(bothRefused) refused by both, \(onlyFoundationRead) refused only by the reader "
                + "(trailing comma or byte-order mark), \(disagreements.count) disagreements"
        }
    }

    enum Outcome {
        case bothRead, bothRefused, stricterByRFC, disagree(String)
    }

    func compare(_ text: [UInt8]) -> Outcome {
        let data = Data(text)
        let ours = Result { try JSONValue.parse(data, allowingDuplicateKeys: true) }
        let theirs = Result { try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }
        let shown = String(decoding: text, as: UTF8.self).debugDescription
        switch (ours, theirs) {
        case (.success(let value), .success(let reference)):
            return Self.same(value, Self.value(reference)) ? .bothRead : .disagree("\(shown): read \(value), Foundation \(reference)")
        case (.failure, .failure):
            return .bothRefused
        case (.success(let value), .failure(let error)):
            return .disagree("\(shown): read \(value), Foundation refused it (\(error))")
        case (.failure(let error), .success):
            if Self.hasTrailingComma(text) || text.starts(with: [0xEF, 0xBB, 0xBF]) { return .stricterByRFC }
            // Foundation guesses UTF-16 or UTF-32 from NUL bytes at the start; the reader reads UTF-8 only.
            if text.prefix(4).contains(0) { return .bothRefused }
            return .disagree("\(shown): refused (\(error)), Foundation read it")
        }
    }

    // MARK: The reference's values

    /// Foundation's tree as a `JSONValue`. Its booleans are `NSNumber`s with the type code `c`,
    /// checked first, because on Linux every `NSNumber` also casts to `Bool`.
    static func value(_ foundation: Any) -> JSONValue {
        switch foundation {
        case let text as String:
            .string(text)
        case let object as [String: Any]:
            .object(JSONObject(object.mapValues(value)))
        case let array as [Any]:
            .array(array.map(value))
        case let number as NSNumber:
            number.objCType.pointee == CChar(UInt8(ascii: "c")) ? .bool(number.boolValue) : .number(number.doubleValue)
        default:
            .null
        }
    }

    /// Equal, except that numbers of many digits may differ in the last place: Foundation reads them
    /// through `Decimal`, whose `doubleValue` is not correctly rounded; the reader through `Double`'s own
    /// parse, which is.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)):
            x == y || abs(x - y) <= 1e-12 * max(abs(x), abs(y))
        case (.array(let xs), .array(let ys)):
            xs.count == ys.count && zip(xs, ys).allSatisfy { same($0, $1) }
        case (.object(let xs), .object(let ys)):
            // Repeated keys: the last one counts, on both sides.
            Set(xs.map(\.key)) == Set(ys.map(\.key)) && xs.allSatisfy { member in ys[member.key].map { same(xs[member.key]!, $0) } ?? false }
        default:
            a == b
        }
    }

    /// A `,` followed by white space and then `]` or `}`, outside strings.
    static func hasTrailingComma(_ text: [UInt8]) -> Bool {
        var inString = false, escaped = false, afterComma = false
        for byte in text {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true; afterComma = false
            case UInt8(ascii: ","): afterComma = true
            case UInt8(ascii: "]"), UInt8(ascii: "}"): if afterComma { return true }
            case 0x20, 0x0A, 0x0D, 0x09: break
            default: afterComma = false
            }
        }
        return false
    }

    // MARK: Random documents

    static let characters: [Unicode.Scalar] = [
        "a", "b", "Z", "0", " ", "/", "\"", "\\", "\n", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "ß", "€", "\u{2028}",
        "😀", "𝄞", "\u{10FFFF}", "{", "]", ":", ",",
    ]

    static func randomString(_ random: inout SeededRandom) -> String {
        var text = ""
        for _ in 0..<random.below(12) { text.unicodeScalars.append(random.pick(characters)) }
        return text
    }

    static func randomValue(_ random: inout SeededRandom, depth: Int) -> JSONValue {
        switch random.below(depth > 4 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(random.chance(0.5))
        case 2, 3: return .number(Double(randomNumberText(&random))!)
        case 4: return .string(randomString(&random))
        case 5: return .array((0..<random.below(5)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<random.below(5) { members[randomString(&random)] = randomValue(&random, depth: depth + 1) }
            return .object(JSONObject(members))
        }
    }

    /// Number text in JSON's grammar; its value is whatever `Double` makes of it.
    static func randomNumberText(_ random: inout SeededRandom) -> String {
        var text = random.chance(0.3) ? "-" : ""
        let digits = random.pick([1, 1, 2, 5, 15, 17, 19, 25])
        text += random.chance(0.2) ? "0" : String(1 + random.below(9)) + (1..<digits).map { _ in String(random.below(10)) }.joined()
        if random.chance(0.3) { text += "." + (0..<1 + random.below(6)).map { _ in String(random.below(10)) }.joined() }
        if random.chance(0.2) { text += random.pick(["e", "E"]) + random.pick(["", "+", "-"]) + String(random.below(60)) }
        return text
    }

    /// JSON text for `value`, with random white space and a random choice of escapes. A number is
    /// written from its shortest text, which reads back as the same `Double`.
    static func write(_ value: JSONValue, into text: inout [UInt8], _ random: inout SeededRandom) {
        func space() { text += Array(random.pick(["", "", " ", "\n", "\t ", "\r\n  "]).utf8) }
        space()
        switch value {
        case .null: text += Array("null".utf8)
        case .bool(let flag): text += Array((flag ? "true" : "false").utf8)
        case .number(let number):
            text += Array((number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : "\(number)").utf8)
        case .string(let string): writeString(string, into: &text, &random)
        case .array(let elements):
            text.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { text.append(UInt8(ascii: ",")) }
                write(element, into: &text, &random)
            }
            space()
            text.append(UInt8(ascii: "]"))
        case .object(let members):
            text.append(UInt8(ascii: "{"))
            for (index, (key, member)) in members.enumerated() {
                if index > 0 { text.append(UInt8(ascii: ",")) }
                space()
                writeString(key, into: &text, &random)
                space()
                text.append(UInt8(ascii: ":"))
                write(member, into: &text, &random)
            }
            space()
            text.append(UInt8(ascii: "}"))
        }
        space()
    }

    static func writeString(_ string: String, into text: inout [UInt8], _ random: inout SeededRandom) {
        func unicodeEscape(_ unit: UInt16) {
            let hex = String(unit, radix: 16)
            let padded = String(repeating: "0", count: 4 - hex.count) + hex
            text += Array(("\\u" + (random.chance(0.5) ? padded : padded.uppercased())).utf8)
        }
        text.append(UInt8(ascii: "\""))
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += Array(#"\""#.utf8)
            case "\\": text += Array(#"\\"#.utf8)
            case "\n" where random.chance(0.5): text += Array(#"\n"#.utf8)
            case "\t" where random.chance(0.5): text += Array(#"\t"#.utf8)
            case "/" where random.chance(0.5): text += Array(#"\/"#.utf8)
            case _ where scalar.value < 0x20 || random.chance(0.15):
                for unit in String(scalar).utf16 { unicodeEscape(unit) }
            default:
                text += Array(String(scalar).utf8)
            }
        }
        text.append(UInt8(ascii: "\""))
    }

    /// Bytes that change how JSON text reads.
    static let interestingBytes: [UInt8] = Array(" \n{}[]\":,\\/-+.0159eEtfnulx".utf8) + [0x00, 0x01, 0x1F, 0x7F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]

    /// One random edit: delete, insert, replace, swap, truncate, or repeat a slice.
    static func mutate(_ text: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = text
        guard !bytes.isEmpty else { return [random.pick(interestingBytes)] }
        let at = random.below(bytes.count)
        switch random.below(6) {
        case 0: bytes.remove(at: at)
        case 1: bytes.insert(random.pick(interestingBytes), at: at)
        case 2: bytes[at] = random.pick(interestingBytes)
        case 3: bytes.swapAt(at, random.below(bytes.count))
        case 4: bytes.removeSubrange(at...)
        default:
            let end = min(bytes.count, at + 1 + random.below(8))
            bytes.insert(contentsOf: bytes[at..<end], at: random.below(bytes.count))
        }
        return bytes
    }
}
