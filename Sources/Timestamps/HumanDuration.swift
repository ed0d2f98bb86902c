import Foundation

/// Spans of time as people write them on a command line or in a rules file: `90s`, `15m`, `6h`,
/// `7d`, `2w`, or a sum such as `1h30m` (decimals allowed: `1.5h`).
public enum HumanDuration {
    /// Seconds, or nil for anything else (no unit, an unknown unit, a non-ASCII digit, overflow).
    public static func parse(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total = 0.0
        var number = ""
        var sawUnit = false
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isASCII, character.isNumber || character == "." {
                number.append(character)
            } else if let unit = units[character], let value = Double(number), value.isFinite {
                total += value * unit
                number = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard number.isEmpty, sawUnit, total.isFinite else { return nil }
        return total
    }
}
