import Foundation
import PagerDutySimulator
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Where the commands' output goes (#26 items 5 and 14): `drift --output` writes into what it names
/// (a regular file replaced atomically, a symbolic link's target, a pipe or a device in place) and
/// never replaces a node it should write into; a write that fails is a failure, exit 1 and one line,
/// for `--output` and standard output alike. The built binary, over a cache two real syncs made.
@Suite(.serialized) struct OutputTests {
    /// A SQLite cache with two snapshots of a simulated account, and the environment that names it.
    func withCache(_ body: (TemporaryDirectory, [String: String]) async throws -> Void) async throws {
        try await withSimulator(SimulatedAccount.generate(users: 20, schedules: 3, seed: 26)) { running, directory in
            let environment = ["PAGERDUTY_KEY": testAPIKey, "PAGERDUTY_API_URL": running.baseURL.absoluteString,
                               "SHIFTGATE_DATABASE": directory.path("cache.sqlite")]
            for _ in 0..<2 {
                let sync = try await TestSupport.run(["sync", "--quiet", "--full"], environment: environment)
                #expect(sync.status == 0, "\(sync.stderr)")
            }
            try await body(directory, environment)
        }
    }

    func info(_ path: String, following: Bool = false) -> stat? {
        var result = stat()
        return (following ? stat(path, &result) : lstat(path, &result)) == 0 ? result : nil
    }

    func kind(_ path: String) -> mode_t? {
        info(path).map { $0.st_mode & S_IFMT }
    }

    /// Runs the binary with standard output sent to `path` (a device such as /dev/full); its status and stderr.
    func run(_ arguments: [String], stdoutTo path: String, environment: [String: String]) async throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("shiftgate")
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LOG_LEVEL"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = try #require(FileHandle(forWritingAtPath: path))
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stderr = await readToEnd(errors)
        await waitForExit(process)
        try output.close()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test func aRegularFileIsReplacedAtomicallyKeepingItsMode() async throws {
        try await withCache { directory, environment in
            let report = directory.path("report.md")
            try "the old report\n".write(toFile: report, atomically: false, encoding: .utf8)
            chmod(report, 0o640)
            let before = try #require(info(report))
            let result = try await TestSupport.run(["drift", "--format", "markdown", "--output", report], environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            let written = try String(contentsOfFile: report, encoding: .utf8)
            #expect(written != "the old report\n" && !written.isEmpty)
            let after = try #require(info(report))
            #expect(after.st_mode & S_IFMT == S_IFREG && after.st_mode & 0o7777 == 0o640, "mode kept")
            #expect(after.st_ino != before.st_ino, "renamed over, not rewritten in place")
            // Nothing left beside it, and a new file is made too.
            let created = directory.path("new.json")
            #expect(try await TestSupport.run(["drift", "--format", "json", "--output", created], environment: environment).status == 0)
            #expect(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: created))) is [String: Any])
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
            #expect(!names.contains { $0.hasPrefix(".report.md.") || $0.hasPrefix(".new.json.") }, "\(names)")
        }
    }

    @Test func aSymbolicLinkIsWrittenThroughToItsTarget() async throws {
        try await withCache { directory, environment in
            try FileManager.default.createDirectory(atPath: directory.path("reports"), withIntermediateDirectories: true)
            let target = directory.path("reports/drift.md")
            try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
            // A relative link, and a link to that link.
            try FileManager.default.createSymbolicLink(atPath: directory.path("latest.md"), withDestinationPath: "reports/drift.md")
            try FileManager.default.createSymbolicLink(atPath: directory.path("chain.md"), withDestinationPath: directory.path("latest.md"))
            let result = try await TestSupport.run(["drift", "--format", "markdown", "--output", directory.path("chain.md")], environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(kind(directory.path("chain.md")) == S_IFLNK && kind(directory.path("latest.md")) == S_IFLNK, "the links stay links")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: directory.path("latest.md")) == "reports/drift.md")
            let written = try String(contentsOfFile: target, encoding: .utf8)
            #expect(written != "old\n" && !written.isEmpty)
        }
    }

    @Test func aFIFOIsWrittenIntoForItsReader() async throws {
        try await withCache { directory, environment in
            let fifo = directory.path("drift.fifo")
            #expect(mkfifo(fifo, 0o600) == 0)
            // The reader opens the FIFO on a GCD thread (opening blocks until the writer comes).
            let received: Task<Data, Never> = Task.detached {
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        let handle = FileHandle(forReadingAtPath: fifo)
                        continuation.resume(returning: handle?.readDataToEndOfFile() ?? Data())
                    }
                }
            }
            let result = try await TestSupport.run(["drift", "--format", "json", "--output", fifo], environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            let data = await received.value
            #expect(try JSONSerialization.jsonObject(with: data) is [String: Any], "the reader got the report")
            #expect(kind(fifo) == S_IFIFO, "still a FIFO")
        }
    }

    /// `/dev/full` (and any device) is written in place: the write fails, exit 1, one line; the node stays.
    @Test func aFullDeviceFailsWithOneLine() async throws {
        try await withCache { directory, environment in
            let result = try await TestSupport.run(["drift", "--output", "/dev/full"], environment: environment)
            #expect(result.status == 1)
            #expect(result.stderr == "shiftgate: cannot write /dev/full: No space left on device\n", "\(result.stderr)")
            #expect(kind("/dev/full") == S_IFCHR)
            let null = try await TestSupport.run(["drift", "--output", "/dev/null"], environment: environment)
            #expect(null.status == 0 && kind("/dev/null") == S_IFCHR)
            let folder = try await TestSupport.run(["drift", "--output", directory.url.path], environment: environment)
            #expect(folder.status == 1 && folder.stderr == "shiftgate: cannot write \(directory.url.path): it is a directory\n", "\(folder.stderr)")
        }
    }

    /// `shiftgate drift > /dev/full` exited 0, as did audit and status: now 1, with one line.
    @Test func standardOutputThatCannotBeWrittenFails() async throws {
        try await withCache { _, environment in
            for words in [["drift"], ["drift", "--format", "html"], ["audit", "--since", "3650d"], ["status"], ["status", "--format", "json"], ["snapshots"]] {
                let result = try await run(words, stdoutTo: "/dev/full", environment: environment)
                #expect(result.status == 1, "\(words): \(result.status) \(result.stderr)")
                #expect(result.stderr == "shiftgate: cannot write to standard output: No space left on device\n", "\(words): \(result.stderr)")
                #expect(try await run(words, stdoutTo: "/dev/null", environment: environment).status == 0, "\(words)")
            }
        }
    }

    /// Times and spans at the edges of what is accepted decide or refuse; none traps.
    @Test func timesAtTheEdgesDoNotTrap() async throws {
        try await withCache { _, environment in
            for words in [["check", "nobody@example.com", "--at", "0000-01-01T00:00:00Z"], ["check", "nobody@example.com", "--at", "9999-12-31T23:59:59Z"],
                          ["check", "--schedule", "nothing-like-it", "--at", "9999-12-31T23:59:59Z"], ["check", "nobody@example.com", "--max-staleness", "7d"],
                          ["audit", "--since", "3650d"], ["drift", "--since", "3650d"], ["status", "--max-staleness", "3650d"]] {
                let result = try await TestSupport.run(words, environment: environment)
                #expect([0, 1, 2].contains(result.status), "\(words): \(result.status) \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count <= 1, "\(words): \(result.stderr)")
            }
        }
    }
}
