import ArgumentParser
import OnCallStore
import Timestamps

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "List the kept snapshots (id, time, counts).",
        discussion: """
            Examples:
              shiftgate snapshots
              shiftgate snapshots --format json
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        common.bootstrapLogging()
        let currentId: Int64?
        let snapshots: [SnapshotInfo]
        do {
            (currentId, snapshots) = try await common.withStore(.read, logger: LoggingBootstrap.logger("snapshots")) { store in
                (try await store.syncState().currentSnapshotId, try await store.snapshots())
            }
        } catch {
            throw fail("\(error)")
        }
        switch format {
        case .json:
            print(try encodeJSON(snapshots.map(SnapshotInfoJSON.init)))
        case .text:
            if snapshots.isEmpty { print("no snapshots yet: run `shiftgate sync`") }
            for info in snapshots {
                let marker = info.id == currentId ? "*" : " "
                print("\(marker) \(info.id)\t\(ReadableTime.utc(info.finishedAt))\t\(info.userCount) users\t\(info.scheduleCount) schedules\t\(info.shiftCount) shifts\t\(info.apiRequests) requests\t\(info.read.rawValue)")
            }
        }
    }
}
