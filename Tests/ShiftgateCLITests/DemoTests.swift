import Foundation
import Testing
import TestSupport

/// The newcomer's first command: the demo shows approvals through both kinds of schedule, a refusal
/// and a drift report.
@Suite struct DemoTests {
    @Test func theReadmeOpensWithTheTwoCommands() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let commands = readme.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("swift ") }
        #expect(commands.first?.hasPrefix("swift run -c release shiftgate demo") == true)
        #expect(commands.dropFirst().first?.hasPrefix("swift test") == true)
    }

    @Test func theDemoShowsAnApprovalARefusalAndDrift() async throws {
        let directory = try TemporaryDirectory("shiftgate-demo")
        defer { directory.cleanup() }
        let database = directory.path("shiftgate-demo.sqlite")
        let result = try await run(["demo", "--database", database], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("APPROVED for"))
        // Both kinds of schedule, and two people on call at once in a shift-based one, both approved.
        #expect(result.stdout.contains("on call in a layer-based schedule): APPROVED for"))
        #expect(result.stdout.contains("on call in a shift-based (v3) schedule): APPROVED for"))
        #expect(result.stdout.contains("Two people on call at once in"))
        #expect(result.stdout.components(separatedBy: "one of the pair): APPROVED for").count == 3)
        #expect(result.stdout.contains("layer-based → shift-based (v3), same id"))
        #expect(result.stdout.contains("no approval (not on call)"))
        #expect(result.stdout.contains("Drift from snapshot 1 to snapshot 2"))
        #expect(result.stdout.contains("renamed"))
        #expect(result.stdout.contains("override added"))
        #expect(FileManager.default.fileExists(atPath: database))
        let status = try await run(["status", "--database", database])
        #expect(status.status == 0)
        #expect(status.stdout.contains("snapshot 2"))
    }
}
