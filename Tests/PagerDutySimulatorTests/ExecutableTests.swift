import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The `pagerduty-simulator` executable: prints its URL, serves, stops cleanly on SIGTERM.
@Suite struct ExecutableTests {
    /// The built executable, beside the test runner (or in the repository's .build/debug).
    static let executable: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("pagerduty-simulator")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/pagerduty-simulator")
    }()

    func launch(_ arguments: [String]) throws -> (process: Process, stdout: Pipe, stderr: Pipe) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, stdout, stderr)
    }

    func waitForExit(_ process: Process, timeout: TimeInterval = 20) async {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { process.interrupt() }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Reads from `pipe` until a whole line has arrived (or `timeout` passes).
    func firstLine(of pipe: Pipe, timeout: TimeInterval = 20) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var buffer = Data()
                let deadline = Date().addingTimeInterval(timeout)
                while Date() < deadline {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    buffer.append(chunk)
                    if buffer.contains(UInt8(ascii: "\n")) { break }
                }
                continuation.resume(returning: String(decoding: buffer, as: UTF8.self).components(separatedBy: "\n")[0])
            }
        }
    }

    @Test func printsItsURLServesAndStopsOnSIGTERM() async throws {
        let (process, out, _) = try launch(["--port", "0", "--users", "12", "--schedules", "3", "--api-key", "exe-key"])
        let line = await firstLine(of: out)
        #expect(line.contains("exe-key"))
        guard let range = line.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else {
            process.terminate()
            Issue.record("no URL in \(line)")
            return
        }
        var request = URLRequest(url: URL(string: String(line[range]) + "/users?total=true")!)
        request.setValue("Token token=exe-key", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        #expect(json?["total"] as? Int == 12)

        process.terminate()
        await waitForExit(process)
        #expect(process.terminationStatus == 0)
    }

    /// The first line's URL, or nil (then the process is stopped).
    func url(in line: String, of process: Process) -> String? {
        guard let range = line.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else {
            process.terminate()
            Issue.record("no URL in \(line)")
            return nil
        }
        return String(line[range])
    }

    func get(_ url: String) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Token token=simulated-key", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    @Test func generatesHalfTheSchedulesShiftBasedUnlessToldOtherwise() async throws {
        for (arguments, shiftBased) in [([String](), 2), (["--v3-share", "1"], 4), (["--v3-share", "0"], 0)] {
            let (process, out, _) = try launch(["--port", "0", "--users", "12", "--schedules", "4"] + arguments)
            let line = await firstLine(of: out)
            guard let base = url(in: line, of: process) else { return }
            #expect(line.contains("4 schedules (\(shiftBased) shift-based)"), "\(arguments): \(line)")
            let v3 = try await get(base + "/v3/schedules")
            #expect((v3["schedules"] as? [Any])?.count == shiftBased, "\(arguments)")
            let v2 = try await get(base + "/schedules")
            #expect((v2["schedules"] as? [Any])?.count == 4 - shiftBased, "\(arguments)")
            process.terminate()
            await waitForExit(process)
            #expect(process.terminationStatus == 0)
        }
    }

    @Test func refusesABadShareOrAShareWithAScenario() async throws {
        for (arguments, expected) in [(["--v3-share", "1.5"], "--v3-share must be between 0 and 1"),
                                      (["--scenario", "x.json", "--v3-share", "0.5"], "--v3-share shapes a generated account")] {
            let (process, _, stderr) = try launch(arguments)
            await waitForExit(process)
            let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus != 0, "\(arguments)")
            #expect(message.contains(expected), "\(arguments): \(message)")
        }
    }

    @Test func refusesAScenarioTogetherWithSizes() async throws {
        let (process, _, stderr) = try launch(["--scenario", "x.json", "--users", "3"])
        await waitForExit(process)
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(message.contains("either --scenario or --users/--schedules"))
    }

    @Test func writesAndServesAScenario() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (writer, writerOut, _) = try launch(["--port", "0", "--users", "7", "--schedules", "2", "--write-scenario", path])
        _ = await firstLine(of: writerOut)
        writer.terminate()
        await waitForExit(writer)

        let (server, out, _) = try launch(["--port", "0", "--scenario", path])
        let line = await firstLine(of: out)
        server.terminate()
        await waitForExit(server)
        #expect(line.contains("7 users, 2 schedules"))
        #expect(line.contains("simulated-key"))
    }
}
