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
    public static let topKeys = ["rules", "targets", "grants"]
    public static let targetKeys = ["kind", "url", "password_file", "password_env", "user", "map_file", "command", "timeout"]
    public static let grantKeys = ["name", "schedules", "max_escalation_level", "target", "group", "lead", "grace", "exclusive", "on_stale"]
    /// The longest `timeout` a target may have, and the longest `lead` or `grace` a grant may have:
    /// past these a value is more likely a slip than a wish.
    public static let longestTargetTimeout: TimeInterval = 600
    public static let longestLeadOrGrace: TimeInterval = 86_400

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
        let sections = reader.file(root, defaults: defaults)
        guard reader.problems.isEmpty else {
            let ordered = reader.problems.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
            throw RulesFileError(file: file, problems: ordered)
        }
        return RuleSet(rules: sections.rules, windowBefore: defaults.windowBefore, windowAfter: defaults.windowAfter, source: file,
                       targets: sections.targets, grants: sections.grants)
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

        /// The whole file: `rules:`, `targets:` and `grants:`, each optional, but a file needs `rules:`
        /// or `grants:` (or it would do nothing).
        mutating func file(_ root: Node?, defaults: ApprovalPolicy) -> (rules: [ApprovalRule], targets: [GrantTarget], grants: [GrantRule]) {
            guard let root else {
                problem(nil, "the file is empty: expected a top-level 'rules:' list")
                return ([], [], [])
            }
            guard let top = pairs(root, known: RulesFile.topKeys, what: "the file") else { return ([], [], []) }
            guard top["rules"] != nil || top["grants"] != nil else {
                problem(root, "expected a top-level 'rules:' list")
                return ([], [], [])
            }
            let rules = top["rules"].map { self.rules($0.value, defaults: defaults) } ?? []
            let targets = top["targets"].map { self.targets($0.value) } ?? []
            let grants = top["grants"].map { self.grants($0.value, declared: Self.targetNames(top["targets"]?.value)) } ?? []
            return (rules, targets, grants)
        }

        /// The names `targets:` declares, valid or not (so that a grant naming a target with a
        /// problem of its own gets no second, misleading one).
        static func targetNames(_ node: Node?) -> Set<String> {
            guard case .mapping(let mapping)? = node else { return [] }
            return Set(mapping.compactMap { key, _ in if case .scalar(let scalar) = key { scalar.string } else { nil } })
        }

        mutating func rules(_ list: Node, defaults: ApprovalPolicy) -> [ApprovalRule] {
            let list = (key: list, value: list)
            guard case .sequence(let sequence) = list.value else {
                problem(list.value, "'rules' must be a list of rules, not a \(Self.shape(list.value))")
                return []
            }
            guard !sequence.isEmpty else {
                problem(list.value, "'rules' is empty: nothing could be approved (write one rule with approve: never to approve nothing)")
                return []
            }
            checkUniqueNames(sequence, of: "rule")
            return sequence.enumerated().compactMap { position, node in rule(node, position: position + 1, defaults: defaults) }
        }

        mutating func rule(_ node: Node, position: Int, defaults: ApprovalPolicy) -> ApprovalRule? {
            let what = "rule \(position)"
            guard let fields = pairs(node, known: RulesFile.ruleKeys, what: what) else { return nil }
            var valid = true
            let name = required(fields, "name", of: node, what: what, valid: &valid)
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
                (schedules, scheduleLocations) = scheduleList(field.value, of: label, hint: " (omit it for every schedule)", valid: &valid)
            }
            let level = escalationLevel(fields, of: label, valid: &valid)

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

        /// Names are checked for duplicates even in entries with other problems.
        mutating func checkUniqueNames(_ entries: Node.Sequence, of kind: String) {
            var names: [String: SourceLocation] = [:]
            for entry in entries {
                guard case .mapping(let mapping) = entry, let nameNode = mapping["name"], case .scalar(let scalar) = nameNode else { continue }
                if let first = names[scalar.string] {
                    problem(nameNode, "duplicate \(kind) name '\(scalar.string)' (first at line \(first.line))")
                } else {
                    names[scalar.string] = Self.location(nameNode)
                }
            }
        }

        /// A key that must be there with a value that is not blank; "" (and `valid` false) otherwise.
        mutating func required(_ fields: [String: (key: Node, value: Node)], _ key: String, of node: Node, what: String, valid: inout Bool) -> String {
            guard let field = fields[key] else {
                problem(node, "\(what) has no '\(key)'")
                valid = false
                return ""
            }
            guard let text = string(field.value, "'\(key)'") else { valid = false; return "" }
            if text.trimmingCharacters(in: .whitespaces).isEmpty { problem(field.value, "'\(key)' is empty"); valid = false }
            return text
        }

        /// `schedules:` of a rule or grant: a non-empty list of ids or names, each with its place.
        mutating func scheduleList(_ node: Node, of label: String, hint: String, valid: inout Bool) -> ([String], [SourceLocation]) {
            guard case .sequence(let entries) = node, !entries.isEmpty else {
                problem(node, "'schedules' of \(label) must be a non-empty list of schedule ids or names\(hint)")
                valid = false
                return ([], [])
            }
            var schedules: [String] = []
            var locations: [SourceLocation] = []
            for entry in entries {
                guard let text = string(entry, "a schedule of \(label)") else { valid = false; continue }
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                guard !trimmed.isEmpty else { problem(entry, "an empty schedule in \(label)"); valid = false; continue }
                schedules.append(trimmed)
                locations.append(Self.location(entry))
            }
            return (schedules, locations)
        }

        /// `max_escalation_level:` of a rule or grant: nil when absent, else a whole number of 1 or more.
        mutating func escalationLevel(_ fields: [String: (key: Node, value: Node)], of label: String, valid: inout Bool) -> Int? {
            guard let field = fields["max_escalation_level"] else { return nil }
            if let text = string(field.value, "'max_escalation_level'"), let parsed = Int(text), parsed >= 1 { return parsed }
            problem(field.value, "'max_escalation_level' of \(label) must be a whole number of 1 or more")
            valid = false
            return nil
        }

        /// `targets:`: a mapping from each target's name to its settings.
        mutating func targets(_ node: Node) -> [GrantTarget] {
            guard case .mapping(let mapping) = node else {
                problem(node, "'targets' must be a mapping from a target's name to its settings, not a \(Self.shape(node))")
                return []
            }
            guard !mapping.isEmpty else {
                problem(node, "'targets' is empty: write at least one target, or leave the section out")
                return []
            }
            var targets: [GrantTarget] = []
            for (key, value) in mapping {
                guard let name = string(key, "a target's name") else { continue }
                guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { problem(key, "a target's name is empty"); continue }
                if let target = target(value, name: name, at: key) { targets.append(target) }
            }
            return targets
        }

        mutating func target(_ node: Node, name: String, at key: Node) -> GrantTarget? {
            let label = "target '\(name)'"
            guard let fields = pairs(node, known: RulesFile.targetKeys, what: label) else { return nil }
            guard let kindField = fields["kind"] else {
                problem(node, "\(label) has no 'kind' (one of: \(Self.builtKinds))")
                return nil
            }
            guard let kindText = string(kindField.value, "'kind'") else { return nil }
            guard let kind = GrantTarget.Kind(rawValue: kindText) else {
                problem(kindField.value, "unknown kind '\(kindText)' of \(label) (known: \(Self.builtKinds))")
                return nil
            }
            guard kind.isBuilt else {
                problem(kindField.value, "kind '\(kindText)' of \(label) is not built yet (known: \(Self.builtKinds))")
                return nil
            }
            var valid = true
            // Keys that belong to another kind are refused, not ignored: they would do nothing.
            let kindKeys: [GrantTarget.Kind: [String]] = [.postgres: ["url", "password_file", "password_env"], .exec: ["command"]]
            for (key, field) in fields where kindKeys.contains(where: { $0.key != kind && $0.value.contains(key) }) && kindKeys[kind]?.contains(key) != true {
                problem(field.key, "'\(key)' means nothing for \(label), a \(kind.rawValue) target")
                valid = false
            }

            var url: String?
            if let field = fields["url"], kind == .postgres {
                if let text = string(field.value, "'url'") {
                    if let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? ""),
                       let host = components.host, !host.isEmpty {
                        if components.password != nil {
                            problem(field.value, "the url of \(label) holds a password: keep it out of the file (password_file or password_env)")
                            valid = false
                        }
                        url = text
                    } else {
                        problem(field.value, "the url of \(label) must be postgres://USER@HOST:PORT/DATABASE")
                        valid = false
                    }
                } else { valid = false }
            } else if kind == .postgres {
                problem(node, "\(label) has no 'url' (postgres://USER@HOST:PORT/DATABASE)")
                valid = false
            }

            var credential: GrantTarget.Credential?
            if let file = fields["password_file"], let env = fields["password_env"] {
                problem(env.key, "\(label) has both 'password_file' (line \(Self.location(file.key).line)) and 'password_env': keep one")
                valid = false
            } else if let field = fields["password_file"], kind == .postgres {
                if let text = string(field.value, "'password_file'"), !text.trimmingCharacters(in: .whitespaces).isEmpty {
                    credential = .file(text)
                } else {
                    if case .scalar = field.value { problem(field.value, "'password_file' of \(label) is empty") }
                    valid = false
                }
            } else if let field = fields["password_env"], kind == .postgres {
                if let text = string(field.value, "'password_env'"), Self.isVariableName(text) {
                    credential = .environment(text)
                } else {
                    if case .scalar = field.value { problem(field.value, "'password_env' of \(label) must be the name of an environment variable, such as PROD_DB_PASSWORD") }
                    valid = false
                }
            }

            var naming = UserNaming.default
            if let user = fields["user"], let map = fields["map_file"] {
                problem(map.key, "\(label) has both 'user' (line \(Self.location(user.key).line)) and 'map_file': keep one")
                valid = false
            } else if let field = fields["user"] {
                if let text = string(field.value, "'user'") {
                    if let unknown = UserNaming.unknownPlaceholders(in: text) {
                        if !unknown.isEmpty {
                            problem(field.value, "'user' of \(label) uses {\(unknown[0])}: known are \(UserNaming.placeholders.map { "{\($0)}" }.joined(separator: ", "))")
                            valid = false
                        } else if !text.contains("{") {
                            problem(field.value, "'user' of \(label) has no placeholder: every person would get the same name")
                            valid = false
                        }
                    } else {
                        problem(field.value, "'user' of \(label) has a '{' or '}' that does not pair up")
                        valid = false
                    }
                    naming = .template(text)
                } else { valid = false }
            } else if let field = fields["map_file"] {
                if let text = string(field.value, "'map_file'"), !text.trimmingCharacters(in: .whitespaces).isEmpty {
                    naming = .mapFile(text)
                } else {
                    if case .scalar = field.value { problem(field.value, "'map_file' of \(label) is empty") }
                    valid = false
                }
            }

            var command: [String] = []
            if let field = fields["command"], kind == .exec {
                if case .sequence(let entries) = field.value, !entries.isEmpty {
                    for entry in entries {
                        guard let text = string(entry, "an argument of 'command'") else { valid = false; continue }
                        command.append(text)
                    }
                    if command.first?.trimmingCharacters(in: .whitespaces).isEmpty == true {
                        problem(entries[0], "the program of \(label)'s 'command' is empty")
                        valid = false
                    }
                } else {
                    problem(field.value, "'command' of \(label) must be a list: the program, then its arguments, such as [/usr/local/bin/oncall-groups, --verbose]")
                    valid = false
                }
            } else if kind == .exec {
                problem(node, "\(label) has no 'command' (the program to run, as a list such as [/usr/local/bin/oncall-groups])")
                valid = false
            }

            var timeout = GrantTarget.defaultTimeout
            if let field = fields["timeout"] {
                if let text = string(field.value, "'timeout'"), let seconds = RulesFile.duration(text), seconds >= 1, seconds <= RulesFile.longestTargetTimeout {
                    timeout = seconds
                } else {
                    problem(field.value, "'timeout' of \(label) must be a duration from 1s to \(Int(RulesFile.longestTargetTimeout / 60))m, such as 30s")
                    valid = false
                }
            }
            guard valid else { return nil }
            return GrantTarget(name: name, kind: kind, url: url, credential: credential, naming: naming, command: command, timeout: timeout,
                               location: Self.location(key))
        }

        static var builtKinds: String { GrantTarget.Kind.allCases.filter(\.isBuilt).map(\.rawValue).joined(separator: ", ") }

        static func isVariableName(_ text: String) -> Bool {
            guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }

        /// `grants:`: a list of grants, each naming a target of `targets:`.
        mutating func grants(_ node: Node, declared: Set<String>) -> [GrantRule] {
            guard case .sequence(let sequence) = node else {
                problem(node, "'grants' must be a list of grants, not a \(Self.shape(node))")
                return []
            }
            guard !sequence.isEmpty else {
                problem(node, "'grants' is empty: write at least one grant, or leave the section out")
                return []
            }
            checkUniqueNames(sequence, of: "grant")
            let grants = sequence.enumerated().compactMap { position, entry in grant(entry, position: position + 1, declared: declared) }
            // Grants sharing a group must agree on whether it is exclusive: one would remove the
            // people the other leaves alone.
            var exclusiveByGroup: [String: GrantRule] = [:]
            for grant in grants {
                let key = "\(grant.target)\u{0}\(grant.group)"
                if let first = exclusiveByGroup[key], first.exclusive != grant.exclusive {
                    problems.append(RulesProblem(grant.location ?? SourceLocation(line: 1, column: 1),
                            "grant '\(grant.name)' and grant '\(first.name)' (line \(first.location?.line ?? 1)) share group '\(grant.group)' of target '\(grant.target)' but not 'exclusive': make them agree"))
                } else if exclusiveByGroup[key] == nil {
                    exclusiveByGroup[key] = grant
                }
            }
            return grants
        }

        mutating func grant(_ node: Node, position: Int, declared: Set<String>) -> GrantRule? {
            let what = "grant \(position)"
            guard let fields = pairs(node, known: RulesFile.grantKeys, what: what) else { return nil }
            var valid = true
            let name = required(fields, "name", of: node, what: what, valid: &valid)
            let label = name.isEmpty ? what : "grant '\(name)'"

            var schedules: [String] = []
            var scheduleLocations: [SourceLocation] = []
            if let field = fields["schedules"] {
                (schedules, scheduleLocations) = scheduleList(field.value, of: label, hint: "", valid: &valid)
            } else {
                problem(node, "\(label) has no 'schedules' (the schedule ids or names whose on-call people belong in the group)")
                valid = false
            }
            let level = escalationLevel(fields, of: label, valid: &valid)

            var target = ""
            if let field = fields["target"], let text = string(field.value, "'target'") {
                target = text
                if !declared.contains(text) {
                    let known = declared.sorted()
                    problem(field.value, "\(label) names target '\(text)', which 'targets:' does not declare" + (known.isEmpty ? "" : " (declared: \(known.joined(separator: ", ")))"))
                    valid = false
                }
            } else {
                if fields["target"] == nil { problem(node, "\(label) has no 'target' (a name from 'targets:')") }
                valid = false
            }

            var group = ""
            if let field = fields["group"], let text = string(field.value, "'group'") {
                if text.trimmingCharacters(in: .whitespaces).isEmpty { problem(field.value, "'group' of \(label) is empty"); valid = false }
                group = text
            } else {
                if fields["group"] == nil { problem(node, "\(label) has no 'group' (the group, role or team in the target)") }
                valid = false
            }

            func span(_ key: String) -> TimeInterval {
                guard let field = fields[key] else { return 0 }
                if let text = string(field.value, "'\(key)'"), let seconds = RulesFile.duration(text), seconds <= RulesFile.longestLeadOrGrace,
                   seconds == seconds.rounded() {
                    return seconds
                }
                problem(field.value, "'\(key)' of \(label) must be a whole number of seconds up to 1d, such as 5m or 15m")
                valid = false
                return 0
            }
            let lead = span("lead")
            let grace = span("grace")

            var exclusive = false
            if let field = fields["exclusive"] {
                switch string(field.value, "'exclusive'") {
                case "true": exclusive = true
                case "false": exclusive = false
                case nil: valid = false
                case let other?:
                    problem(field.value, "'exclusive' of \(label) is '\(other)': expected true or false (the default)")
                    valid = false
                }
            }

            var onStale = StaleAction.revoke
            if let field = fields["on_stale"] {
                switch string(field.value, "'on_stale'") {
                case let text? where StaleAction(rawValue: text) != nil: onStale = StaleAction(rawValue: text)!
                case nil: valid = false
                case let other?:
                    problem(field.value, "'on_stale' of \(label) is '\(other)': expected revoke (the default) or keep")
                    valid = false
                }
            }
            guard valid else { return nil }
            return GrantRule(name: name, schedules: schedules, maxEscalationLevel: level, target: target, group: group, lead: lead, grace: grace,
                             exclusive: exclusive, onStale: onStale, location: Self.location(node), scheduleLocations: scheduleLocations)
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
