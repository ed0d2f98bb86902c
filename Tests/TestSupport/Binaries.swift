import Foundation

/// The folder SwiftPM built the products into (the test bundle sits beside them).
public let productsDirectory: URL = {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var directory = runner.deletingLastPathComponent()
    while !directory.path.isEmpty, directory.path != "/" {
        if FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("shiftgate").path) { return directory }
        directory.deleteLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug")
}()

/// What a finished process printed and returned.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Starts a built product (`shiftgate`, `pagerduty-simulator`) with `arguments` and extra environment.
public func launch(_ arguments: [String], product: String = "shiftgate", environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
    try launch(executable: productsDirectory.appendingPathComponent(product), arguments, environment: environment)
}

/// Starts `executable` (a wrapper such as `setpriv` in front of a product) as `launch` starts a product.
public func launch(executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["LOG_LEVEL"] = nil
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return (process, out, err)
}

/// Runs a built product to the end, with a time limit after which it is killed.
public func run(_ arguments: [String], product: String = "shiftgate", environment: [String: String] = [:], timeout: TimeInterval = 120) async throws -> ProcessOutput {
    let (process, out, err) = try launch(arguments, product: product, environment: environment)
    let deadline = Date().addingTimeInterval(timeout)
    // Blocking reads go to GCD threads: blocking Swift concurrency's small pool would starve the
    // in-process simulator the child is talking to.
    async let stdoutData = readToEnd(out)
    async let stderrData = readToEnd(err)
    while process.isRunning {
        if Date() > deadline { process.terminate() }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    return ProcessOutput(status: process.terminationStatus,
                         stdout: String(decoding: await stdoutData, as: UTF8.self),
                         stderr: String(decoding: await stderrData, as: UTF8.self))
}

/// Reads a pipe to its end on a GCD thread.
public func readToEnd(_ pipe: Pipe) async -> Data {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile())
        }
    }
}

/// Waits for a process without blocking a concurrency thread.
public func waitForExit(_ process: Process) async {
    while process.isRunning {
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
}
