import ArgumentParser
import Foundation

@main
struct Shiftgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shiftgate",
        abstract: "A PagerDuty on-call cache and a cache-only access-approval webhook.",
        discussion: """
            `sync` snapshots PagerDuty into a local SQLite cache (run it from cron or a systemd timer);
            `serve` answers Indent access requests and on-call lookups from that cache alone.

            Exit codes: 0 success; 1 failure (or, for `check`, not on call); 2 `check` cannot decide;
            3 `drift --fail-on-drift` found drift; 4 PagerDuty refused the API key;
            64 bad command line; 75 another sync is running.

            Shell completion: shiftgate --generate-completion-script bash|zsh|fish
            """,
        version: ShiftgateVersion.current,
        subcommands: [
            SyncCommand.self, StatusCommand.self, ServeCommand.self, CheckCommand.self, AuditCommand.self,
            DriftCommand.self, SnapshotsCommand.self, RulesCommand.self, DemoCommand.self,
        ]
    )

    /// ArgumentParser's own `main` with one step between parsing and running: `serve` first hands
    /// Swift concurrency to SwiftNIO's event loops, which has to happen before any task runs (see
    /// `ServeCommand.takeOverConcurrency()`). Parsing is synchronous, so no task has been enqueued
    /// by then. Help and exit codes are ArgumentParser's (64 for a bad command line); errors are
    /// one line (`finish(with:)`), and what was printed is checked to have been written.
    static func main() async {
        let parsed: any ParsableCommand
        do {
            parsed = try parseAsRoot()
        } catch {
            finish(with: error)
        }
        if ServeCommand.takesOverConcurrency(parsed) { ServeCommand.takeOverConcurrency() }
        do {
            if var command = parsed as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = parsed
                try command.run()
            }
        } catch {
            finish(with: error)
        }
        finish(with: nil)
    }

    /// Ends the process as `error` says (nil: success). Help goes to ArgumentParser as ever. Every
    /// failure is one line on stderr, `shiftgate: message`, without ArgumentParser's usage banner
    /// (README: "Every command prints one clear line on stderr when it fails"). Output that could not
    /// be written (a full disk, `> /dev/full`) fails a command that would have succeeded, exit 1.
    static func finish(with error: (any Error)?) -> Never {
        var code = error.map { exitCode(for: $0) } ?? .success
        if let error, code == .success, !(error is ExitCode) {
            exit(withError: error)  // --help, help COMMAND: the help text, exit 0
        }
        if let error {
            let message = Self.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
            if !message.isEmpty { FileHandle.standardError.write(Data(("shiftgate: " + message + "\n").utf8)) }
        }
        if let problem = StandardOutput.finish() {
            FileHandle.standardError.write(Data(("shiftgate: " + problem + "\n").utf8))
            if code == .success || code == ShiftgateExit.driftFound { code = ShiftgateExit.failure }
        }
        Foundation.exit(code.rawValue)
    }
}
