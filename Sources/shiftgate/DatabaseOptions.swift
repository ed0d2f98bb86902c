import ArgumentParser
import Foundation
import Logging

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
