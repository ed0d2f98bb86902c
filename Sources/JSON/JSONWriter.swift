/// Compact JSON text, written byte by byte: the webhook's replies and the simulator's pages are built
/// as trees and written here, without `JSONEncoder`'s reflection (which cost a decision ~36 µs of its
/// ~50; BENCHMARKS.md). Slashes are not escaped; control characters and `"` and `\` are.
///
/// Everything is `@inlinable`: a client module then gets the writer specialised for its own value
/// type, instead of calling through generic closures (which profiled at 16 % of a decision).
public struct JSONWriter: Sendable {
    /// The text so far.
    public var bytes: [UInt8] = []

    @inlinable
    public init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    /// Text that is already JSON (punctuation, keys known to need no escape), as it is.
    @inlinable
    public mutating func literal(_ json: StaticString) {
        json.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func null() {
        bytes.append(contentsOf: "null".utf8)
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    @inlinable
    public mutating func integer(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Whole numbers below 10^15 without a fraction (`3`, not `3.0`), others in Swift's shortest
    /// round-tripping form; non-finite numbers, which JSON cannot hold, as `null`.
    @inlinable
    public mutating func number(_ value: Double) {
        if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
            integer(Int(value))
        } else if value.isFinite {
            bytes.append(contentsOf: String(value).utf8)
        } else {
            null()
        }
    }

    @usableFromInline
    static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    @usableFromInline
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    @inlinable
    public mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escape: copy them whole. A native string's bytes are scanned in place,
        // which is several times faster than through `String.UTF8View`'s iterator.
        let plain = text.utf8.withContiguousStorageIfAvailable { !$0.contains(where: Self.needsEscaping) }
            ?? !text.utf8.contains(where: Self.needsEscaping)
        if plain {
            bytes.append(contentsOf: text.utf8)
        } else {
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0..<0x20:
                    bytes.append(contentsOf: "\\u00".utf8)
                    bytes.append(Self.hexDigit(byte >> 4))
                    bytes.append(Self.hexDigit(byte & 0x0F))
                default:
                    bytes.append(byte)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `[` … `]`, with commas between the elements `write` writes.
    @inlinable
    public mutating func array<Elements: Sequence>(_ elements: Elements, _ write: (inout JSONWriter, Elements.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for element in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            write(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `{` … `}`: each member's key, a colon and the value `write` writes, in the members' order.
    @inlinable
    public mutating func object<Value>(_ members: some Sequence<(String, Value)>, _ write: (inout JSONWriter, Value) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in members {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            string(key)
            bytes.append(UInt8(ascii: ":"))
            write(&self, value)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
