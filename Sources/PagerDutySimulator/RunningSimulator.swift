import Foundation
import Hummingbird
import Logging

/// A simulator serving on a real socket in the background, for tests, the demo and benchmarks.
///
/// ```swift
/// let running = try await RunningSimulator.start(PagerDutySimulator(account: .small()))
/// defer { Task { await running.shutdown() } }
/// // point the client at running.baseURL with key "simulated-key"
/// ```
public final class RunningSimulator: Sendable {
    /// The port bound (the system picks one when started with port 0).
    public let port: Int
    public let simulator: PagerDutySimulator
    private let host: String
    private let task: Task<Void, Never>

    /// `http://127.0.0.1:PORT`, the base URL a PagerDuty client should use.
    public var baseURL: URL {
        var urlHost = host
        if host == "0.0.0.0" || host.isEmpty {
            urlHost = "127.0.0.1"
        } else if host == "::" {
            urlHost = "[::1]"
        } else if host.contains(":") {
            urlHost = "[\(host)]"
        }
        return URL(string: "http://\(urlHost):\(port)")!
    }

    private init(port: Int, host: String, simulator: PagerDutySimulator, task: Task<Void, Never>) {
        self.port = port
        self.host = host
        self.simulator = simulator
        self.task = task
    }

    /// Starts serving and returns once the socket is bound; throws if it cannot bind.
    public static func start(_ simulator: PagerDutySimulator, host: String = "127.0.0.1", port: Int = 0) async throws -> RunningSimulator {
        let (events, continuation) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        // `shutdown()` cancels the server, and Hummingbird logs open keep-alive connections it
        // drops then as errors; in tests that is noise, so log only when LOG_LEVEL asks.
        var logger = Logger(label: "pagerduty-simulator")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let app = buildSimulatorApplication(simulator, host: host, port: port, logger: logger) { boundPort in
            continuation.yield(.success(boundPort))
        }
        let task = Task {
            do {
                try await app.run()
                continuation.yield(.failure(RunningSimulatorError.stoppedBeforeListening))
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        for await event in events {
            switch event {
            case .success(let boundPort):
                return RunningSimulator(port: boundPort, host: host, simulator: simulator, task: task)
            case .failure(let error):
                task.cancel()
                throw error
            }
        }
        task.cancel()
        throw RunningSimulatorError.stoppedBeforeListening
    }

    /// Stops serving and waits until the server has closed its socket.
    public func shutdown() async {
        task.cancel()
        await task.value
    }
}

public enum RunningSimulatorError: Error, CustomStringConvertible {
    case stoppedBeforeListening

    public var description: String {
        "The PagerDuty simulator stopped before it was listening."
    }
}
