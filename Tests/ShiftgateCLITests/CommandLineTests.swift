import ArgumentParser
import Foundation
import Testing
import TestSupport
import Timestamps
@testable import shiftgate

/// Every command line the README and the commands' own help show must parse with today's flags.
@Suite struct CommandLineTests {
    /// `shiftgate …` invocations from the README's code and inline code, and the help examples.
    func documentedCommandLines() throws -> [[String]] {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var texts: [String] = []
        for line in readme.split(separator: "\n") {
            // Inline code spans and code-block lines alike.
            let pieces = line.contains("`") ? line.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) } : [String(line)]
            texts += pieces
        }
        let helps = Shiftgate.configuration.subcommands.map { $0.configuration.discussion }
        for help in helps { texts += help.split(separator: "\n").map(String.init) }

        var commandLines: [[String]] = []
        for text in texts {
            guard let range = text.range(of: "shiftgate ") else { continue }
            var words = text[range.upperBound...].split(separator: "#")[0].split(separator: " ").map(String.init)
            if let pipe = words.firstIndex(where: { $0 == "|" || $0 == "&&" }) { words = Array(words[..<pipe]) }
            guard let command = words.first, Shiftgate.configuration.subcommands.contains(where: { $0.configuration.commandName == command }) else { continue }
            // Placeholders in the docs stand for values.
            words = words.map { word in
                switch word {
                case "EMAIL": "someone@example.com"
                case "D": "24h"
                case "ID": "1"
                case "TIME": "2026-11-26T09:00:00Z"
                case "FILE": "/tmp/out"
                default: word
                }
            }
            if words.contains(where: { $0.contains("\\|") || $0.hasPrefix("[") || $0 == "COMMAND" }) { continue }
            commandLines.append(words)
        }
        return commandLines
    }

    /// The bundle runs at most 4 tests at once unless told otherwise (Tests/TestEnvironment/TestEnvironment.c):
    /// every test then has the machine it was written for.
    @Test func theBundleRunsFourTestsAtOnceUnlessToldOtherwise() {
        let asked = ProcessInfo.processInfo.environment["SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH"]
        #expect(asked != nil, "the constructor sets it before the test library starts")
        #expect(testParallelizationWidth == Int(asked ?? "") ?? -1)
    }

    @Test func everyDocumentedCommandLineParses() throws {
        let lines = try documentedCommandLines()
        #expect(lines.count >= 15)
        for words in lines {
            #expect(throws: Never.self, "shiftgate \(words.joined(separator: " "))") { _ = try Shiftgate.parseAsRoot(words) }
        }
    }

    @Test(arguments: [["sync", "--lookback", "soon"], ["sync", "--concurrency", "0"], ["serve", "--port", "70000"],
                      ["drift", "--from", "1", "--since", "1d"], ["check"], ["status", "--format", "yaml"]])
    func badCommandLinesAreRefused(words: [String]) {
        #expect(throws: (any Error).self) { _ = try Shiftgate.parseAsRoot(words) }
    }

    /// `main` parses the command line, then hands Swift concurrency to SwiftNIO's event loops only
    /// when the command is `serve`: not for `serve --help` (ArgumentParser's help command), and a bad
    /// line never gets that far (`badCommandLinesAreRefused`).
    @Test func onlyServeTakesOverConcurrency() throws {
        #expect(ServeCommand.takesOverConcurrency(try Shiftgate.parseAsRoot(["serve", "--port", "0"])))
        for words in [["sync", "--every", "5m"], ["demo"], ["check", "someone@example.com"], ["status"], ["serve", "--help"], ["help", "serve"], []] {
            #expect(!ServeCommand.takesOverConcurrency(try Shiftgate.parseAsRoot(words)), "shiftgate \(words.joined(separator: " "))")
        }
    }

    @Test(arguments: [("90s", 90.0), ("15m", 900.0), ("6h", 21_600.0), ("7d", 604_800.0), ("1h30m", 5400.0)])
    func durations(text: String, seconds: Double) {
        #expect(CLIDuration(argument: text)?.seconds == seconds)
    }

    // MARK: durations, bounds and one-line errors (#26 items 4, 6, 16)

    /// Odd durations, typed and generated (seeded): each is a span of at most `HumanDuration.maximum`
    /// that the commands can turn into seconds, nanoseconds and text, or a refusal with its reason.
    /// Never a trap: `audit --since 999999999999999d` died with SIGILL.
    @Test func oddDurationsAreReadWithinTheBoundOrRefused() throws {
        var texts = [
            "999999999999999d", "9999999999999999d1s", "3650d1s", "522w", "1e300s", String(repeating: "9", count: 400) + "s",
            "3649d23h59m60s", "-5m", "5", "m", "", " ", "1.5.5h", ".h", "+5m", "nan", "infs", "0x10s", "١h", "5m-1s",
            "0s", "3650d", "521w", "1h30m", "1.5h", " 7d ",
        ]
        var random = SeededRandom(seed: seed(2606))
        let alphabet = Array("0123456789999.smhdw-+e ")
        for _ in 0..<2000 {
            texts.append(String((0..<(1 + random.below(22))).map { _ in random.pick(alphabet) }))
        }
        var accepted = 0
        for text in texts {
            do {
                let seconds = try HumanDuration.read(text)
                accepted += 1
                #expect(seconds >= 0 && seconds <= HumanDuration.maximum, "\(text.debugDescription)")
                // What the commands do with a span: dates, Unix seconds, a sleep in nanoseconds, text.
                #expect(Int64(exactly: Date().addingTimeInterval(-seconds).timeIntervalSince1970.rounded()) != nil)
                #expect(UInt64(exactly: (seconds * 1e9).rounded()) != nil)
                #expect(!CLIDuration(seconds: seconds).description.isEmpty)
                #expect(HumanDuration.parse(text) == seconds)
            } catch {
                #expect(HumanDuration.parse(text) == nil)
                #expect((try? CLIDuration.argument(text)) == nil)
            }
        }
        #expect(accepted > 10, "the generator should also make valid spans")
        #expect(throws: HumanDuration.Problem.tooLong) { try HumanDuration.read("9999999999999999d1s") }
        #expect(throws: HumanDuration.Problem.tooLong) { try HumanDuration.read("3650d1s") }
        #expect(throws: HumanDuration.Problem.notADuration) { try HumanDuration.read("-5m") }
        #expect(try HumanDuration.read("3650d") == HumanDuration.maximum)
    }

    /// Every duration option of every command refuses a span past the bound, naming the option and the reason.
    @Test(arguments: [
        ["audit", "--since"], ["drift", "--since"], ["status", "--max-staleness"], ["check", "a@example.com", "--max-staleness"],
        ["serve", "--max-staleness"], ["serve", "--max-clock-skew"], ["sync", "--lookback"], ["sync", "--horizon"],
        ["sync", "--timeout"], ["sync", "--every"], ["sync", "--full-every"],
    ])
    func everyDurationOptionRefusesAHugeValue(words: [String]) {
        for value in ["999999999999999d", "9999999999999999d1s", "3651d"] {
            do {
                _ = try Shiftgate.parseAsRoot(words + [value])
                Issue.record("shiftgate \((words + [value]).joined(separator: " ")) parsed")
            } catch {
                let message = Shiftgate.message(for: error)
                #expect(message.contains(words.last!) && message.contains("longer than 3650d"), "\(message)")
                #expect(Shiftgate.exitCode(for: error).rawValue == 64)
            }
        }
    }

    /// `serve` refuses protections switched off by a huge value: clock skew over 1h, staleness over 7d.
    @Test func serveBoundsItsProtections() throws {
        for words in [["serve", "--max-clock-skew", "61m"], ["serve", "--max-staleness", "7d1s"], ["check", "a@example.com", "--max-staleness", "8d"]] {
            #expect(throws: (any Error).self, "\(words)") { _ = try Shiftgate.parseAsRoot(words) }
        }
        let serve = try #require(try Shiftgate.parseAsRoot(["serve", "--max-clock-skew", "1h", "--max-staleness", "7d"]) as? ServeCommand)
        #expect(serve.maxClockSkew.seconds == ServeCommand.clockSkewBound && serve.maxStaleness.seconds == ServeCommand.stalenessBound)
    }

    /// What the built binary prints for configuration it refuses: exit 64 and exactly one line on
    /// stderr, naming the flag or variable, without ArgumentParser's usage banner.
    @Test(arguments: [
        (["audit", "--since", "999999999999999d"], [String: String](), "--since <since>': longer than 3650d"),
        (["drift", "--since", "9999999999999999d1s"], [:], "--since <since>': longer than 3650d"),
        (["serve", "--max-clock-skew", "999999999999999d", "--max-staleness", "999999999999999d"], ["INDENT_WEBHOOK_SECRET": "s"], "longer than 3650d"),
        (["serve", "--max-clock-skew", "2h"], ["INDENT_WEBHOOK_SECRET": "s"], "--max-clock-skew 2h is over 1h"),
        (["serve", "--max-staleness", "30d"], ["INDENT_WEBHOOK_SECRET": "s"], "--max-staleness 30d is over 7d"),
        (["sync", "--lookback", "soon"], [:], "--lookback <lookback>': not a duration"),
        (["sync", "--concurrency", "0"], [:], "--concurrency must be between 1 and 32"),
        (["sync", "--no-such-flag"], [:], "Unknown option '--no-such-flag'"),
        (["status"], ["LOG_LEVEL": "loud"], "LOG_LEVEL: 'loud' is not one of"),
        (["status", "--log-level", "loud"], [:], "--log-level: 'loud' is not one of"),
        (["check", "a@example.com"], ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": " , "], "AUTO_APPROVAL_PAGERDUTY_SCHEDULES: names no schedule"),
        (["check", "a@example.com"], ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": "\r\n"], "AUTO_APPROVAL_PAGERDUTY_SCHEDULES: names no schedule"),
        (["serve"], ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": ",", "INDENT_WEBHOOK_SECRET": "s"], "AUTO_APPROVAL_PAGERDUTY_SCHEDULES: names no schedule"),
        (["check", "a@example.com"], ["AUTO_APPROVAL_DURATION": "1e300"], "AUTO_APPROVAL_DURATION: '1e300' is over 8760 hours"),
    ])
    func refusedConfigurationIsOneLineAndExits64(words: [String], environment: [String: String], says: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        var env = environment
        env["SHIFTGATE_DATABASE"] = directory.path("cache.sqlite")
        let result = try await run(words, environment: env, timeout: 30)
        #expect(result.status == 64, "\(words): \(result.stderr)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(words): \(result.stderr)")
        #expect(lines.first?.hasPrefix("shiftgate: ") == true && result.stderr.contains(says), "\(words): \(result.stderr)")
        #expect(!result.stderr.contains("Usage:") && !result.stderr.contains("--help"))
        #expect(!FileManager.default.fileExists(atPath: directory.path("cache.sqlite")), "nothing was started")
    }

    /// `serve --help` names every route, and the bounds it enforces.
    @Test func serveHelpNamesTheRoutesAndBounds() async throws {
        // Help wraps its lines; compare with the spaces collapsed.
        func flat(_ output: ProcessOutput) -> String { output.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let help = try await run(["serve", "--help"], timeout: 30)
        #expect(help.status == 0)
        for text in ["/v1/oncall?email=", "/v1/oncall?schedule=", "/v1/decisions", "/readyz", "at most 1h", "at most 7d", "(default: 15m)", "(default: 5m)"] {
            #expect(flat(help).contains(text), "serve --help lacks \(text)")
        }
        let sync = try await run(["sync", "--help"], timeout: 30)
        for text in ["(default: 1d)", "(default: 7d)", "(default: 15m)", "(default: 1h)"] {
            #expect(flat(sync).contains(text), "sync --help lacks \(text)")
        }
    }

    /// The README's configuration table states the bounds the commands enforce.
    @Test func readmeStatesTheBounds() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| ") }
        func row(_ key: String) -> String { rows.first { $0.hasPrefix("| `\(key)`") }.map(String.init) ?? "" }
        #expect(row("--max-clock-skew").contains("at most `1h`"))
        #expect(row("--max-staleness").contains("at most `7d`"))
        #expect(row("AUTO_APPROVAL_DURATION").contains("at most 8760"))
        #expect(row("AUTO_APPROVAL_WINDOW_BEFORE").contains("at most 1440"))
        #expect(row("AUTO_APPROVAL_WINDOW_AFTER").contains("at most 1440"))
        #expect(row("AUTO_APPROVAL_PAGERDUTY_SCHEDULES").contains("names no schedule"))
        #expect(readme.contains("3650d"))
    }

    /// A CRLF env file: every variable's value loses whitespace, CR and LF at both ends, so the cache
    /// path, the log level and the rules file mean what was written (#26 item 2).
    @Test func variablesFromACRLFFileAreReadTrimmed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let status = try await run(["status"], environment: ["SHIFTGATE_DATABASE": directory.path("cache.sqlite") + "\r\n", "LOG_LEVEL": "debug\r"], timeout: 30)
        #expect(status.status == 1)
        #expect(status.stderr == "shiftgate: no cache at \(directory.path("cache.sqlite")): run `shiftgate sync` first (or pass --database / SHIFTGATE_DATABASE)\n",
                "\(status.stderr.debugDescription)")
        let rules = try RulesOptions.parse([])
        #expect(rules.path(environment: ["SHIFTGATE_RULES": " /etc/shiftgate/rules.yaml\r\n"]) == "/etc/shiftgate/rules.yaml")
        #expect(rules.path(environment: ["SHIFTGATE_RULES": "\r\n"]) == nil)
    }
}
