import Approval
import ArgumentParser
import Foundation
import OnCallStore
import Timestamps

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the webhook's decisions from the audit log.",
        discussion: """
            --requester and --outcome keep only the decisions for that email (matched
            case-insensitively) and with that outcome.

            Examples:
              shiftgate audit --since 24h
              shiftgate audit --since 7d --format json
              shiftgate audit --since 7d --requester jane@example.com --outcome escalation_level_too_high
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "How far back to list. (default: 1d)", transform: CLIDuration.argument)
    var since = CLIDuration(seconds: 86_400)

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp("Only this requester's decisions (matched case-insensitively).", valueName: "email"))
    var requester: String?

    @Option(help: ArgumentHelp("Only decisions with this outcome: \(Decision.Outcome.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var outcome: String?

    func validate() throws {
        if let requester, requester.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--requester: give an email (decisions without one have the outcome no_email)")
        }
        if let outcome, Decision.Outcome(rawValue: outcome) == nil {
            throw ValidationError("--outcome: '\(outcome)' is not an outcome; use one of \(Decision.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// Whether a record passes --requester and --outcome.
    func keeps(_ record: DecisionRecord) -> Bool {
        if let requester, record.requester.emailMatchKey != requester.trimmingCharacters(in: .whitespaces).emailMatchKey { return false }
        if let outcome, record.outcome != outcome { return false }
        return true
    }

    func run() async throws {
        common.bootstrapLogging()
        let records: [DecisionRecord]
        let filtered = requester != nil || outcome != nil
        do {
            records = try await common.withStore(.read, logger: LoggingBootstrap.logger("audit")) { store in
                // Filtered after reading, the same for both engines; every record of the period is read
                // then (no 10,000 cap), so a filter never hides a match behind other people's records.
                filtered ? try await store.decisions(since: Date().addingTimeInterval(-since.seconds), limit: -1).filter(keeps)
                         : try await store.decisions(since: Date().addingTimeInterval(-since.seconds))
            }
        } catch {
            throw fail("\(error)")
        }
        switch format {
        case .json:
            struct Output: Encodable {
                var decidedAt: String
                var requestId: String
                var requester: String
                var resources: [String]
                var outcome: String
                var reason: String
                var snapshotId: Int64?
                var scheduleId: String?
                var grantedSeconds: Int?
            }
            print(try encodeJSON(records.map {
                Output(decidedAt: RFC3339.format($0.decidedAt), requestId: $0.requestId, requester: $0.requester,
                       resources: (try? JSONDecoder().decode([String].self, from: Data($0.resources.utf8))) ?? [],
                       outcome: $0.outcome, reason: $0.reason, snapshotId: $0.snapshotId, scheduleId: $0.scheduleId, grantedSeconds: $0.grantedSeconds)
            }))
        case .text:
            if records.isEmpty {
                let which = [requester.map { " for \($0)" }, outcome.map { " with the outcome \($0)" }].compactMap { $0 }.joined()
                printLine("no decisions\(which) in the last \(since)")
            }
            for record in records {
                let granted = record.grantedSeconds.map { " for " + GoDuration.format(seconds: $0) } ?? ""
                printLine("\(ReadableTime.utc(record.decidedAt))  \(record.outcome)\(granted)  \(record.requester.isEmpty ? "(no email)" : record.requester)  \(record.resources)  \(record.reason)")
            }
        }
    }
}
