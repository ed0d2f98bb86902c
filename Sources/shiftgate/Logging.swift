import LineLog
import Logging

/// swift-log set up once per process, and the loggers the commands take from it.
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
