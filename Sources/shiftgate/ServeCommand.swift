import Approval
import ArgumentParser
import Foundation
import Hummingbird
import LineLog
import Logging
import NIOCore
import NIOPosix
import OnCallStore
import Server

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer Indent access requests and on-call lookups from the cache (never calls PagerDuty).",
        discussion: """
            Needs INDENT_WEBHOOK_SECRET (or --webhook-secret-file). Approval rules come from
            AUTO_APPROVAL_DURATION, AUTO_APPROVAL_PAGERDUTY_SCHEDULES, AUTO_APPROVAL_WINDOW_BEFORE,
            AUTO_APPROVAL_WINDOW_AFTER and AUTO_APPROVAL_MAX_ESCALATION_LEVEL, or per resource from a
            rules file (--rules or SHIFTGATE_RULES), which SIGHUP reads again (an invalid file is logged
            and the rules in use stay).

            Routes: POST /indent/webhook (and POST /), GET /v1/oncall?email=, GET /v1/oncall?schedule=,
            GET /healthz, GET /readyz, GET /metrics, and POST /v1/decisions when an API token is
            configured (SHIFTGATE_API_TOKEN, several separated by commas or newlines, or
            --api-token-file, one per line); GET /v1/oncall then needs the token too. SIGTERM drains
            in-flight requests and exits 0.

            Bounds: --max-clock-skew at most 1h, --max-staleness at most 7d (sync's default --horizon);
            a value past either is refused (64) with the reason.

            Examples:
              INDENT_WEBHOOK_SECRET=... shiftgate serve
              shiftgate serve --host 0.0.0.0 --port 8080 --max-staleness 15m --webhook-secret-file /run/secrets/indent
              shiftgate serve --rules /etc/shiftgate/rules.yaml --api-token-file /run/secrets/shiftgate-api-tokens
            """
    )

    @OptionGroup var common: DatabaseOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(help: "Approve nothing when the newest snapshot is older than this; at most 7d. (default: 15m)", transform: CLIDuration.argument)
    var maxStaleness = CLIDuration(seconds: 900)

    @Option(help: "Refuse X-Indent-Timestamp further than this from the server's clock; at most 1h. (default: 5m)", transform: CLIDuration.argument)
    var maxClockSkew = CLIDuration(seconds: 300)

    @Option(help: ArgumentHelp("Read the webhook secret from this file instead of INDENT_WEBHOOK_SECRET.", valueName: "path"))
    var webhookSecretFile: String?

    @OptionGroup var rulesOptions: RulesOptions

    @Option(help: ArgumentHelp("Read the decision API's bearer tokens, one per line, from this file instead of SHIFTGATE_API_TOKEN.", valueName: "path"))
    var apiTokenFile: String?

    @Option(help: ArgumentHelp(
        "Where approvals' audit records go, fsynced, while the cache cannot be written (env SHIFTGATE_AUDIT_SPOOL; default: the SQLite file's path + .audit-spool; PostgreSQL: none).",
        valueName: "path"))
    var auditSpool: String?

    /// The spool's path: the flag, the variable, or beside a SQLite cache; nil (no spool) for a
    /// PostgreSQL cache without either.
    static func auditSpoolPath(flag: String?, address: StoreAddress, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let variable = environment["SHIFTGATE_AUDIT_SPOOL"], !variable.isEmpty { return variable }
        if case .sqlite(let path) = address { return AuditSpool.besideCache(path) }
        return nil
    }

    /// The decision API's tokens: optional (without one the API is off), several for rotation.
    static let apiTokenSource = SecretSource(
        fileFlag: "--api-token-file", credential: "shiftgate-api-token", variable: "SHIFTGATE_API_TOKEN",
        missing: "no API token")

    static func apiTokens(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [String] {
        guard let text = try apiTokenSource.readIfGiven(file: file, environment: environment) else { return [] }
        return text.split(whereSeparator: { $0 == "," || $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Where the webhook secret comes from: `--webhook-secret-file`, systemd's credential, or
    /// INDENT_WEBHOOK_SECRET. Without one every request would go unchecked, so `serve` refuses to start.
    static let webhookSecretSource = SecretSource(
        fileFlag: "--webhook-secret-file", credential: "indent-webhook-secret", variable: "INDENT_WEBHOOK_SECRET",
        missing: "INDENT_WEBHOOK_SECRET is empty or unset (or pass --webhook-secret-file): refusing to serve unsigned")

    /// The widest `--max-clock-skew`: Indent signs each request as it sends it, so a clock off by
    /// more than this is a clock to fix, and a wider window only lets a captured request be replayed.
    static let clockSkewBound: TimeInterval = 3600

    /// The oldest snapshot `--max-staleness` (serve's and check's) may allow: sync's default
    /// `--horizon`. An older snapshot's window has run out, so it can no longer say who is on call.
    static let stalenessBound: TimeInterval = 7 * 86_400

    /// `--max-staleness`: positive and at most `stalenessBound`.
    static func checkStaleness(_ maxStaleness: CLIDuration) throws {
        guard maxStaleness.seconds > 0 else { throw ValidationError("--max-staleness must be positive") }
        guard maxStaleness.seconds <= stalenessBound else {
            throw ValidationError("--max-staleness \(maxStaleness) is over \(CLIDuration(seconds: stalenessBound)): a snapshot that old has no shifts left in sync's default window (--horizon 7d)")
        }
    }

    /// Whether `main` hands Swift concurrency to SwiftNIO's event loops before it runs `command`:
    /// only for `serve`, whose handlers never block. The other commands gain nothing from it, and
    /// `sync` and the demo write SQLite from their tasks, which would hold up an event loop.
    static func takesOverConcurrency(_ command: any ParsableCommand) -> Bool {
        command is ServeCommand
    }

    /// Makes SwiftNIO's event loops Swift concurrency's global executor (SwiftNIO's own remedy for
    /// the hops it causes). Otherwise Hummingbird reads a request on an event loop, runs its handler
    /// on Swift concurrency's pool and writes the reply from the loop again: two thread hand-offs
    /// per request, each a wake-up, which on a small VM cost more than the decision. The handlers
    /// must not block, and do not: the webhook answers from memory, and the audit flush and roster
    /// reload run on SwiftNIO's blocking pool. Must run before any task is enqueued, so from `main`,
    /// on the main thread, between parsing the command line and running the command.
    static func takeOverConcurrency() {
        if !NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
            FileHandle.standardError.write(Data("shiftgate: warning: could not run handlers on SwiftNIO's event loops; using Swift concurrency's pool\n".utf8))
        }
    }

    /// Why the server could not listen, and what to do, in one line.
    static func cannotListen(host: String, port: Int, errno code: Int32) -> String {
        switch code {
        case EADDRINUSE:
            "cannot listen on \(host):\(port): the port is already in use; stop the other server on it (`ss -ltnp 'sport = :\(port)'` shows which) or pass another --port"
        case EACCES:
            "cannot listen on \(host):\(port): permission denied (ports below 1024 need privileges); pass --port 1024 or higher and put a proxy in front"
        default:
            "cannot listen on \(host):\(port): \(host) is not an address of this machine; pass --host 127.0.0.1, 0.0.0.0 or one of its addresses"
        }
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        try Self.checkStaleness(maxStaleness)
        guard maxClockSkew.seconds > 0 else { throw ValidationError("--max-clock-skew must be positive") }
        guard maxClockSkew.seconds <= Self.clockSkewBound else {
            throw ValidationError("--max-clock-skew \(maxClockSkew) is over \(CLIDuration(seconds: Self.clockSkewBound)): a signed request could be replayed that long")
        }
    }

    func run() async throws {
        common.bootstrapLogging()
        // One write(2) per decision line cost more than the line itself; a crash loses at most this
        // much of the log (approvals' audit records are durable before their reply, refusals' are
        // flushed every 200 ms, and warnings are written at once).
        LineSink.standardError.startBuffering(every: .milliseconds(50))
        defer { LineSink.standardError.flush() }
        let logger = LoggingBootstrap.logger("serve")
        let secret = try Self.webhookSecretSource.read(file: webhookSecretFile)
        let policy = try ApprovalPolicy.fromEnvironment()
        let rules = try rulesOptions.load(policy: policy)
        // SIGHUP means "read the rules again": ignored until the server's reloader listens for it,
        // so that a `systemctl reload` during start-up does not end the process.
        if rules != nil { signal(SIGHUP, SIG_IGN) }
        let tokens = try Self.apiTokens(file: apiTokenFile)
        // Serve writes the audit log, so it may create the cache; one it cannot open at start is a
        // configuration to fix (64), not a fault to retry.
        let store: any CacheStore
        do {
            store = try await common.openStore(.write(busyTimeout: 10), logger: logger)
        } catch {
            throw fail("cannot open the cache at \(common.location): \(error)", code: ShiftgateExit.configuration)
        }
        let configuration = ServerConfiguration(host: host, port: port, maxStaleness: maxStaleness.seconds,
                                                maxClockSkew: maxClockSkew.seconds, webhookSecret: secret, policy: policy,
                                                rules: rules, apiTokens: tokens,
                                                auditSpool: Self.auditSpoolPath(flag: auditSpool, address: try common.address))
        do {
            let app = try await buildApplication(configuration: configuration, store: store, logger: logger, onServerRunning: { port in
                logger.info("listening", metadata: [
                    "address": "\(host):\(port)", "database": "\(store.location)",
                    "rules": "\(rules.map { "\($0.source ?? ""): \($0.rules.count) rules" } ?? "AUTO_APPROVAL_*")",
                    "decision_api": "\(tokens.isEmpty ? "off" : "on, \(tokens.count) token(s)")",
                    "audit_spool": "\(configuration.auditSpool ?? "none")",
                ])
            })
            try await app.runService()
        } catch let error as IOError where [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) {
            await store.close()
            throw fail(Self.cannotListen(host: host, port: port, errno: error.errnoCode), code: ShiftgateExit.configuration)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
