import Foundation
import Testing
import TestSupport
@testable import shiftgate

/// `--version` and the shell completion scripts the README documents, from the built binary.
@Suite struct VersionAndCompletionTests {
    @Test func versionPrintsTheOneVersion() async throws {
        let result = try await run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == ShiftgateVersion.current + "\n")
        #expect(ShiftgateVersion.current.range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil)
    }

    @Test(arguments: [("bash", "-F _shiftgate shiftgate"), ("zsh", "#compdef shiftgate"), ("fish", "complete -c 'shiftgate'")])
    func completionScriptsCoverTheCommandsAndFlags(shell: String, marker: String) async throws {
        let result = try await run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(marker), "\(result.stdout.prefix(300))")
        for word in ["sync", "serve", "check", "audit", "max-staleness", "resource", "outcome"] {
            #expect(result.stdout.contains(word), "\(shell): \(word)")
        }
    }
}
