import Approval
import Foundation
import OnCallStore
import PagerDutySimulator
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real binaries with distinctive secrets: nothing they print or store may contain them, and
/// the files they make are private.
@Suite(.serialized) struct SecretsAndFilesTests {
    static let apiKey = "pdkey-DISTINCTIVE-\(UUID().uuidString.prefix(8))-c0ffee"
    static let webhookSecretValue = "whsec-DISTINCTIVE-\(UUID().uuidString.prefix(8))-beef"

    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode & 0o777)
    }

    /// The secrets themselves, and their base64 and hex spellings (a careless log might encode them).
    static func leaks(in text: String) -> [String] {
        var found: [String] = []
        for secret in [apiKey, webhookSecretValue] {
            let forms = [secret, Data(secret.utf8).base64EncodedString(), Data(secret.utf8).map { String(format: "%02x", $0) }.joined()]
            for form in forms where text.contains(form) { found.append(form) }
        }
        return found
    }

    static func leaks(in data: Data) -> [String] {
        var found: [String] = []
        for secret in [apiKey, webhookSecretValue] where data.range(of: Data(secret.utf8)) != nil { found.append(secret) }
        return found
    }

    /// Every file the cache is made of: the database, its WAL and shared-memory files, the sync lock.
    static func cacheFiles(_ path: String) -> [String] {
        [path, path + "-wal", path + "-shm", path + ".sync-lock"].filter { FileManager.default.fileExists(atPath: $0) }
    }

    @Test(.timeLimit(.minutes(2)))
    func secretsNeverAppearInOutputOrTheDatabaseAndTheFilesAreMode0600() async throws {
        await politeStart()
        var options = unlimitedSimulator()
        options.apiKeys = [Self.apiKey]
        try await withSettledSimulator(SimulatedAccount.generate(users: 40, schedules: 6, seed: 17), options: options) { running, directory in
            let path = directory.path("cache.sqlite")
            var environment = syncEnvironment(running, database: path, key: Self.apiKey)
            environment["LOG_LEVEL"] = "trace"
            var transcript: [String] = []
            var modes: [String: Int] = [:]
            func collect(_ name: String, _ child: Child) {
                transcript.append("$ \(name)\n\(child.stdout.text)\n\(child.stderr.text)")
            }

            // A good sync at trace level; one with the key from a file; one refused mid-sync; one with a wrong key.
            let sync = try Child(["sync", "--log-level", "trace"], environment: environment)
            #expect(await sync.finish() == 0, "\(sync.stderr.text)")
            collect("sync", sync)
            let keyFile = directory.path("pagerduty-key")
            try Data((Self.apiKey + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
            var fileEnvironment = environment
            fileEnvironment["PAGERDUTY_KEY"] = nil
            let fromFile = try Child(["sync", "--api-key-file", keyFile, "--log-level", "trace"], environment: fileEnvironment)
            #expect(await fromFile.finish() == 0, "\(fromFile.stderr.text)")
            collect("sync --api-key-file", fromFile)
            running.simulator.setFaults(SimulatorFaults(revokeKeyAfterRequests: 4))
            let revoked = try Child(["sync", "--log-level", "trace"], environment: environment)
            #expect(await revoked.finish() == 4, "a key revoked mid-sync must exit 4: \(revoked.stderr.text)")
            #expect(revoked.stderr.text.contains("refused the API key"))
            collect("sync (key revoked mid-sync)", revoked)
            running.simulator.setFaults(SimulatorFaults())
            var wrong = environment
            wrong["PAGERDUTY_KEY"] = Self.webhookSecretValue
            let wrongKey = try Child(["sync"], environment: wrong)
            #expect(await wrongKey.finish() == 4)
            collect("sync (wrong key)", wrongKey)

            for (name, arguments) in [("status", ["status"]), ("status --format json", ["status", "--format", "json"]), ("snapshots", ["snapshots"]),
                                      ("audit", ["audit", "--since", "1h"]), ("check", ["check", "nobody@example.com"]), ("drift", ["drift"])] {
                let child = try Child(arguments, environment: environment)
                await child.finish()
                collect(name, child)
            }

            // serve at trace level with the webhook secret, answering a signed, a forged and an unsigned request.
            let port = freePort()
            var serveEnvironment = ["SHIFTGATE_DATABASE": path, "INDENT_WEBHOOK_SECRET": Self.webhookSecretValue, "LOG_LEVEL": "trace"]
            serveEnvironment["PAGERDUTY_KEY"] = Self.apiKey
            let serve = try Child(["serve", "--port", String(port), "--log-level", "trace"], environment: serveEnvironment)
            #expect(await serve.stderr.wait(for: "listening", timeout: 20), "serve did not start: \(serve.stderr.text)")
            let statuses = await offPool { () -> [Int] in
                var statuses: [Int] = []
                let body = requestBody([accessRequest("nobody@example.com")])
                let stamp = IndentTime.format(Date())
                let good = IndentSignature.sign(secret: Self.webhookSecretValue, timestamp: stamp, body: body)
                for signature in [good, String(repeating: "0", count: 64), ""] {
                    guard let connection = RawConnection(port: port) else { continue }
                    connection.send(rawWebhookRequest(body, timestamp: stamp, signature: signature))
                    statuses.append(connection.readResponse(until: Date().addingTimeInterval(5))?.status ?? 0)
                }
                for uri in ["/metrics", "/readyz", "/v1/oncall?email=nobody@example.com"] {
                    guard let connection = RawConnection(port: port) else { continue }
                    connection.send("GET \(uri) HTTP/1.1\r\nHost: x\r\n\r\n")
                    let reply = connection.readResponse(until: Date().addingTimeInterval(5))
                    statuses.append(reply?.status ?? 0)
                }
                return statuses
            }
            #expect(statuses.prefix(3) == [200, 401, 401], "\(statuses)")
            // While serve has the cache open its WAL and shared-memory files exist: check and scan them too.
            try await Task.sleep(nanoseconds: 500_000_000)
            for file in Self.cacheFiles(path) {
                modes[(file as NSString).lastPathComponent] = Self.mode(file)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                #expect(Self.leaks(in: bytes).isEmpty, "a secret is stored in \(file)")
            }
            serve.signal(SIGTERM)
            #expect(await serve.finish(timeout: 20) == 0, "serve did not stop cleanly on SIGTERM")
            collect("serve", serve)

            for file in Self.cacheFiles(path) {
                modes[(file as NSString).lastPathComponent] = modes[(file as NSString).lastPathComponent] ?? Self.mode(file)
                #expect(Self.leaks(in: try Data(contentsOf: URL(fileURLWithPath: file))).isEmpty, "a secret is stored in \(file)")
            }
            let all = transcript.joined(separator: "\n")
            #expect(Self.leaks(in: all).isEmpty, "a secret was printed: \(Self.leaks(in: all))")
            #expect(all.contains("trace") || all.contains("debug"), "trace logging did not run, so the scan means little")
            for (file, mode) in modes {
                #expect(mode == 0o600, "\(file) has mode \(String(mode, radix: 8))")
            }
            #expect(modes.keys.contains("cache.sqlite-wal") && modes.keys.contains("cache.sqlite-shm"), "the WAL files were never seen: \(modes.keys.sorted())")
            print("[reliability] secrets: scanned \(all.utf8.count) bytes of output from \(transcript.count) runs and \(modes.count) cache files; file modes \(modes.sorted { $0.key < $1.key }.map { "\($0.key) \(String($0.value, radix: 8))" }.joined(separator: ", "))")
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: [
        ("INDENT_WEBHOOK_SECRET empty", ["INDENT_WEBHOOK_SECRET": ""], [String]()),
        ("INDENT_WEBHOOK_SECRET blank", ["INDENT_WEBHOOK_SECRET": "   \n"], []),
        ("an empty --webhook-secret-file", ["INDENT_WEBHOOK_SECRET": "ignored"], ["--webhook-secret-file", "EMPTY"]),
    ])
    func serveRefusesToStartWithoutASecret(name: String, environment: [String: String], arguments: [String]) async throws {
        let directory = try TemporaryDirectory("shiftgate-reliability")
        defer { directory.cleanup() }
        let empty = directory.path("empty-secret")
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        var env = environment
        env["SHIFTGATE_DATABASE"] = directory.path("cache.sqlite")
        let port = freePort()
        let child = try Child(["serve", "--port", String(port)] + arguments.map { $0 == "EMPTY" ? empty : $0 }, environment: env)
        let status = await child.finish(timeout: 20)
        print("[reliability] serve with \(name): exit \(status): \(child.stderr.text.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(status != 0, "serve started with \(name)")
        #expect(child.stderr.text.contains("secret") || child.stderr.text.contains("SECRET"), "no message names the secret: \(child.stderr.text)")
        // It never listened.
        let listening = await offPool { RawConnection(port: port) != nil }
        #expect(!listening)
    }

    @Test(.timeLimit(.minutes(1)))
    func theCacheStaysPrivateUnderAPermissiveUmask() async throws {
        // `shiftgate sync`, then `shiftgate serve`, started with umask 000 (through sh, so that this
        // process's umask is left alone): the cache, its WAL files and the lock are still 0600.
        try await withSettledSimulator(SimulatedAccount.generate(users: 20, schedules: 3, seed: 2), options: unlimitedSimulator()) { running, directory in
            let path = directory.path("cache.sqlite")
            let binary = productsDirectory.appendingPathComponent("shiftgate").path
            func start(_ arguments: [String], _ extra: [String: String]) throws -> (Process, PipeCollector) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = ["-c", "umask 000 && exec \"$0\" \"$@\"", binary] + arguments
                var environment = ProcessInfo.processInfo.environment
                environment["LOG_LEVEL"] = nil
                for (key, value) in extra { environment[key] = value }
                process.environment = environment
                let output = Pipe()
                process.standardOutput = output
                process.standardError = output
                process.standardInput = FileHandle.nullDevice
                try process.run()
                return (process, PipeCollector(output))
            }
            let (sync, syncOutput) = try start(["sync", "--quiet"], syncEnvironment(running, database: path))
            await waitForExit(sync)
            #expect(sync.terminationStatus == 0, "\(syncOutput.text)")
            let port = freePort()
            let (serve, serveOutput) = try start(["serve", "--port", String(port)], ["SHIFTGATE_DATABASE": path, "INDENT_WEBHOOK_SECRET": "umask-test-secret"])
            #expect(await serveOutput.wait(for: "listening", timeout: 20), "\(serveOutput.text)")
            let files = Self.cacheFiles(path)
            #expect(files.count == 4, "\(files)")
            for file in files {
                #expect(Self.mode(file) == 0o600, "\(file) has mode \(String(Self.mode(file) ?? 0, radix: 8)) under umask 000")
            }
            kill(serve.processIdentifier, SIGTERM)
            await waitForExit(serve)
        }
    }
}
