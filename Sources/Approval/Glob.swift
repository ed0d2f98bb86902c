import Foundation

/// A shell-style pattern, compiled once when the rules are read: `*` any run of characters, `?` one
/// character, `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`) one character of a class. Everything else,
/// `\` escapes included, matches itself; matching is case-sensitive. Patterns without wildcards, and
/// `*`, `prefix*`, `*suffix` and `*infix*`, skip the general matcher, so a decision stays cheap with
/// many rules.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let shape: Shape

    /// Why a pattern cannot be compiled, and at which character (0-based, in the pattern).
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public var offset: Int
        public var problem: String
        public var description: String { problem }
    }

    enum Token: Equatable, Sendable {
        case literal(Unicode.Scalar)
        case one
        case any
        case `class`(ranges: [ClosedRange<UInt32>], negated: Bool)
    }

    /// Literal parts are kept as UTF-8 bytes and compared with memcmp: byte-exact (no Unicode
    /// equivalence), and without a generic sequence walk per character.
    enum Shape: Equatable, Sendable {
        case everything
        case exact([UInt8])
        case prefix([UInt8])
        case suffix([UInt8])
        case infix(String)
        case general([Token])
    }

    public init(_ pattern: String) throws(SyntaxError) {
        self.pattern = pattern
        let scalars = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                if tokens.last != .any { tokens.append(.any) }
                index += 1
            case "?":
                tokens.append(.one)
                index += 1
            case "\\":
                guard index + 1 < scalars.count else { throw SyntaxError(offset: index, problem: "'\\' at the end of the pattern escapes nothing") }
                tokens.append(.literal(scalars[index + 1]))
                index += 2
            case "[":
                let start = index
                index += 1
                var negated = false
                if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" { negated = true; index += 1 }
                var ranges: [ClosedRange<UInt32>] = []
                var first = true
                while true {
                    guard index < scalars.count else { throw SyntaxError(offset: start, problem: "'[' is never closed with ']'") }
                    var low = scalars[index]
                    if low == "]" && !first { index += 1; break }
                    if low == "\\", index + 1 < scalars.count { index += 1; low = scalars[index] }
                    first = false
                    index += 1
                    if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                        var high = scalars[index + 1]
                        index += 2
                        if high == "\\", index < scalars.count { high = scalars[index]; index += 1 }
                        guard low.value <= high.value else {
                            throw SyntaxError(offset: start, problem: "the range \(low)-\(high) in '[...]' runs backwards")
                        }
                        ranges.append(low.value...high.value)
                    } else {
                        ranges.append(low.value...low.value)
                    }
                }
                tokens.append(.class(ranges: ranges, negated: negated))
            default:
                tokens.append(.literal(scalar))
                index += 1
            }
        }
        shape = Self.shape(of: tokens)
    }

    private static func shape(of tokens: [Token]) -> Shape {
        func literalBytes(_ slice: ArraySlice<Token>) -> [UInt8]? { literalText(slice).map { Array($0.utf8) } }
        func literalText(_ slice: ArraySlice<Token>) -> String? {
            var text = String.UnicodeScalarView()
            for token in slice {
                guard case .literal(let scalar) = token else { return nil }
                text.append(scalar)
            }
            return String(text)
        }
        if tokens == [.any] { return .everything }
        if let bytes = literalBytes(tokens[...]) { return .exact(bytes) }
        if tokens.count >= 2, tokens.last == .any, let bytes = literalBytes(tokens.dropLast()) { return .prefix(bytes) }
        if tokens.count >= 2, tokens.first == .any {
            if let bytes = literalBytes(tokens.dropFirst()) { return .suffix(bytes) }
            if tokens.last == .any, tokens.count >= 3, let inner = literalText(tokens.dropFirst().dropLast()) { return .infix(inner) }
        }
        return .general(tokens)
    }

    /// Whether `text` matches the whole pattern.
    public func matches(_ text: String) -> Bool {
        switch shape {
        case .everything: true
        case .exact(let literal): Self.compare(text, literal, exact: true, atEnd: false)
        case .prefix(let literal): Self.compare(text, literal, exact: false, atEnd: false)
        case .suffix(let literal): Self.compare(text, literal, exact: false, atEnd: true)
        case .infix(let literal): literal.isEmpty || text.contains(literal)
        case .general(let tokens): Self.matches(tokens: tokens, Array(text.unicodeScalars))
        }
    }

    /// Whether `literal` is all of `text` (`exact`), or its start or end.
    private static func compare(_ text: String, _ literal: [UInt8], exact: Bool, atEnd: Bool) -> Bool {
        let fast = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard exact ? bytes.count == literal.count : bytes.count >= literal.count else { return false }
            guard !literal.isEmpty else { return true }
            let start = atEnd ? bytes.count - literal.count : 0
            return literal.withUnsafeBufferPointer { memcmp(bytes.baseAddress! + start, $0.baseAddress!, literal.count) == 0 }
        }
        if let fast { return fast }
        let bytes = Array(text.utf8)
        guard exact ? bytes.count == literal.count : bytes.count >= literal.count else { return false }
        return atEnd ? bytes.suffix(literal.count).elementsEqual(literal) : bytes.prefix(literal.count).elementsEqual(literal)
    }

    /// Greedy matching with one backtrack point (the last `*`): linear for patterns without stars,
    /// at worst pattern length × text length.
    private static func matches(tokens: [Token], _ text: [Unicode.Scalar]) -> Bool {
        var t = 0
        var p = 0
        var starToken = -1
        var starText = 0
        while t < text.count {
            if p < tokens.count {
                switch tokens[p] {
                case .any:
                    starToken = p
                    starText = t
                    p += 1
                    continue
                case .one:
                    p += 1
                    t += 1
                    continue
                case .literal(let scalar) where scalar == text[t]:
                    p += 1
                    t += 1
                    continue
                case .class(let ranges, let negated) where ranges.contains { $0.contains(text[t].value) } != negated:
                    p += 1
                    t += 1
                    continue
                default:
                    break
                }
            }
            guard starToken >= 0 else { return false }
            p = starToken + 1
            starText += 1
            t = starText
        }
        while p < tokens.count, tokens[p] == .any { p += 1 }
        return p == tokens.count
    }

    public var description: String { pattern }

    public static func == (lhs: Glob, rhs: Glob) -> Bool { lhs.pattern == rhs.pattern }
}
