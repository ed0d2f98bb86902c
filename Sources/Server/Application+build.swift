import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import OnCallStore
import ServiceLifecycle

/// Builds the webhook exactly as production runs it; tests drive the same application.
/// Loads the current snapshot before returning, so the first request is answered from it.
public func buildApplication(
    configuration: ServerConfiguration,
    store: any CacheStore,
    logger: Logger,
    metrics: ServerMetrics = ServerMetrics(),
    clock: @escaping @Sendable () -> Date = Date.init,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    let roster = RosterCache(store: store, policy: configuration.policy, rules: configuration.rules, logger: logger)
    try await roster.reload()
    // The spool: opened now, so that a path that cannot be written is said at start (and /readyz
    // says it while approvals would need it); records left by a previous run are moved into the
    // cache by the writer service as soon as it can be written.
    var spool: AuditSpool?
    var spoolError: String?
    if let path = configuration.auditSpool {
        do {
            let opened = try AuditSpool(path: path)
            if opened.opening.tornBytes > 0 {
                logger.warning("the audit spool ended in a torn line (a write cut short by a crash, never acknowledged); cut it off", metadata: [
                    "spool": "\(path)", "bytes": "\(opened.opening.tornBytes)",
                ])
            }
            if opened.opening.waiting > 0 {
                logger.notice("audit records wait in the spool; moving them into the cache", metadata: ["spool": "\(path)", "records": "\(opened.opening.waiting)"])
            }
            spool = opened
        } catch {
            spoolError = error.description
            logger.error("cannot use the audit spool", metadata: ["error": "\(error)"])
        }
    }
    let audit = AuditLog(store: store, logger: logger, capacity: configuration.auditCapacity, spool: spool, spoolError: spoolError,
                         writeTimeout: configuration.auditWriteTimeout)
    await audit.checkWritable()
    let router = Router(context: BasicRequestContext.self)
    WebhookController(configuration: configuration, roster: roster, audit: audit, metrics: metrics, logger: logger, clock: clock)
        .addRoutes(to: router)
    var app = Application(
        router: router,
        server: .http1(configuration: .init(
            additionalChannelHandlers: [SlowClientGuard(headTimeout: .milliseconds(Int64(configuration.requestTimeout * 1000)),
                                                        bodyTimeout: .milliseconds(Int64(configuration.requestTimeout * 1000)))],
            idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000)),
            httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "shiftgate"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
    app.addServices(RosterReloader(cache: roster, store: store, interval: configuration.reloadInterval, logger: logger),
                    AuditLogWriter(log: audit, logger: logger))
    if configuration.rules != nil {
        app.addServices(RulesReloader(cache: roster, policy: configuration.policy, logger: logger))
    }
    return app
}
