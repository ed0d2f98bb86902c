import Approval
import ArgumentParser
import Foundation

extension ApprovalPolicy {
    /// The AUTO_APPROVAL_* rules, read the same way by `serve` and `check` so that `check` decides as
    /// the webhook would. A bad variable is a bad command line (exit 64) whose message names it.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ApprovalPolicy {
        do {
            return try ApprovalPolicy(environment: environment)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
