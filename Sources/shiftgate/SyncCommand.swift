import ArgumentParser
import Foundation
import Logging
import OnCallStore
import PagerDuty
import ServiceLifecycle
import Approval
import Sync
import SQLiteStore
#if canImport(Glibc)
import Glibc
#endif

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Snapshot PagerDuty's users, schedules, shifts and escalation policies into the cache.",
        discussion: """
            Reads PAGERDUTY_KEY (or --api-key-file) and writes one complete snapshot in one transaction;
            a failed or interrupted sync leaves the previous snapshot current.

            Examples:
              PAGERDUTY_KEY=... shiftgate sync
              shiftgate sync --api-key-file /run/credentials/shiftgate-sync.service/pagerduty-key --quiet
              shiftgate sync --horizon 14d --keep 288 --every 5m
            Exit codes: 0 done; 1 failed; 4 PagerDuty refused the key; 75 another sync is running.
            """
    )

    @OptionGroup var common: DatabaseOptions

    @OptionGroup var rulesOptions: RulesOptions

    @Option(help: ArgumentHelp("PagerDuty's API base URL (env PAGERDUTY_API_URL; EU: https://api.eu.pagerduty.com).", valueName: "url"))
    var apiURL: String?

    @Option(help: ArgumentHelp("Read the API key from this file instead of PAGERDUTY_KEY.", valueName: "path"))
    var apiKeyFile: String?

    /// Where the API key comes from: `--api-key-file`, systemd's credential, or PAGERDUTY_KEY.
    static let apiKeySource = SecretSource(
        fileFlag: "--api-key-file", credential: "pagerduty-key", variable: "PAGERDUTY_KEY",
        missing: "no PagerDuty API key: set PAGERDUTY_KEY or pass --api-key-file")

    @Option(help: "How far back the window starts. (default: 1d)", transform: CLIDuration.argument)
    var lookback = CLIDuration(seconds: 86_400)

    @Option(help: "How far ahead the window ends. (default: 7d)", transform: CLIDuration.argument)
    var horizon = CLIDuration(seconds: 7 * 86_400)

    @Option(help: "PagerDuty requests in flight at once.")
    var concurrency = 4

    @Option(help: "Client-side pacing in requests per minute (PagerDuty allows 960 per key).")
    var rateLimit = 900

    @Option(help: "Stop the sync after this many requests (a runaway guard).")
    var maxRequests: Int?

    @Option(help: "Snapshots to keep; older ones are pruned.")
    var keep = 96

    @Option(help: "The whole sync's time budget. (default: 15m)", transform: CLIDuration.argument)
    var timeout = CLIDuration(seconds: 900)

    @Option(help: "Keep running and sync at this interval (for containers without cron).", transform: CLIDuration.argument)
    var every: CLIDuration?

    @Option(help: ArgumentHelp(
        "The period in which a refresh reads every schedule's detail again, each in its turn, and once moves the window and lists every user; the first sync, and one that finds the current snapshot this old, reads everything. 0: every sync reads everything. (default: 1h)",
        valueName: "duration"), transform: CLIDuration.argument)
    var fullEvery = CLIDuration(seconds: 3600)

    @Flag(help: "Read everything now, whatever --full-every says.")
    var full = false

    @Flag(help: "Read every schedule even when AUTO_APPROVAL_PAGERDUTY_SCHEDULES limits approvals to some (for drift reports and /v1/oncall lookups of the others).")
    var allSchedules = false

    @Flag(help: "Print nothing but errors.")
    var quiet = false

    func validate() throws {
        guard concurrency >= 1, concurrency <= 32 else { throw ValidationError("--concurrency must be between 1 and 32") }
        guard rateLimit >= 1 else { throw ValidationError("--rate-limit must be at least 1") }
        guard keep >= 1 else { throw ValidationError("--keep must be at least 1") }
        if let maxRequests, maxRequests < 1 { throw ValidationError("--max-requests must be at least 1") }
        guard horizon.seconds > 0 || lookback.seconds > 0 else { throw ValidationError("--lookback and --horizon give an empty window") }
        guard timeout.seconds >= 1 else { throw ValidationError("--timeout must be at least 1s") }
        if let every, every.seconds < 10 { throw ValidationError("--every must be at least 10s") }
        if let apiURL, URL(string: apiURL)?.scheme == nil { throw ValidationError("--api-url: '\(apiURL)' is not a URL") }
    }

    var resolvedAPIURL: URL {
        let text = apiURL ?? ProcessInfo.processInfo.environment["PAGERDUTY_API_URL"].flatMap(environmentSetting)
        return text.flatMap(URL.init(string:)) ?? PagerDutyConfiguration.defaultBaseURL
    }

    func run() async throws {
        common.bootstrapLogging(quiet: quiet)
        let key = try Self.apiKeySource.read(file: apiKeyFile)
        if let every {
            // A long-running loop (often PID 1 in a container): SIGTERM or SIGINT stop it cleanly. A
            // sync cut short that way writes nothing, so the last good snapshot stays current.
            let logger = LoggingBootstrap.logger("sync")
            logger.info("syncing every \(every)")
            let loop = SyncLoop(interval: every.seconds, logger: logger) { await runOnce(key: key) }
            try await ServiceGroup(configuration: .init(services: [loop], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
            return
        }
        let code = await runOnce(key: key)
        if code != .success { throw code }
    }

    /// One sync; returns its exit code after printing its one line (summary or error).
    func runOnce(key: String) async -> ExitCode {
        // The budget starts now: opening the store, the fetch, the write and recording a failure
        // all end by this deadline (the failure record up to 1 s after it).
        let deadline = Date().addingTimeInterval(timeout.seconds)
        let logger = LoggingBootstrap.logger("sync")
        let busyTimeout = min(10, max(0, deadline.timeIntervalSinceNow))
        let store: any CacheStore
        let lock: any SyncLockHolder
        do {
            (store, lock) = try await common.openStoreForSync(busyTimeout: busyTimeout, logger: logger)
        } catch let error as SyncError {
            return fail(error.description, code: ShiftgateExit.syncRunning)
        } catch {
            return fail("cannot open the cache at \(common.location): \(error)")
        }
        let code = await sync(into: store, key: key, deadline: deadline, logger: logger)
        await lock.release()
        await store.close()
        return code
    }

    private func sync(into store: any CacheStore, key: String, deadline: Date, logger: Logger) async -> ExitCode {
        let client = PagerDutyClient(
            configuration: PagerDutyConfiguration(baseURL: resolvedAPIURL, apiKey: key, concurrency: concurrency,
                                                  requestsPerMinute: rateLimit, maxRequests: maxRequests),
            logger: LoggingBootstrap.logger("pagerduty"))
        // A refresh reads /oncalls for the reach of a decision (`SyncOptions.refreshReach`). Variables
        // `serve` would refuse leave the defaults here; `serve` and `check` report them.
        let policy = (try? ApprovalPolicy.fromEnvironment()) ?? ApprovalPolicy()
        let reach = SyncOptions.refreshReach(windowBefore: policy.windowBefore, windowAfter: policy.windowAfter, longestGrant: policy.maxDuration)
        var options = SyncOptions(lookback: lookback.seconds, horizon: horizon.seconds, keep: keep, timeout: timeout.seconds,
                                  refreshBehind: reach.behind, refreshAhead: reach.ahead)
        // With an allow-list, no decision looks at another schedule: only those are read. A rules file
        // (serve's --rules / SHIFTGATE_RULES) scopes the read to its rules' schedules, unless some
        // approving rule allows every schedule; one that cannot be read scopes nothing (serve reports it).
        if let file = rulesOptions.path() {
            do {
                let rules = try RulesFile.load(path: file, defaults: policy)
                if !allSchedules, let scope = rules.syncScope { options.scope = scope }
                let rulesReach = SyncOptions.refreshReach(windowBefore: policy.windowBefore, windowAfter: policy.windowAfter, longestGrant: rules.longestDuration)
                options.refreshAhead = max(options.refreshAhead, rulesReach.ahead)
            } catch {
                logger.warning("the rules file cannot be used; reading every schedule", metadata: ["file": "\(file)", "problems": "\(error.description)"])
            }
        } else if !allSchedules, !policy.allowedSchedules.isEmpty {
            options.scope = Set(policy.allowedSchedules)
        }
        let syncer = Syncer(client: client, store: store, options: options, logger: logger)
        let showProgress = !quiet && isatty(STDERR_FILENO) == 1
        let started = Date()
        do {
            let plan = try await syncer.plan(fullEvery: fullEvery.seconds, forceFull: full)
            logger.info("sync planned", metadata: ["read": "\(plan.summary)"])
            let progress: (@Sendable (SyncProgress) -> Void)? = showProgress ? printProgress : nil
            let info = try await syncer.run(deadline: deadline, plan: plan, progress: progress)
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            if !quiet {
                let seconds = Date().timeIntervalSince(started)
                print("synced snapshot \(info.id) (\(info.read == .full ? "full read" : "refresh")): \(info.userCount) users, \(info.scheduleCount) schedules (\(info.shiftBasedScheduleCount) shift-based), \(info.shiftCount) shifts, "
                      + "\(info.policyCount) escalation policies, \(info.onCallCount) on-call entries; "
                      + "\(info.apiRequests) API requests, \(info.rateLimited) answered 429; \(String(format: "%.1f", seconds))s")
            }
            return .success
        } catch {
            if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
            if case .pagerDuty(let pagerDutyError) = error as? SyncError, pagerDutyError.isAuthenticationFailure {
                return fail("sync failed: \(error)", code: ShiftgateExit.keyRefused)
            }
            return fail("sync failed: \(error)")
        }
    }
}

/// The progress line on a terminal, rewritten in place.
@Sendable func printProgress(_ progress: SyncProgress) {
    let counts = "\(progress.done)/\(progress.total) · \(progress.requests) requests · \(progress.rateLimited) × 429"
    FileHandle.standardError.write(Data("\r\u{1B}[2Ksyncing \(progress.phase) \(counts)".utf8))
}

/// `sync --every`: one sync per interval until a graceful shutdown.
struct SyncLoop: Service {
    let interval: TimeInterval
    let logger: Logger
    let once: @Sendable () async -> ExitCode

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if await once() != .success { logger.error("sync failed; next attempt in \(CLIDuration(seconds: interval))") }
                    try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
                }
            }
        } catch is CancellationError {
            logger.info("stopping: shutdown requested")
        }
    }
}
