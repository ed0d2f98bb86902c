/// Reads JSON text (RFC 8259, UTF-8 only) into a `JSONValue` in one pass over the bytes.
///
/// Why not `JSONSerialization`: on the webhook's path it built a tree of `Any` that then had to be cast
/// back, node by node, into `JSONValue`, and that was the largest single cost of a decision (12.8 µs of
/// ~26 µs in the handler; BENCHMARKS.md). This reader builds `JSONValue` directly.
///
/// It is strict, because a webhook body is untrusted input: no comments, trailing commas, leading
/// zeros, bare fractions, non-finite numbers, unescaped control characters, lone surrogates or invalid
/// UTF-8; nothing but white space after the value. Nesting is limited before anything is built, so a
/// hostile body cannot exhaust the stack. A key repeated within one object is refused too (unless
/// `allowingDuplicateKeys`): readers disagree on which of two `"actor"` members counts, so a body
/// that has two is not one we should decide on. The tests compare it with `JSONSerialization` on seeded
/// random documents and on their mutations.
struct JSONReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxNesting: Int
    private let allowingDuplicateKeys: Bool
    private var index = 0
    private var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, maxNesting: Int, allowingDuplicateKeys: Bool = false) {
        self.bytes = bytes
        self.maxNesting = maxNesting
        self.allowingDuplicateKeys = allowingDuplicateKeys
    }

    /// The one value the text holds, with nothing but white space around it.
    mutating func document() throws(JSONValue.SyntaxError) -> JSONValue {
        skipWhitespace()
        let value = try value()
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected text after the JSON value") }
        return value
    }

    private func failure(_ what: String) -> JSONValue.SyntaxError {
        JSONValue.SyntaxError(description: "\(what) at byte \(index)")
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case .space, .newline, .carriageReturn, .tab: index += 1
            default: return
            }
        }
    }

    private mutating func value() throws(JSONValue.SyntaxError) -> JSONValue {
        guard let byte = current else { throw failure("unexpected end of the text") }
        switch byte {
        case .openBrace: return try object()
        case .openBracket: return try array()
        case .quote: return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case .minus, .zero ... .nine: return .number(try number())
        default: throw failure("unexpected character \(Self.describe(byte))")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONValue.SyntaxError) {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count, (0..<count).allSatisfy({ bytes[index + $0] == word.utf8Start[$0] }) else {
            throw failure("unexpected text (not \(word))")
        }
        index += count
    }

    private mutating func enterContainer() throws(JSONValue.SyntaxError) {
        depth += 1
        guard depth <= maxNesting else { throw failure("JSON nested deeper than \(maxNesting) levels") }
        index += 1
        skipWhitespace()
    }

    private mutating func object() throws(JSONValue.SyntaxError) -> JSONValue {
        try enterContainer()
        var members = JSONObject()
        if current == .closeBrace {
            index += 1
            depth -= 1
            return .object(members)
        }
        // Keys seen so far, for the duplicate check: a scan of the members while the object is small,
        // a set once it is not, so that a hostile object of many keys stays linear.
        var seen: Set<String>? = nil
        while true {
            guard current == .quote else { throw failure("expected a string as the object's key") }
            let keyStart = index
            let key = try string()
            if !allowingDuplicateKeys {
                let repeated: Bool
                if seen != nil {
                    repeated = !seen!.insert(key).inserted
                } else if members.count < 16 {
                    repeated = members.members.contains { $0.key == key }
                } else {
                    var keys = Set(members.members.lazy.map(\.key))
                    repeated = !keys.insert(key).inserted
                    seen = keys
                }
                if repeated {
                    index = keyStart
                    throw failure("the key \(String(decoding: JSONValue.string(key).serialized(), as: UTF8.self)) appears twice in one object")
                }
            }
            skipWhitespace()
            guard current == .colon else { throw failure("expected ':' after an object's key") }
            index += 1
            skipWhitespace()
            // With `allowingDuplicateKeys`, repeated keys are all kept; a lookup finds the last one,
            // as JSONSerialization keeps it.
            members.append(key, try value())
            skipWhitespace()
            switch current {
            case .comma:
                index += 1
                skipWhitespace()
            case .closeBrace:
                index += 1
                depth -= 1
                return .object(members)
            default:
                throw failure("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func array() throws(JSONValue.SyntaxError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        if current == .closeBracket {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try value())
            skipWhitespace()
            switch current {
            case .comma:
                index += 1
                skipWhitespace()
            case .closeBracket:
                index += 1
                depth -= 1
                return .array(elements)
            default:
                throw failure("expected ',' or ']' in an array")
            }
        }
    }

    // MARK: Strings

    private mutating func string() throws(JSONValue.SyntaxError) -> String {
        index += 1
        let start = index
        var ascii = true
        // Most strings have no escapes: validate them straight from the input.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == .quote {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                // ASCII needs no validation, and `String(validating:)` is not specialised for us.
                let text = ascii ? String(decoding: run, as: UTF8.self) : try utf8(run, from: start)
                index += 1
                return text
            }
            if byte == .backslash { break }
            if byte < 0x20 { throw failure("unescaped control character in a string") }
            if byte >= 0x80 { ascii = false }
            index += 1
        }
        guard index < bytes.count else { throw failure("unterminated string") }
        var text = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case .quote:
                index += 1
                return try text.withUnsafeBufferPointer { buffer throws(JSONValue.SyntaxError) in try utf8(buffer, from: start) }
            case .backslash:
                try escape(into: &text)
            case 0..<0x20:
                throw failure("unescaped control character in a string")
            default:
                text.append(byte)
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    private func utf8(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONValue.SyntaxError) -> String {
        guard let text = String(validating: buffer, as: UTF8.self) else {
            throw JSONValue.SyntaxError(description: "invalid UTF-8 in the string starting at byte \(start - 1)")
        }
        return text
    }

    /// One escape sequence, from its backslash, appended as UTF-8.
    private mutating func escape(into text: inout [UInt8]) throws(JSONValue.SyntaxError) {
        index += 1
        guard let letter = current else { throw failure("unterminated string") }
        let simple: UInt8? = switch letter {
        case .quote, .backslash, .slash: letter
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): .newline
        case UInt8(ascii: "r"): .carriageReturn
        case UInt8(ascii: "t"): .tab
        default: nil
        }
        if let simple {
            text.append(simple)
            index += 1
            return
        }
        guard letter == UInt8(ascii: "u") else { throw failure("invalid escape \\\(Self.describe(letter)) in a string") }
        index += 1
        let unit = try hexUnit()
        let scalar: Unicode.Scalar?
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes.count - index >= 2, bytes[index] == .backslash, bytes[index + 1] == UInt8(ascii: "u") else {
                throw failure("a high surrogate \\u escape without its low half")
            }
            index += 2
            let low = try hexUnit()
            guard (0xDC00...0xDFFF).contains(low) else { throw failure("a high surrogate \\u escape without its low half") }
            scalar = Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))
        case 0xDC00...0xDFFF:
            throw failure("a low surrogate \\u escape without its high half")
        default:
            scalar = Unicode.Scalar(unit)
        }
        guard let scalar else { throw failure("invalid \\u escape") }
        UTF8.encode(scalar) { text.append($0) }
    }

    /// Four hex digits after `\u`.
    private mutating func hexUnit() throws(JSONValue.SyntaxError) -> UInt16 {
        guard bytes.count - index >= 4 else { throw failure("a \\u escape needs four hex digits") }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let nibble: UInt8 = switch byte {
            case .zero ... .nine: byte - .zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: throw failure("a \\u escape needs four hex digits")
            }
            unit = unit << 4 | UInt16(nibble)
            index += 1
        }
        return unit
    }

    // MARK: Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, as a Double.
    private mutating func number() throws(JSONValue.SyntaxError) -> Double {
        let start = index
        if current == .minus { index += 1 }
        guard let first = current, (.zero ... .nine).contains(first) else { throw failure("expected a digit") }
        if first == .zero {
            index += 1
            if let next = current, (.zero ... .nine).contains(next) { throw failure("a number with a leading zero") }
        } else {
            skipDigits()
        }
        var whole = true
        if current == .period {
            whole = false
            index += 1
            guard skipDigits() > 0 else { throw failure("expected a digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            whole = false
            index += 1
            if current == .plus || current == .minus { index += 1 }
            guard skipDigits() > 0 else { throw failure("expected a digit in the exponent") }
        }
        let digits = UnsafeBufferPointer(rebasing: bytes[start..<index])
        // An integer of up to 18 digits fits an Int, and converting that rounds as parsing the text
        // would: add the digits up instead of going through a String.
        if whole, digits.count <= 18 {
            var magnitude = 0
            for digit in digits where digit != .minus { magnitude = magnitude * 10 + Int(digit - .zero) }
            return Double(digits.first == .minus ? -magnitude : magnitude)
        }
        guard let value = Double(String(decoding: digits, as: UTF8.self)), value.isFinite else {
            throw JSONValue.SyntaxError(description: "number out of range at byte \(start)")
        }
        return value
    }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = index
        while let byte = current, (.zero ... .nine).contains(byte) { index += 1 }
        return index - start
    }

    private static func describe(_ byte: UInt8) -> String {
        (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16, uppercase: true))"
    }
}

private extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let tab = UInt8(ascii: "\t")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let period = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}
