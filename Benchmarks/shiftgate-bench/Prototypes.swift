import Approval
import Foundation

// Prototypes of the JSON changes proposed for the webhook (see BENCHMARKS.md), timed beside the
// product's code in "Where a decision's CPU goes". Not used by anything else.

extension JSONValue {
    /// From `JSONSerialization`'s tree: one pass, no thrown-and-discarded `DecodingError`s (the
    /// product's `init(from:)` probes Bool, Double, String and array with `try?` before an object).
    init(serialized value: Any) {
        switch value {
        case let text as String:
            self = .string(text)
        case let object as [String: Any]:
            self = .object(object.mapValues { JSONValue(serialized: $0) })
        case let array as [Any]:
            self = .array(array.map { JSONValue(serialized: $0) })
        case let number as NSNumber:
            // JSONSerialization gives booleans as NSNumber too; their type encoding is "c".
            self = String(cString: number.objCType) == "c" ? .bool(number.boolValue) : .number(number.doubleValue)
        case let flag as Bool:
            self = .bool(flag)
        default:
            self = .null
        }
    }

    /// A hand-written writer with sorted keys and unescaped slashes, as the product's JSONEncoder
    /// settings give (the simulator's `JSONValue.serialized()` is the same idea).
    func prototypeSerialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        write(into: &output)
        return output
    }

    private func write(into output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 {
                output.append(contentsOf: String(Int64(value)).utf8)
            } else {
                output.append(contentsOf: String(value).utf8)
            }
        case .string(let value):
            Self.writeString(value, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                members[key]!.write(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ value: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): output.append(contentsOf: "\\\\".utf8)
            case 0x0A: output.append(contentsOf: "\\n".utf8)
            case 0x0D: output.append(contentsOf: "\\r".utf8)
            case 0x09: output.append(contentsOf: "\\t".utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: "\\u00".utf8)
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0xF)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}

/// The reply `IndentResponder.respond` produced, as a `JSONValue` tree, to time encoders on.
func replyTree(_ reply: Data) throws -> JSONValue {
    JSONValue(serialized: try JSONSerialization.jsonObject(with: reply))
}
