import ArgumentParser
import Foundation
import Testing
import TestSupport
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
}
