import Foundation
import JSONText

/// Any JSON value, kept as it came: Indent's actors and resources are carried into the reply verbatim,
/// unknown fields included.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// JSON text that cannot be read, and where.
    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Parses a JSON document (RFC 8259, UTF-8) with Shiftgate's strict reader (`JSONReader`).
    /// Containers nested deeper than `maxNesting` are refused before they are built.
    public static func parse(_ data: Data, maxNesting: Int = 512) throws(SyntaxError) -> JSONValue {
        let result = data.withUnsafeBytes { raw in
            Result { () throws(SyntaxError) in
                var reader = JSONReader(raw.bindMemory(to: UInt8.self), maxNesting: maxNesting)
                return try reader.document()
            }
        }
        return try result.get()
    }

    /// Compact JSON with object keys sorted, so a reply's bytes depend only on its content.
    public func serialized() -> [UInt8] {
        var writer = JSONWriter()
        write(into: &writer)
        return writer.bytes
    }

    func write(into writer: inout JSONWriter) {
        switch self {
        case .null: writer.null()
        case .bool(let value): writer.bool(value)
        case .number(let value): writer.number(value)
        case .string(let value): writer.string(value)
        case .array(let elements): writer.array(elements) { $1.write(into: &$0) }
        case .object(let members): writer.object(members.sorted { $0.key < $1.key }.lazy.map { ($0.key, $0.value) }) { $1.write(into: &$0) }
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }
}
