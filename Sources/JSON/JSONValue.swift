import Foundation

/// Any JSON value: what the webhook reads from Indent (actors and resources are carried into the
/// reply verbatim, unknown fields included) and what the webhook and the simulator write. Objects
/// keep their members in order, so a reply can follow PagerDuty's key order and write explicit
/// nulls, which synthesized `Codable` would drop; JSONEncoder's reflection is not on any path.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// JSON text that cannot be read, and where.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a JSON document (RFC 8259, UTF-8) with Shiftgate's strict reader (`JSONReader`).
    /// Containers nested deeper than `maxNesting` are refused before they are built, and so is a key
    /// repeated in one object unless `allowingDuplicateKeys` (then a lookup finds the last one).
    public static func parse(_ data: Data, maxNesting: Int = 512, allowingDuplicateKeys: Bool = false) throws(SyntaxError) -> JSONValue {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(SyntaxError) in
                var reader = JSONReader(raw.bindMemory(to: UInt8.self), maxNesting: maxNesting, allowingDuplicateKeys: allowingDuplicateKeys)
                return try reader.document()
            }
        }
        return try result.get()
    }

    /// An object with `members` in this order.
    public static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        .object(JSONObject(members))
    }

    /// A whole number (JSON has one kind of number; this one is written without a fraction).
    public static func int(_ value: Int) -> JSONValue {
        .number(Double(value))
    }

    /// Compact JSON: object members in their order, or with `sortingKeys` in key order (so that a
    /// reply's bytes depend only on its content; of repeated keys, the last one is written).
    public func serialized(sortingKeys: Bool = false) -> [UInt8] {
        var writer = JSONWriter()
        write(into: &writer, sortingKeys: sortingKeys)
        return writer.bytes
    }

    public func write(into writer: inout JSONWriter, sortingKeys: Bool = false) {
        switch self {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .number(let value): writer.number(value)
        case .string(let value): writer.string(value)
        case .array(let elements): writer.array(elements) { $1.write(into: &$0, sortingKeys: sortingKeys) }
        case .object(let object):
            if sortingKeys {
                writer.object(object.lastOfEachKey.sorted { $0.key < $1.key }.lazy.map { ($0.key, $0.value) }) { $1.write(into: &$0, sortingKeys: true) }
            } else {
                writer.object(object.members.lazy.map { ($0.key, $0.value) }) { $1.write(into: &$0) }
            }
        }
    }

    /// An object's member (the last one of that name), or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

/// A JSON object's members, in order. Looking a key up finds the last member of that name, as
/// `JSONSerialization` keeps the last of repeated keys; two objects are equal when they give the same
/// value for every key, whatever the order.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)]

    public init(_ members: [(String, JSONValue)] = []) {
        self.members = members.map { (key: $0.0, value: $0.1) }
    }

    /// A dictionary's entries, in key order.
    public init(_ dictionary: [String: JSONValue]) {
        members = dictionary.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    public mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key: key, value: value))
    }

    public subscript(key: String) -> JSONValue? {
        members.last { $0.key == key }?.value
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    /// The members with the last of repeated keys only.
    var lastOfEachKey: [String: JSONValue] {
        Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.lastOfEachKey == right.lastOfEachKey
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(lastOfEachKey)
    }
}
