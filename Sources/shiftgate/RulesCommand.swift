import Approval
import ArgumentParser
import Foundation
import SafeText
import OnCallStore

struct RulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Work with approval rules files (--rules / SHIFTGATE_RULES).",
        discussion: """
            Examples:
              shiftgate rules check /etc/shiftgate/rules.yaml
            """,
        subcommands: [RulesCheckCommand.self]
    )
}

struct RulesCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a rules file: exit 0, or 64 with FILE:LINE:COLUMN and what is wrong.",
        discussion: """
            Reports unknown keys, bad globs, duplicate names, bad durations and escalation levels, and
            YAML syntax errors, each with its line and column. When the cache can be read, schedules
            the current snapshot does not know are warnings (exit 0 still); without a snapshot that
            check is skipped.

            Examples:
              shiftgate rules check deploy/rules.example.yaml
              shiftgate rules check /etc/shiftgate/rules.yaml --database /var/lib/shiftgate/shiftgate.sqlite
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Argument(help: ArgumentHelp("The rules file.", valueName: "file"))
    var file: String

    func run() async throws {
        common.bootstrapLogging()
        let policy = (try? ApprovalPolicy.fromEnvironment()) ?? ApprovalPolicy()
        let rules: RuleSet
        do {
            rules = try RulesFile.load(path: file, defaults: policy)
        } catch {
            // One `FILE:LINE:COLUMN: message` line per problem, each escaped onto its line.
            let lines = error.problems.map { "\(error.file):\($0)" }
            FileHandle.standardError.write(Data(lines.map { $0.printable + "\n" }.joined().utf8))
            throw ShiftgateExit.configuration
        }
        let approving = rules.rules.filter(\.approves).count
        printLine("\(file): \(rules.rules.count) rule\(rules.rules.count == 1 ? "" : "s") (\(approving) approving, \(rules.rules.count - approving) never)")
        for rule in rules.rules {
            let limits = rule.approves
                ? "on call in \(rule.schedules.isEmpty ? "any schedule" : rule.schedules.joined(separator: ", "))"
                    + (rule.maxEscalationLevel.map { ", escalation level <= \($0)" } ?? "") + ", at most \(CLIDuration(seconds: rule.maxDuration))"
                : "never"
            printLine("  \(rule.name): \(limits)")
        }
        // Schedules: only a warning, and only when a snapshot can be read (a fresh install has none).
        let current = try? await common.withStore(.read, logger: LoggingBootstrap.logger("rules"), { try await $0.currentSnapshot() })
        guard let contents = current ?? nil else {
            printLine("(no snapshot in the cache to check schedule names against)")
            return
        }
        let index = OnCallIndex(contents, rules: rules)
        for unknown in index.unmatchedRuleSchedules {
            FileHandle.standardError.write(Data("\(file):\(unknown.location.map(\.description) ?? "1:1"): warning: rule \(unknown.rule): schedule '\(unknown.entry)' is not in snapshot \(contents.info.id)".printable.utf8 + [0x0A]))
        }
    }
}
