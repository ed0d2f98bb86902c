import ArgumentParser
import Foundation
import SafeText

/// Exit codes are part of the interface: cron, systemd and scripts act on them (README, "Commands and
/// exit codes"). 64, a bad command line or configuration, is ArgumentParser's own exit for a parse
/// error or a `ValidationError`; `configuration` is the same code for a configuration found wrong
/// later (`serve` whose cache cannot be opened at start: an unreachable database, a refused password).
enum ShiftgateExit {
    static let configuration = ExitCode(64)
    static let failure = ExitCode(1)
    static let notOnCall = ExitCode(1)
    static let cannotDecide = ExitCode(2)
    static let driftFound = ExitCode(3)
    static let keyRefused = ExitCode(4)
    static let syncRunning = ExitCode(75)
}

/// Prints one clear line on stderr and returns `code`, for the caller to throw or return. The
/// message may quote what a user, a file or PagerDuty wrote: it is escaped onto that one line.
func fail(_ message: String, code: ExitCode = ShiftgateExit.failure) -> ExitCode {
    FileHandle.standardError.write(Data(("shiftgate: " + message.printable + "\n").utf8))
    return code
}
