import ArgumentParser
import Foundation

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

/// Prints one clear line on stderr and returns `code`, for the caller to throw or return.
func fail(_ message: String, code: ExitCode = ShiftgateExit.failure) -> ExitCode {
    FileHandle.standardError.write(Data(("shiftgate: " + message + "\n").utf8))
    return code
}
