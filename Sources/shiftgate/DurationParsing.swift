import ArgumentParser
import Foundation

/// A span of time on the command line: `90s`, `15m`, `6h`, `7d`, or a sum such as `1h30m`.
struct CLIDuration: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    let seconds: TimeInterval

    init(seconds: TimeInterval) {
        self.seconds = seconds
    }

    init?(argument: String) {
        guard let seconds = Self.parse(argument) else { return nil }
        self.seconds = seconds
    }

    static func parse(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var total = 0.0
        var number = ""
        var sawUnit = false
        for character in text.trimmingCharacters(in: .whitespaces) {
            if character.isNumber || character == "." {
                number.append(character)
            } else if let unit = units[character], let value = Double(number) {
                total += value * unit
                number = ""
                sawUnit = true
            } else {
                return nil
            }
        }
        guard number.isEmpty, sawUnit else { return nil }
        return total
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String {
        var rest = Int(seconds)
        var text = ""
        for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        if rest > 0 || text.isEmpty { text += "\(rest)s" }
        return text
    }

    var defaultValueDescription: String { description }
}
