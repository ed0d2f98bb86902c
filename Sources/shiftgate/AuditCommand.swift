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
            Examples:
              shiftgate audit --since 24h
              shiftgate audit --since 7d --format json
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "How far back to list. (default: 1d)", transform: CLIDuration.argument)
    var since = CLIDuration(seconds: 86_400)

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        common.bootstrapLogging()
        let records: [DecisionRecord]
        do {
            records = try await common.withStore(.read, logger: LoggingBootstrap.logger("audit")) { store in
                try await store.decisions(since: Date().addingTimeInterval(-since.seconds))
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
            if records.isEmpty { printLine("no decisions in the last \(since)") }
            for record in records {
                let granted = record.grantedSeconds.map { " for " + GoDuration.format(seconds: $0) } ?? ""
                printLine("\(ReadableTime.utc(record.decidedAt))  \(record.outcome)\(granted)  \(record.requester.isEmpty ? "(no email)" : record.requester)  \(record.resources)  \(record.reason)")
            }
        }
    }
}
