import LineLog
import Logging
import Synchronization

/// swift-log set up once per process, and the loggers the commands take from it.
enum LoggingBootstrap {
    /// The level the running command chose, nil until it chose one. swift-log allows one bootstrap
    /// per process, so the first choice also sets it up; a lock, since handlers are made on any thread.
    private static let chosenLevel = Mutex<Logger.Level?>(nil)

    /// Where handlers and loggers start: the chosen level, info before one is chosen.
    private static var level: Logger.Level {
        chosenLevel.withLock { $0 } ?? .info
    }

    /// Chooses `level` for the handlers and loggers made from now on, and the first time points
    /// swift-log at stderr.
    static func once(level: Logger.Level) {
        let isFirst = chosenLevel.withLock { chosen in
            defer { chosen = level }
            return chosen == nil
        }
        guard isFirst else { return }
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, sink: .standardError)
            handler.logLevel = LoggingBootstrap.level
            return handler
        }
    }

    /// A logger for one command or part of one (its `component` metadata), at the chosen level.
    static func logger(_ component: String) -> Logger {
        var logger = Logger(label: "shiftgate")
        logger[metadataKey: "component"] = "\(component)"
        logger.logLevel = level
        return logger
    }
}
