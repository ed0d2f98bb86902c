import ArgumentParser
import Foundation
import Timestamps

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
        HumanDuration.parse(text)
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
