import ArgumentParser
import Foundation
import LineLog
import Logging

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
            """,
        subcommands: [
            SyncCommand.self, StatusCommand.self, ServeCommand.self, CheckCommand.self, AuditCommand.self,
            DriftCommand.self, SnapshotsCommand.self, DemoCommand.self,
        ]
    )

    static func main() async {
        ServeCommand.takeOverConcurrencyIfServing(CommandLine.arguments)
        await main(nil)
    }
}

/// Exit codes are part of the interface: cron, systemd and scripts act on them.
enum ShiftgateExit {
    static let failure = ExitCode(1)
    static let notOnCall = ExitCode(1)
    static let cannotDecide = ExitCode(2)
    static let driftFound = ExitCode(3)
    static let keyRefused = ExitCode(4)
    static let usage = ExitCode(64)
    static let syncRunning = ExitCode(75)
}

/// Options every command that reads or writes the cache takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The SQLite cache (env SHIFTGATE_DATABASE).", valueName: "path"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env LOG_LEVEL).", valueName: "level"))
    var logLevel: String?

    static let defaultPath = "./shiftgate.sqlite"

    var databasePath: String {
        database ?? ProcessInfo.processInfo.environment["SHIFTGATE_DATABASE"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultPath
    }

    func validate() throws {
        if let level = resolvedLogLevelName, Logger.Level(rawValue: level) == nil {
            throw ValidationError("--log-level: '\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var resolvedLogLevelName: String? {
        logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    /// Sets up swift-log once for this process (stderr; `quiet` keeps errors only).
    func bootstrapLogging(quiet: Bool = false) {
        let level: Logger.Level = quiet ? .error : (resolvedLogLevelName.flatMap(Logger.Level.init(rawValue:)) ?? .info)
        LoggingBootstrap.once(level: level)
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false
    nonisolated(unsafe) static var level: Logger.Level = .info

    static func once(level: Logger.Level) {
        self.level = level
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, sink: .standardError)
            handler.logLevel = LoggingBootstrap.level
            return handler
        }
    }

    static func logger(_ component: String) -> Logger {
        var logger = Logger(label: "shiftgate")
        logger[metadataKey: "component"] = "\(component)"
        logger.logLevel = level
        return logger
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// Prints one clear line on stderr and exits with `code`.
func fail(_ message: String, code: ExitCode = ShiftgateExit.failure) -> ExitCode {
    FileHandle.standardError.write(Data(("shiftgate: " + message + "\n").utf8))
    return code
}

func readSecretFile(_ path: String, flag: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(flag): cannot read \(path)")
    }
    let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard !secret.isEmpty else { throw ValidationError("\(flag): \(path) is empty") }
    return secret
}
