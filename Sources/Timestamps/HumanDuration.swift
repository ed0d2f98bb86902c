import Foundation

/// Spans of time as people write them on a command line or in a rules file: `90s`, `15m`, `6h`,
/// `7d`, `2w`, or a sum such as `1h30m` (decimals allowed: `1.5h`).
///
/// Every span read is at most `maximum` (10 years): larger ones are refused here, where they are
/// read, so that no span a person types can overflow a date or an integer further on (seconds as
/// `Int64`, nanoseconds as `UInt64`).
public enum HumanDuration {
    /// The longest span read: 3650 days.
    public static let maximum: TimeInterval = 3650 * 86_400

    /// Why a text is not a span.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// No unit, an unknown unit, a sign, a non-ASCII digit, an empty text.
        case notADuration
        /// A span (or a sum of spans) longer than `maximum`.
        case tooLong

        public var description: String {
            switch self {
            case .notADuration: "not a duration such as 90s, 15m, 6h, 7d or 1h30m"
            case .tooLong: "longer than \(Int(HumanDuration.maximum / 86_400))d, the longest span Shiftgate reads"
            }
        }
    }

    /// Seconds, or nil for anything `read` refuses.
    public static func parse(_ text: String) -> TimeInterval? {
        try? read(text)
    }

    /// Seconds, or the reason `text` is not a span of at most `maximum`.
    public static func read(_ text: String) throws(Problem) -> TimeInterval {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total = 0.0
        var number = ""
        var sawUnit = false
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
            } else if let unit = units[character], let value = Double(number) {
                // Each term and the running sum stay within the bound, so neither can overflow.
                guard value.isFinite, value <= maximum / unit else { throw .tooLong }
                total += value * unit
                guard total <= maximum else { throw .tooLong }
                number = ""
                sawUnit = true
            } else {
                throw .notADuration
            }
        }
        guard number.isEmpty, sawUnit else { throw .notADuration }
        return total
    }
}
