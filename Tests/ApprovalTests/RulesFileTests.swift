import Foundation
import Testing
import TestSupport
@testable import Approval

/// The rules file reader: what it accepts, and every error with its line and column.
@Suite struct RulesFileTests {
    func parse(_ text: String) throws(RulesFileError) -> RuleSet {
        try RulesFile.parse(text, file: "rules.yaml", defaults: ApprovalPolicy(maxDuration: 4 * 3600, windowBefore: 30, windowAfter: 120))
    }

    /// The issue's own example, read as written.
    @Test func readsTheIssuesExample() throws {
        let rules = try parse("""
            rules:
              - name: prod-db-never                 # unique; shown in claims' reasons, logs and audit
                resources:                          # this rule applies to a resource matching ANY entry
                  - kind: "postgres.*"              # glob on the resource's kind
                    id: "*prod*"                    # glob on its id (optional)
                    labels: {env: prod}             # all must match (optional)
                approve: never
              - name: prod-aws
                resources:
                  - kind: aws.iam.v1.Role
                    id: "arn:aws:iam::*:role/prod-*"
                schedules: [PSRE001, "SRE Secondary"]   # ids or names; omitted = every schedule
                max_escalation_level: 1                 # optional
                max_duration: 2h                        # optional; default AUTO_APPROVAL_DURATION
              - name: everything-else
                resources: [{kind: "*"}]
            """)
        #expect(rules.rules.map(\.name) == ["prod-db-never", "prod-aws", "everything-else"])
        #expect(rules.rules.map(\.approves) == [false, true, true])
        #expect(rules.rules[1].schedules == ["PSRE001", "SRE Secondary"])
        #expect(rules.rules[1].maxEscalationLevel == 1 && rules.rules[1].maxDuration == 7200)
        #expect(rules.rules[2].maxDuration == 4 * 3600)
        #expect(rules.windowBefore == 30 && rules.windowAfter == 120 && rules.source == "rules.yaml")
        #expect(rules.rules[0].location == SourceLocation(line: 2, column: 5))
        #expect(rules.ruleIndex(for: ResourceRef(kind: "postgres.db", id: "a-prod-b", labels: ["env": "prod"])) == 0)
        #expect(rules.ruleIndex(for: ResourceRef(kind: "postgres.db", id: "a-prod-b", labels: ["env": "dev"])) == 2)
        #expect(rules.ruleIndex(for: ResourceRef(kind: "aws.iam.v1.Role", id: "arn:aws:iam::1:role/prod-x")) == 1)
    }

    /// deploy/'s example is the README's worked example, and must stay valid.
    @Test func theDeployExampleIsValid() throws {
        let path = repositoryRoot.appendingPathComponent("deploy/rules.example.yaml").path
        let rules = try RulesFile.load(path: path, defaults: ApprovalPolicy())
        #expect(rules.rules.count >= 3)
        #expect(rules.rules.contains { !$0.approves })
        #expect(rules.rules.contains { $0.maxEscalationLevel == 1 })
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var label: String
        var text: String
        var line: Int
        var column: Int
        var says: String
        var testDescription: String { label }
    }

    static let bad: [Bad] = [
        Bad(label: "an unknown rule key", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    approves: never\n", line: 4, column: 5, says: "unknown key 'approves'"),
        Bad(label: "an unknown resource key", text: "rules:\n  - name: a\n    resources:\n      - kind: x\n        ids: y\n", line: 5, column: 9, says: "unknown key 'ids'"),
        Bad(label: "an unknown top-level key", text: "rule:\n  - name: a\n", line: 1, column: 1, says: "unknown key 'rule'"),
        Bad(label: "an unclosed class in a glob", text: "rules:\n  - name: a\n    resources: [{kind: \"pg.[ab\"}]\n", line: 3, column: 24, says: "never closed"),
        Bad(label: "a backwards range in a glob", text: "rules:\n  - name: a\n    resources: [{kind: x, id: \"[z-a]\"}]\n", line: 3, column: 31, says: "runs backwards"),
        Bad(label: "a duplicate name", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n  - name: a\n    resources: [{kind: y}]\n", line: 4, column: 11, says: "duplicate rule name 'a' (first at line 2)"),
        Bad(label: "a bad duration", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    max_duration: two hours\n", line: 4, column: 19, says: "'max_duration'"),
        Bad(label: "a zero duration", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    max_duration: 0s\n", line: 4, column: 19, says: "'max_duration'"),
        Bad(label: "a bad escalation level", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    max_escalation_level: 0\n", line: 4, column: 27, says: "max_escalation_level"),
        Bad(label: "approve neither never nor on_call", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    approve: maybe\n", line: 4, column: 14, says: "'approve'"),
        Bad(label: "limits on a never rule", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    approve: never\n    max_duration: 1h\n", line: 5, column: 5, says: "never approves"),
        Bad(label: "no resources", text: "rules:\n  - name: a\n    schedules: [X]\n", line: 2, column: 5, says: "no 'resources'"),
        Bad(label: "a resource without a kind", text: "rules:\n  - name: a\n    resources: [{id: x}]\n", line: 3, column: 17, says: "no 'kind'"),
        Bad(label: "no name", text: "rules:\n  - resources: [{kind: x}]\n", line: 2, column: 5, says: "no 'name'"),
        Bad(label: "schedules not a list", text: "rules:\n  - name: a\n    resources: [{kind: x}]\n    schedules: Primary\n", line: 4, column: 16, says: "'schedules'"),
        Bad(label: "labels not a mapping", text: "rules:\n  - name: a\n    resources: [{kind: x, labels: [a]}]\n", line: 3, column: 35, says: "'labels'"),
        Bad(label: "an empty rules list", text: "rules: []\n", line: 1, column: 8, says: "empty"),
        Bad(label: "an empty file", text: "", line: 1, column: 1, says: "empty"),
        Bad(label: "YAML syntax: an unclosed flow sequence", text: "rules:\n  - name: [a\n", line: 3, column: 1, says: "invalid YAML"),
        Bad(label: "YAML syntax: a tab where indentation goes", text: "rules:\n\t- name: a\n", line: 2, column: 1, says: "invalid YAML"),
        Bad(label: "YAML syntax: an unterminated quote", text: "rules:\n  - name: \"a\n", line: 3, column: 1, says: "invalid YAML"),
    ]

    @Test(arguments: bad)
    func refusesWithTheLineAndColumn(_ check: Bad) {
        do {
            _ = try parse(check.text)
            Issue.record("accepted: \(check.text)")
        } catch {
            let problem = error.problems.first { $0.message.contains(check.says) }
            #expect(problem != nil, "\(error.description)")
            #expect(problem?.location == SourceLocation(line: check.line, column: check.column), "\(error.description)")
            #expect(error.description.hasPrefix("rules.yaml:"))
        }
    }

    @Test func reportsEveryProblemInFileOrder() {
        do {
            _ = try parse("rules:\n  - name: a\n    resources: [{kind: \"[\"}]\n    colour: red\n  - name: b\n    resources: [{kind: y}]\n    max_duration: soon\n")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map(\.location.line) == [3, 4, 7])
            #expect(error.description.split(separator: "\n").allSatisfy { $0.hasPrefix("rules.yaml:") })
        }
    }

    @Test(arguments: [
        ("*", "anything", true), ("*", "", true), ("pg", "pg", true), ("pg", "pgx", false), ("postgres.*", "postgres.db", true),
        ("postgres.*", "postgres", false), ("*prod*", "a-prod-b", true), ("*prod*", "a-PROD-b", false), ("*-readonly", "db-readonly", true),
        ("web-?", "web-1", true), ("web-?", "web-12", false), ("web-[0-9]", "web-7", true), ("web-[0-9]", "web-x", false),
        ("web-[!0-9]", "web-x", true), ("web-[!0-9]", "web-7", false), ("a*b*c", "axxbyyc", true), ("a*b*c", "axxbyy", false),
        ("arn:aws:iam::*:role/prod-*", "arn:aws:iam::123:role/prod-admin", true), ("arn:aws:iam::*:role/prod-*", "arn:aws:iam::123:role/dev-admin", false),
        ("\\*", "*", true), ("\\*", "x", false), ("é?", "éü", true), ("[]]", "]", true), ("*.?", "a.b", true), ("*.?", "a.", false),
    ])
    func globs(pattern: String, text: String, matches: Bool) throws {
        #expect(try Glob(pattern).matches(text) == matches)
    }

    @Test(arguments: ["[", "a[b", "x\\", "[z-a]"])
    func badGlobs(pattern: String) {
        #expect(throws: Glob.SyntaxError.self) { _ = try Glob(pattern) }
    }

    @Test(arguments: [("2h", 7200.0), ("90m", 5400.0), ("1h30m", 5400.0), ("45s", 45.0), ("1d", 86_400.0)])
    func durations(text: String, seconds: Double) {
        #expect(RulesFile.duration(text) == seconds)
    }

    @Test(arguments: ["", "h", "2", "2x", "-1h", "1h 30"])
    func badDurations(text: String) {
        #expect(RulesFile.duration(text) == nil)
    }
}

/// The reader against mangled files: mutations of a valid file (bytes flipped, lines dropped,
/// duplicated or swapped, indentation changed, YAML punctuation inserted) and random bytes. Bounded;
/// every run either reads rules or fails with located problems, and never crashes.
@Suite struct RulesFileFuzzTests {
    static let valid = RulesDecisionTests.rulesText

    static let punctuation: [String] = ["[", "]", "{", "}", ":", "- ", "\"", "'", "&a ", "*a", "!!str ", "#", "\t", "\n", "  ", "? ", "|", ">", "%", "@", "`", "\u{FEFF}", "\u{0}", "é"]

    func mutate(_ text: String, _ random: inout SeededRandom) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for _ in 0...random.below(3) {
            guard !lines.isEmpty else { break }
            let line = random.below(lines.count)
            switch random.below(6) {
            case 0: lines.remove(at: line)
            case 1: lines.insert(lines[line], at: line)
            case 2: lines.swapAt(line, random.below(lines.count))
            case 3: lines[line] = String(repeating: " ", count: random.below(8)) + lines[line].trimmingCharacters(in: .whitespaces)
            case 4:
                var characters = Array(lines[line])
                characters.insert(contentsOf: random.pick(Self.punctuation), at: random.below(characters.count + 1))
                lines[line] = String(characters)
            default:
                var characters = Array(lines[line])
                if !characters.isEmpty { characters.remove(at: random.below(characters.count)) }
                lines[line] = String(characters)
            }
        }
        return lines.joined(separator: "\n")
    }

    func check(_ data: Data) -> Bool {
        do {
            let rules = try RulesFile.parse(data, file: "fuzz.yaml", defaults: ApprovalPolicy())
            #expect(!rules.rules.isEmpty)
            return true
        } catch {
            #expect(!error.problems.isEmpty)
            let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            for problem in error.problems {
                #expect(problem.location.line >= 1 && problem.location.line <= lines + 1, "\(problem)")
                #expect(problem.location.column >= 1, "\(problem)")
                #expect(error.description.contains("fuzz.yaml:\(problem.location.line):\(problem.location.column): "))
            }
            return false
        }
    }

    @Test func mutationsOfAValidFileAreReadOrRefusedWithALocation() {
        var random = SeededRandom(seed: seed(0x5EED_0018))
        var accepted = 0
        var refused = 0
        for _ in 0..<1500 {
            if check(Data(mutate(Self.valid, &random).utf8)) { accepted += 1 } else { refused += 1 }
        }
        // Both sides exercised: the mutations are neither all harmless nor all fatal.
        #expect(accepted > 20 && refused > 200, "accepted \(accepted), refused \(refused)")
    }

    @Test func randomBytesAreRefusedWithALocation() {
        var random = SeededRandom(seed: seed(0xB17E_0018))
        for _ in 0..<1000 {
            let count = random.below(200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            // Half of them printable-ish, so they get past UTF-8 to the YAML reader.
            if random.chance(0.5) { bytes = bytes.map { 32 + $0 % 95 } }
            _ = check(Data(bytes))
        }
    }
}
