import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport
import OnCallStore
import PagerDutySimulator
#if canImport(Glibc)
import Glibc
#endif

/// `serve`, `check`, `audit` and `drift` as an operator runs them.
@Suite(.serialized) struct ServeCommandTests {
    /// A cache with two snapshots of the small account, the second after a rename and an override.
    func cacheWithTwoSnapshots(_ running: RunningSimulator, _ directory: TemporaryDirectory) async throws -> [String: String] {
        let env = ["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString, "SHIFTGATE_DATABASE": directory.path("cache.sqlite")]
        let first = try await run(["sync", "--quiet"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        running.simulator.updateAccount { account in
            account.schedules[0].name += " (renamed)"
        }
        let second = try await run(["sync", "--quiet"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        return env
    }

    @Test func checkExitsZeroOnCallOneOffCallTwoWithoutACache() async throws {
        try await withSimulator(.small()) { running, directory in
            let env = try await cacheWithTwoSnapshots(running, directory)
            // small(): Alice is on Primary from H until H+2h (H = now rounded down to the hour).
            let onCall = try await run(["check", "ALICE.NGUYEN@example.com"], environment: env)
            #expect(onCall.status == 0, "\(onCall.stdout)\(onCall.stderr)")
            #expect(onCall.stdout.contains("ON CALL"))
            let json = try await run(["check", "nobody@example.com", "--format", "json"], environment: env)
            #expect(json.status == 1)
            #expect(json.stdout.contains("\"outcome\" : \"unknown_user\""))
            let missing = try await run(["check", "a@example.com", "--database", directory.path("absent.sqlite")])
            #expect(missing.status == 2)
            let badVariable = try await run(["check", "a@example.com"], environment: env.merging(["AUTO_APPROVAL_DURATION": "lots"]) { $1 })
            #expect(badVariable.status == 64)
            #expect(badVariable.stderr.contains("AUTO_APPROVAL_DURATION"))
        }
    }

    @Test func driftFailsOnDriftWithThreeAndRendersEveryFormat() async throws {
        try await withSimulator(.small()) { running, directory in
            let env = try await cacheWithTwoSnapshots(running, directory)
            let text = try await run(["drift", "--fail-on-drift"], environment: env)
            #expect(text.status == 3)
            #expect(text.stdout.contains("renamed"))
            let markdown = try await run(["drift", "--format", "markdown"], environment: env)
            #expect(markdown.status == 0 && markdown.stdout.contains("#"))
            let html = directory.path("drift.html")
            let written = try await run(["drift", "--format", "html", "--output", html], environment: env)
            #expect(written.status == 0)
            let page = try String(contentsOfFile: html, encoding: .utf8)
            #expect(page.lowercased().contains("<html") && page.contains("renamed") && !page.contains("<script"))
            let same = try await run(["drift", "--from", "2", "--to", "2", "--fail-on-drift", "--format", "json"], environment: env)
            #expect(same.status == 0)
            #expect(same.stdout.contains("\"is_empty\" : true"))
            let listed = try await run(["snapshots", "--format", "json"], environment: env)
            #expect(listed.stdout.contains("\"id\" : 2"))
        }
    }

    @Test func serveAnswersAndDrainsOnSIGTERM() async throws {
        try await withSimulator(.small()) { running, directory in
            let env = try await cacheWithTwoSnapshots(running, directory)
            let port = 20_000 + Int.random(in: 0..<20_000)
            let secret = "serve-secret-\(UUID().uuidString)"
            let (process, _, errors) = try launch(["serve", "--port", String(port)], environment: env.merging(["INDENT_WEBHOOK_SECRET": secret]) { $1 })
            var ready = false
            for _ in 0..<100 where !ready {
                try await Task.sleep(nanoseconds: 50_000_000)
                ready = (try? await httpGet(port: port, path: "/readyz")) == 200
            }
            #expect(ready)
            #expect(try await httpGet(port: port, path: "/healthz") == 200)
            kill(process.processIdentifier, SIGTERM)
            await waitForExit(process)
            #expect(process.terminationStatus == 0)
            let log = String(decoding: await readToEnd(errors), as: UTF8.self)
            #expect(!log.contains(secret))
            let audit = try await run(["audit", "--format", "json"], environment: env)
            #expect(audit.status == 0)
        }
    }

    @Test func serveRefusesToStartWithoutASecretOrWithABadVariable() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let noSecret = try await run(["serve", "--port", "0", "--database", directory.path("c.sqlite")], environment: ["INDENT_WEBHOOK_SECRET": ""])
        #expect(noSecret.status == 64)
        #expect(noSecret.stderr.contains("INDENT_WEBHOOK_SECRET"))
        let badLevel = try await run(["serve", "--port", "0", "--database", directory.path("c.sqlite")],
                                     environment: ["INDENT_WEBHOOK_SECRET": "s3cr3t-value", "AUTO_APPROVAL_MAX_ESCALATION_LEVEL": "first"])
        #expect(badLevel.status == 64)
        #expect(badLevel.stderr.contains("AUTO_APPROVAL_MAX_ESCALATION_LEVEL"))
        #expect(!badLevel.stderr.contains("s3cr3t-value"))
    }
}

/// GET on loopback through the completion-handler API; returns the status code.
func httpGet(port: Int, path: String) async throws -> Int {
    try await withCheckedThrowingContinuation { continuation in
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 2
        URLSession.shared.dataTask(with: request) { _, response, error in
            if let error { continuation.resume(throwing: error) } else { continuation.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0) }
        }.resume()
    }
}
