import Foundation
import PagerDuty
import Timestamps

// Scenario files: a `SimulatedAccount` as JSON, times as ISO 8601 strings with offsets.
extension SimulatedAccount {
    /// Reads a scenario file (`pagerduty-simulator --scenario FILE`).
    public static func load(from url: URL) throws -> SimulatedAccount {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .rfc3339
        return try decoder.decode(SimulatedAccount.self, from: Data(contentsOf: url))
    }

    /// Writes the account as a scenario file, pretty-printed with sorted keys so it diffs well.
    public func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .rfc3339
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
