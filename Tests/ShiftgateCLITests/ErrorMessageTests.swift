import Foundation
import OnCallStore
import SQLiteStore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a careless `--database`, `--port` or `--rules` gets from the built binary: one line on
/// stderr saying what is wrong and what to do, and the command's documented exit code.
@Suite struct ErrorMessageTests {
    /// The one line a failed command printed, after checking it is the only one.
    func oneLine(_ result: (status: Int32, stdout: String, stderr: String), _ words: [String]) -> String {
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 1, "\(words): \(result.stderr)")
        return lines.last ?? ""
    }

    @Test func aDirectoryOrACorruptedDatabaseIsNamedWithWhatToDo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let folder = directory.path("cache-dir")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let corrupt = directory.path("corrupt.sqlite")
        var garbage = Data("this is not SQLite at all".utf8)
        garbage.append(Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        try garbage.write(to: URL(fileURLWithPath: corrupt))
        let before = try Data(contentsOf: URL(fileURLWithPath: corrupt))

        let cases: [(String, String)] = [(folder, "\(folder) is a directory, not a cache file: pass the file's path to --database"),
                                         (corrupt, "\(corrupt) is not a usable cache (file is not a database): move it aside and run `shiftgate sync`")]
        for (database, message) in cases {
            for (words, status) in [(["status"], Int32(1)), (["check", "jane@example.com"], 2), (["audit"], 1), (["snapshots"], 1)] {
                let result = try await run(words + ["--database", database])
                #expect(result.status == status, "\(words) \(database): \(result.stderr)")
                #expect(oneLine((result.status, result.stdout, result.stderr), words).contains(message), "\(words): \(result.stderr)")
            }
            let serve = try await run(["serve", "--port", "0", "--database", database], environment: ["INDENT_WEBHOOK_SECRET": "secret-\(UUID().uuidString)"])
            #expect(serve.status == 64)
            #expect(oneLine((serve.status, serve.stdout, serve.stderr), ["serve"]).contains(message), "\(serve.stderr)")
        }
        // Nothing was written over the file that is not a cache.
        #expect(try Data(contentsOf: URL(fileURLWithPath: corrupt)) == before)
    }

    /// A cache this user may read but not write: root is not refused by file modes, so as root the
    /// commands run as nobody (setpriv).
    @Test(.enabled(if: geteuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "as root, needs setpriv to drop privileges"))
    func aReadOnlyDatabaseSaysWhoNeedsWriteAccess() async throws {
        let directory = try TemporaryDirectory()
        defer {
            chmod(directory.path("ro"), 0o755)
            directory.cleanup()
        }
        let folder = directory.path("ro")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/cache.sqlite"
        do {
            let database = try OnCallDatabase(path: path)
            let now = Date()
            try database.writeSnapshot(SnapshotContents(info: SnapshotInfo(startedAt: now, finishedAt: now, windowStart: now, windowEnd: now.addingTimeInterval(86_400))), keep: 1)
        }
        for leftover in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + leftover) }
        chmod(directory.url.path, 0o755)
        chmod(path, 0o444)
        chmod(folder, 0o555)
        for (words, status) in [(["status"], Int32(1)), (["check", "jane@example.com"], 2)] {
            let result = try await runUnprivileged(words + ["--database", path])
            #expect(result.status == status, "\(words): \(result.stderr)")
            #expect(oneLine(result, words).contains("the cache at \(path) is read-only for this user"), "\(words): \(result.stderr)")
            #expect(result.stderr.contains("give the user running shiftgate write access to the file and its directory"))
        }
    }

    @Test func aTakenPortIsNamedWithWhatToDo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let taken = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(taken) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(taken, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        try #require(bound == 0 && listen(taken, 1) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(taken, $0, &length) } }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let result = try await run(["serve", "--host", "127.0.0.1", "--port", String(port), "--database", directory.path("cache.sqlite")],
                                   environment: ["INDENT_WEBHOOK_SECRET": "secret-\(UUID().uuidString)"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.contains("shiftgate: cannot listen on 127.0.0.1:\(port): the port is already in use; stop the other server on it"), "\(result.stderr)")
        #expect(result.stderr.contains("or pass another --port\n"))
        #expect(!result.stderr.contains("cannot read the cache"), "a server that never started has no cache outage to report: \(result.stderr)")
    }

    @Test func aMissingRulesFileIsOneLine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let missing = directory.path("rules.yaml")
        for words in [["check", "jane@example.com", "--rules", missing], ["serve", "--port", "0", "--rules", missing],
                      ["check", "jane@example.com", "--rules", directory.url.path]] {
            let result = try await run(words + ["--database", directory.path("cache.sqlite")], environment: ["INDENT_WEBHOOK_SECRET": "secret-\(UUID().uuidString)"])
            #expect(result.status == 64, "\(words): \(result.stderr)")
            let line = oneLine((result.status, result.stdout, result.stderr), words)
            #expect(line.hasPrefix("shiftgate: the rules file ") && line.contains("cannot be used: ")
                    && line.hasSuffix("pass the rules file's path with --rules or SHIFTGATE_RULES (deploy/rules.example.yaml is an example)"), "\(line)")
            #expect(line.contains(words.last == missing ? "no such file" : "a directory, not a rules file"))
        }
        let checked = try await run(["rules", "check", missing])
        #expect(checked.status == 64 && checked.stderr == "\(missing):1:1: no such file\n", "\(checked.stderr)")
    }
}

/// Runs the built `shiftgate` as an unprivileged user: as itself when it is not root, else as
/// nobody through setpriv (file modes do not stop root).
func runUnprivileged(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
    let binary = productsDirectory.appendingPathComponent("shiftgate").path
    let process = Process()
    if geteuid() == 0 {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
    }
    var environment = ProcessInfo.processInfo.environment
    environment["LOG_LEVEL"] = nil
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    async let stdout = readToEnd(out)
    async let stderr = readToEnd(err)
    await waitForExit(process)
    return (process.terminationStatus, String(decoding: await stdout, as: UTF8.self), String(decoding: await stderr, as: UTF8.self))
}
