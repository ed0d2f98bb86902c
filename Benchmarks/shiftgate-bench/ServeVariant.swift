import Approval
import Foundation
import Logging
import OnCallStore
import Server

/// `shiftgate-bench serve-variant --database PATH --port N [--nio-executor]`: the product's
/// `buildApplication` served exactly as `shiftgate serve` serves it (same configuration, same
/// info-level stream logging), from this binary, so that a change to how the process runs can be
/// measured before it is proposed. `--nio-executor` makes SwiftNIO's event loops Swift
/// Concurrency's global executor (installed in main.swift before anything else runs), so that a
/// request's handler runs on the event loop thread that read it instead of hopping to the
/// cooperative pool and back. A benchmark aid, not a product: the product change is in BENCHMARKS.md.
func runServeVariant(_ arguments: [String]) async throws {
    func value(_ name: String) -> String? {
        arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
    }
    guard let path = value("--database"), let port = value("--port").flatMap(Int.init) else {
        throw BenchError("serve-variant needs --database PATH --port N")
    }
    let environment = ProcessInfo.processInfo.environment
    guard let secret = environment["INDENT_WEBHOOK_SECRET"], !secret.isEmpty else { throw BenchError("INDENT_WEBHOOK_SECRET is unset") }
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = .info
        return handler
    }
    var logger = Logger(label: "shiftgate")
    logger[metadataKey: "component"] = "serve"
    logger.logLevel = .info
    let configuration = ServerConfiguration(host: "127.0.0.1", port: port, maxStaleness: 86_400, maxClockSkew: 3600, webhookSecret: secret,
                                            policy: try ApprovalPolicy(environment: environment))
    let app = try buildApplication(configuration: configuration, database: try OnCallDatabase(path: path, mustExist: true), logger: logger)
    try await app.runService()
}
