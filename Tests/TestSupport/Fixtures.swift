import Foundation
import TestEnvironment
import OnCallStore
import PagerDutySimulator

/// A fresh directory under the system temp folder, removed by `cleanup()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ label: String = "shiftgate-test") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    public func cleanup() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The key the test simulator accepts.
public let testAPIKey = "test-key-\(UUID().uuidString.prefix(8))"

/// Runs `body` with a live simulator on loopback serving `account`, and a temporary directory.
public func withSimulator<T>(
    _ account: SimulatedAccount,
    options: SimulatorOptions? = nil,
    _ body: (RunningSimulator, TemporaryDirectory) async throws -> T
) async throws -> T {
    var resolved = options ?? SimulatorOptions()
    if options == nil { resolved.apiKeys = [testAPIKey] }
    let simulator = PagerDutySimulator(account: account, options: resolved)
    let running = try await RunningSimulator.start(simulator)
    let directory = try TemporaryDirectory()
    do {
        let result = try await body(running, directory)
        await running.shutdown()
        directory.cleanup()
        return result
    } catch {
        await running.shutdown()
        directory.cleanup()
        throw error
    }
}

/// The repository's root folder (tests use it to find the built binaries and the fixtures).
public let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    // Tests/TestSupport/Fixtures.swift → repository root
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()

/// The repository's test fixtures (`Tests/Fixtures`, see its README).
public let fixturesDirectory = repositoryRoot.appendingPathComponent("Tests/Fixtures")

/// One of PagerDuty's own example replies, kept in `Tests/Fixtures/pagerduty`.
public func pagerDutyExample(_ name: String) throws -> Data {
    try Data(contentsOf: fixturesDirectory.appendingPathComponent("pagerduty/\(name)"))
}

/// How many tests Swift Testing runs at once in this bundle (`Tests/TestEnvironment` sets 4 unless
/// SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH is given); 0 when unset.
public var testParallelizationWidth: Int { Int(shiftgate_test_parallelization_width()) }
