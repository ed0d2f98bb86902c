/// Text from a request or from PagerDuty (emails, names, ids, labels, reasons) is untrusted: printed
/// raw, a newline in it forges a second log line and an escape sequence drives the reader's
/// terminal. Everything Shiftgate prints for people or into its log passes such text through
/// `printable` (or `logValue`), so that one event is one line, always.
extension StringProtocol {
    /// The text on one line with nothing a terminal acts on. Control characters (C0, DEL, C1), the
    /// line and paragraph separators and the bidirectional controls are written as escapes (`\n`,
    /// `\r`, `\t`, `\u{1B}`), and a backslash is doubled, so that an escape typed into the text cannot
    /// pass for one of ours. Text with none of these comes back unchanged, without a copy being made
    /// character by character.
    public var printable: String {
        guard utf8.contains(where: Self.mayNeedEscaping) else { return String(self) }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Self.isUnsafe(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// `printable`, and in double quotes (with `"` escaped) when it is empty or holds a space, `=` or
    /// `"`: a log line's `key=value` that another value cannot imitate (`requester=a outcome=approved`
    /// is one value, written `requester="a outcome=approved"`).
    public var logValue: String {
        let text = printable
        guard text.isEmpty || text.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") }) else {
            return text
        }
        var quoted = "\""
        for character in text.unicodeScalars {
            if character == "\"" { quoted += "\\\"" } else { quoted.unicodeScalars.append(character) }
        }
        return quoted + "\""
    }

    /// A byte that may start something to escape: ASCII controls, DEL, the backslash, and any byte
    /// of a multi-byte character (checked scalar by scalar).
    private static func mayNeedEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") || byte >= 0x80
    }

    private static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true  // C0, DEL, C1 (CSI is U+009B)
        case 0x2028, 0x2029: true  // line and paragraph separators
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: true  // bidirectional marks and overrides
        default: false
        }
    }
}
