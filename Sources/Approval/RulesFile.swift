import Foundation
import Timestamps
import Yams

/// One thing wrong in a rules file, where it is.
public struct RulesProblem: Sendable, Equatable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }
}

/// A rules file that cannot be used: every problem found, each with its line and column.
public struct RulesFileError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [RulesProblem]
    /// Set when the file could not be read at all (missing, a directory, no permission): the one
    /// problem says which.
    public var unreadable = false

    /// One `FILE:LINE:COLUMN: message` line per problem.
    public var description: String {
        problems.map { "\(file):\($0)" }.joined(separator: "\n")
    }
}

/// Reads a rules file (YAML, through Yams' node tree so every value keeps its line and column) into
/// a `RuleSet`, checking everything a decision relies on: known keys only, globs that compile,
/// unique names, durations, escalation levels. All problems are reported, not just the first.
public enum RulesFile {
    public static let ruleKeys = ["name", "resources", "approve", "schedules", "max_escalation_level", "max_duration"]
    public static let resourceKeys = ["kind", "id", "labels"]

    public static func load(path: String, defaults: ApprovalPolicy) throws(RulesFileError) -> RuleSet {
        func unreadable(_ why: String) -> RulesFileError {
            RulesFileError(file: path, problems: [RulesProblem(SourceLocation(line: 1, column: 1), why)], unreadable: true)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw unreadable("no such file") }
        guard !isDirectory.boolValue else { throw unreadable("a directory, not a rules file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw unreadable(FileManager.default.isReadableFile(atPath: path) ? "cannot read the file" : "cannot read the file: permission denied")
        }
        return try parse(data, file: path, defaults: defaults)
    }

    public static func parse(_ data: Data, file: String, defaults: ApprovalPolicy) throws(RulesFileError) -> RuleSet {
        guard let text = String(data: data, encoding: .utf8) else {
            throw RulesFileError(file: file, problems: [RulesProblem(location(ofByte: firstInvalidUTF8(data), in: data), "the file is not UTF-8 text")])
        }
        return try parse(text, file: file, defaults: defaults)
    }

    public static func parse(_ text: String, file: String, defaults: ApprovalPolicy) throws(RulesFileError) -> RuleSet {
        var reader = Reader()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw RulesFileError(file: file, problems: [yamlProblem(error, text: text)])
        }
        let rules = reader.rules(root, defaults: defaults)
        guard reader.problems.isEmpty else {
            let ordered = reader.problems.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
            throw RulesFileError(file: file, problems: ordered)
        }
        return RuleSet(rules: rules, windowBefore: defaults.windowBefore, windowAfter: defaults.windowAfter, source: file)
    }

    /// Yams' own errors (scanner, parser, composer, reader) as a located problem.
    static func yamlProblem(_ error: any Error, text: String) -> RulesProblem {
        guard let error = error as? YamlError else { return RulesProblem(SourceLocation(line: 1, column: 1), "\(error)") }
        func phrase(_ context: YamlError.Context?, _ problem: String) -> String {
            guard let context else { return "invalid YAML: \(problem)" }
            return "invalid YAML: \(problem) (\(context.text) at \(context.mark))"
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _), .composer(let context, let problem, let mark, _):
            return RulesProblem(SourceLocation(line: mark.line, column: mark.column), phrase(context, problem))
        case .reader(let problem, let offset, _, _):
            let data = Data(text.utf8)
            return RulesProblem(location(ofByte: offset ?? 0, in: data), "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return RulesProblem(SourceLocation(line: context.mark.line, column: context.mark.column),
                                "duplicate key(s) \(duplicates.sorted().joined(separator: ", "))")
        default:
            return RulesProblem(SourceLocation(line: 1, column: 1), "invalid YAML: \(error)")
        }
    }

    static func location(ofByte offset: Int, in data: Data) -> SourceLocation {
        var line = 1
        var column = 1
        for byte in data.prefix(max(0, offset)) {
            if byte == UInt8(ascii: "\n") { line += 1; column = 1 } else if byte & 0xC0 != 0x80 { column += 1 }
        }
        return SourceLocation(line: line, column: column)
    }

    /// The offset of the first byte that does not continue valid UTF-8 (0 when none is found, for
    /// text Foundation refused for other reasons).
    static func firstInvalidUTF8(_ data: Data) -> Int {
        let bytes = [UInt8](data)
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            guard length > 0, index + length <= bytes.count else { return index }
            for next in bytes[(index + 1)..<(index + length)] where next & 0xC0 != 0x80 { return index }
            index += length
        }
        return 0
    }

    /// Durations in a rules file: `2h`, `90m`, `1h30m`, `45s`, `1d` (as on the command line).
    public static func duration(_ text: String) -> TimeInterval? {
        HumanDuration.parse(text)
    }

    /// Walks the node tree, collecting problems rather than stopping at the first.
    struct Reader {
        var problems: [RulesProblem] = []

        mutating func problem(_ node: Node?, _ message: String) {
            problems.append(RulesProblem(Self.location(node), message))
        }

        static func location(_ node: Node?) -> SourceLocation {
            guard let mark = node?.mark else { return SourceLocation(line: 1, column: 1) }
            return SourceLocation(line: mark.line, column: mark.column)
        }

        /// A plain string scalar (quoted or not); numbers and booleans written as such are scalars too.
        mutating func string(_ node: Node, _ what: String) -> String? {
            guard case .scalar(let scalar) = node else {
                problem(node, "\(what) must be a single value, not a \(Self.shape(node))")
                return nil
            }
            return scalar.string
        }

        static func shape(_ node: Node) -> String {
            switch node {
            case .scalar: "value"
            case .mapping: "mapping"
            case .sequence: "list"
            case .alias: "alias"
            }
        }

        mutating func glob(_ node: Node, _ what: String) -> Glob? {
            guard let text = string(node, what) else { return nil }
            guard !text.isEmpty else {
                problem(node, "\(what) is empty (use \"*\" for any)")
                return nil
            }
            do {
                return try Glob(text)
            } catch {
                problem(node, "\(what) '\(text)' is not a valid glob: \(error.problem) (at character \(error.offset + 1))")
                return nil
            }
        }

        /// The mapping's pairs with string keys; an unknown key is a problem naming the known ones.
        mutating func pairs(_ node: Node, known: [String], what: String) -> [String: (key: Node, value: Node)]? {
            guard case .mapping(let mapping) = node else {
                problem(node, "\(what) must be a mapping, not a \(Self.shape(node))")
                return nil
            }
            var result: [String: (key: Node, value: Node)] = [:]
            for (key, value) in mapping {
                guard case .scalar(let scalar) = key else {
                    problem(key, "\(what) has a key that is not a plain name")
                    continue
                }
                guard known.contains(scalar.string) else {
                    problem(key, "unknown key '\(scalar.string)' in \(what) (known: \(known.joined(separator: ", ")))")
                    continue
                }
                guard result[scalar.string] == nil else {
                    problem(key, "'\(scalar.string)' appears twice in \(what)")
                    continue
                }
                result[scalar.string] = (key, value)
            }
            return result
        }

        mutating func rules(_ root: Node?, defaults: ApprovalPolicy) -> [ApprovalRule] {
            guard let root else {
                problem(nil, "the file is empty: expected a top-level 'rules:' list")
                return []
            }
            guard let top = pairs(root, known: ["rules"], what: "the file") else { return [] }
            guard let list = top["rules"] else {
                problem(root, "expected a top-level 'rules:' list")
                return []
            }
            guard case .sequence(let sequence) = list.value else {
                problem(list.value, "'rules' must be a list of rules, not a \(Self.shape(list.value))")
                return []
            }
            guard !sequence.isEmpty else {
                problem(list.value, "'rules' is empty: nothing could be approved (write one rule with approve: never to approve nothing)")
                return []
            }
            var rules: [ApprovalRule] = []
            var names: [String: SourceLocation] = [:]
            for (position, node) in sequence.enumerated() {
                // Names are checked for duplicates even in rules with other problems.
                if case .mapping(let mapping) = node, let nameNode = mapping["name"], case .scalar(let scalar) = nameNode {
                    if let first = names[scalar.string] {
                        problem(nameNode, "duplicate rule name '\(scalar.string)' (first at line \(first.line))")
                    } else {
                        names[scalar.string] = Self.location(nameNode)
                    }
                }
                guard let rule = rule(node, position: position + 1, defaults: defaults) else { continue }
                rules.append(rule)
            }
            return rules
        }

        mutating func rule(_ node: Node, position: Int, defaults: ApprovalPolicy) -> ApprovalRule? {
            let what = "rule \(position)"
            guard let fields = pairs(node, known: RulesFile.ruleKeys, what: what) else { return nil }
            var valid = true
            var name = ""
            if let field = fields["name"], let text = string(field.value, "'name'") {
                if text.trimmingCharacters(in: .whitespaces).isEmpty { problem(field.value, "'name' is empty"); valid = false }
                name = text
            } else {
                if fields["name"] == nil { problem(node, "\(what) has no 'name'") }
                valid = false
            }
            let label = name.isEmpty ? what : "rule '\(name)'"

            var patterns: [ResourcePattern] = []
            if let field = fields["resources"] {
                if case .sequence(let entries) = field.value, !entries.isEmpty {
                    for entry in entries {
                        if let pattern = resource(entry, rule: label) { patterns.append(pattern) } else { valid = false }
                    }
                } else {
                    problem(field.value, "'resources' of \(label) must be a non-empty list of {kind, id, labels}")
                    valid = false
                }
            } else {
                problem(node, "\(label) has no 'resources' (write [{kind: \"*\"}] for every resource)")
                valid = false
            }

            var approves = true
            if let field = fields["approve"] {
                switch string(field.value, "'approve'") {
                case "never": approves = false
                case "on_call", "on-call": approves = true
                case nil: valid = false
                case let other?:
                    problem(field.value, "'approve' of \(label) is '\(other)': expected 'never' or 'on_call' (the default)")
                    valid = false
                }
            }

            var schedules: [String] = []
            var scheduleLocations: [SourceLocation] = []
            if let field = fields["schedules"] {
                if case .sequence(let entries) = field.value, !entries.isEmpty {
                    for entry in entries {
                        guard let text = string(entry, "a schedule of \(label)") else { valid = false; continue }
                        let trimmed = text.trimmingCharacters(in: .whitespaces)
                        guard !trimmed.isEmpty else { problem(entry, "an empty schedule in \(label)"); valid = false; continue }
                        schedules.append(trimmed)
                        scheduleLocations.append(Self.location(entry))
                    }
                } else {
                    problem(field.value, "'schedules' of \(label) must be a non-empty list of schedule ids or names (omit it for every schedule)")
                    valid = false
                }
            }

            var level: Int?
            if let field = fields["max_escalation_level"] {
                if let text = string(field.value, "'max_escalation_level'"), let parsed = Int(text), parsed >= 1 {
                    level = parsed
                } else {
                    problem(field.value, "'max_escalation_level' of \(label) must be a whole number of 1 or more")
                    valid = false
                }
            }

            var maxDuration = defaults.maxDuration
            if let field = fields["max_duration"] {
                if let text = string(field.value, "'max_duration'"), let seconds = RulesFile.duration(text), seconds >= 1 {
                    maxDuration = seconds
                } else {
                    problem(field.value, "'max_duration' of \(label) must be a duration of a second or more, such as 2h, 90m or 1h30m")
                    valid = false
                }
            }
            if !approves {
                for key in ["schedules", "max_escalation_level", "max_duration"] where fields[key] != nil {
                    problem(fields[key]!.key, "'\(key)' means nothing in \(label), which never approves")
                    valid = false
                }
            }
            guard valid else { return nil }
            return ApprovalRule(name: name, resources: patterns, approves: approves, schedules: schedules, maxEscalationLevel: level,
                                maxDuration: maxDuration, location: Self.location(node), scheduleLocations: scheduleLocations)
        }

        mutating func resource(_ node: Node, rule: String) -> ResourcePattern? {
            let what = "a resource of \(rule)"
            guard let fields = pairs(node, known: RulesFile.resourceKeys, what: what) else { return nil }
            guard let kindField = fields["kind"] else {
                problem(node, "\(what) has no 'kind' (use \"*\" for any)")
                return nil
            }
            var valid = true
            let kind = glob(kindField.value, "kind")
            if kind == nil { valid = false }
            var id: Glob?
            if let field = fields["id"] {
                id = glob(field.value, "id")
                if id == nil { valid = false }
            }
            var labels: [(key: String, value: Glob)] = []
            if let field = fields["labels"] {
                if case .mapping(let mapping) = field.value {
                    for (key, value) in mapping {
                        guard let name = string(key, "a label name") else { valid = false; continue }
                        guard let pattern = glob(value, "label '\(name)'") else { valid = false; continue }
                        labels.append((name, pattern))
                    }
                } else {
                    problem(field.value, "'labels' of \(what) must be a mapping such as {env: prod}")
                    valid = false
                }
            }
            guard valid, let kind else { return nil }
            return ResourcePattern(kind: kind, id: id, labels: labels)
        }
    }
}
