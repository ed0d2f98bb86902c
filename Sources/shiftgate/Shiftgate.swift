import ArgumentParser

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
    /// by then. Help, errors and exit codes are ArgumentParser's, as before (64 for a bad command line).
    static func main() async {
        let parsed: any ParsableCommand
        do {
            parsed = try parseAsRoot()
        } catch {
            exit(withError: error)
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
            exit(withError: error)
        }
    }
}
