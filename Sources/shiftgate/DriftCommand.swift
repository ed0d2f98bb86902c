import ArgumentParser
import Drift
import Foundation
import OnCallStore

extension DriftFormat: ExpressibleByArgument {}

struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Report what changed in the rotations between two snapshots.",
        discussion: """
            By default compares the previous snapshot with the newest. `--since 24h` compares the newest
            with the snapshot nearest to 24 hours before it.

            Examples:
              shiftgate drift
              shiftgate drift --since 24h --format markdown
              shiftgate drift --from 12 --to 15 --format html --output drift.html
              shiftgate drift --fail-on-drift --format markdown    # exit 3 when anything changed
            Exit codes: 0 no drift (or drift without --fail-on-drift); 1 error; 3 drift with --fail-on-drift.
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: ArgumentHelp("The older snapshot's id.", valueName: "id"))
    var from: Int64?

    @Option(help: "Compare the newest snapshot with the one nearest to this long before it.", transform: CLIDuration.argument)
    var since: CLIDuration?

    @Option(help: ArgumentHelp("The newer snapshot's id (default: the current one).", valueName: "id"))
    var to: Int64?

    @Option(help: "text, markdown, json or html.")
    var format: DriftFormat = .text

    @Option(help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(help: "Exit 3 when anything changed.")
    var failOnDrift = false

    func validate() throws {
        if from != nil, since != nil { throw ValidationError("--from and --since exclude each other") }
    }

    func run() async throws {
        common.bootstrapLogging()
        let pair: (before: SnapshotContents, after: SnapshotContents)?
        do {
            pair = try await common.withStore(.read, logger: LoggingBootstrap.logger("drift")) { try await snapshotsToCompare(in: $0) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail("\(error)")
        }
        guard let (before, after) = pair else {
            print("only one snapshot is kept; nothing to compare yet")
            return
        }
        let report = Drift.diff(from: before, to: after)
        let text = Drift.render(report, as: format)
        if let output {
            do {
                try OutputFile.write(text, to: output)
            } catch {
                throw fail(error.description)
            }
        } else {
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
        if failOnDrift, !report.isEmpty { throw ShiftgateExit.driftFound }
    }

    /// The two snapshots to compare (nil when only one is kept), as --from, --since and --to say.
    private func snapshotsToCompare(in store: any CacheStore) async throws -> (before: SnapshotContents, after: SnapshotContents)? {
        let snapshots = try await store.snapshots()
        let currentId = try await store.currentSnapshotId()
        guard let newestId = to ?? currentId ?? snapshots.last?.id,
              let newer = snapshots.first(where: { $0.id == newestId }) else {
            throw fail(to.map { "no snapshot \($0) (see `shiftgate snapshots`)" } ?? "no snapshots yet: run `shiftgate sync`")
        }
        let older: SnapshotInfo
        if let from {
            guard let found = snapshots.first(where: { $0.id == from }) else { throw fail("no snapshot \(from) (see `shiftgate snapshots`)") }
            older = found
        } else if let since {
            let target = newer.finishedAt.addingTimeInterval(-since.seconds)
            guard let nearest = snapshots.filter({ $0.id != newer.id }).min(by: {
                abs($0.finishedAt.timeIntervalSince(target)) < abs($1.finishedAt.timeIntervalSince(target))
            }) else {
                return nil
            }
            older = nearest
        } else {
            guard let previous = snapshots.last(where: { $0.id < newer.id }) else {
                return nil
            }
            older = previous
        }
        guard let before = try await store.snapshot(id: older.id), let after = try await store.snapshot(id: newer.id) else {
            throw fail("a snapshot was pruned while reading; run drift again")
        }
        return (before, after)
    }
}
