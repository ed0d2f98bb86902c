import Approval
import ArgumentParser
import Foundation

/// `--rules FILE` (env SHIFTGATE_RULES): approval rules per resource, for `serve`, `check` and `sync`.
struct RulesOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Approval rules per resource, a YAML file (env SHIFTGATE_RULES); replaces AUTO_APPROVAL_PAGERDUTY_SCHEDULES and _MAX_ESCALATION_LEVEL.",
        valueName: "file"))
    var rules: String?

    /// The file given, if any.
    func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        rules ?? environment["SHIFTGATE_RULES"].flatMap(environmentSetting)
    }

    /// The variables a rules file replaces: set together with a file, they would be silently ignored.
    static let replacedVariables = ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL"]

    /// The rules file's rules, or nil without one (the AUTO_APPROVAL_* variables decide, as one rule).
    /// A file that cannot be used prints its `FILE:LINE:COLUMN: message` lines and exits 64.
    func load(policy: ApprovalPolicy, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RuleSet? {
        guard let file = path(environment: environment) else { return nil }
        let conflicting = Self.replacedVariables.filter { environment[$0].flatMap(environmentSetting) != nil }
        if !conflicting.isEmpty {
            throw ValidationError("\(conflicting.joined(separator: " and ")) cannot be used with a rules file: \(file) replaces "
                                  + "\(conflicting.count == 1 ? "it" : "them") (use each rule's `schedules` and `max_escalation_level`)")
        }
        do {
            return try RulesFile.load(path: file, defaults: policy)
        } catch {
            // A file that cannot be read at all is one line, saying what to pass instead.
            if error.unreadable, let problem = error.problems.first {
                throw fail("the rules file \(file) cannot be used: \(problem.message); pass the rules file's path with --rules or SHIFTGATE_RULES "
                           + "(deploy/rules.example.yaml is an example)", code: ShiftgateExit.configuration)
            }
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw fail("the rules file \(file) is invalid (\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s"))", code: ShiftgateExit.configuration)
        }
    }
}

/// `--resource KIND[:ID]`: the kind up to the first colon, the id after it (ARNs keep their colons).
struct ResourceArgument: ExpressibleByArgument {
    let resource: ResourceRef

    init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        if let colon = argument.firstIndex(of: ":") {
            let kind = String(argument[..<colon])
            guard !kind.isEmpty else { return nil }
            resource = ResourceRef(kind: kind, id: String(argument[argument.index(after: colon)...]))
        } else {
            resource = ResourceRef(kind: argument)
        }
    }
}
