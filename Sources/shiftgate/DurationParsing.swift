import ArgumentParser
import Foundation
import Timestamps

/// A span of time on the command line: `90s`, `15m`, `6h`, `7d`, or a sum such as `1h30m`.
///
/// Options take it through `transform: CLIDuration.argument`, so that a value refused says why
/// (`The value '…' is invalid for '--since <since>': longer than 3650d, …`), exit 64. Nothing longer
/// than `HumanDuration.maximum` gets in, so every use below may turn it into a date or an integer.
/// ArgumentParser shows no default for a `transform:` option, so their help text says it,
/// "(default: 1d)", in ArgumentParser's own words.
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

    /// The `transform:` of every duration option: the span, or a `ValidationError` with the reason.
    @Sendable static func argument(_ text: String) throws -> CLIDuration {
        do {
            return CLIDuration(seconds: try HumanDuration.read(text))
        } catch {
            throw ValidationError(error.description)
        }
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String {
        // Spans come from HumanDuration (bounded) or from clocks; clamp anyway so that printing
        // can never trap.
        var rest = Int(max(0, min(seconds, HumanDuration.maximum * 10)))
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
