import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import OnCallStore

/// `shiftgate-bench`: measures the webhook, the per-request PagerDuty baseline, the webhook under a
/// sync, the sync itself and drift, in one run, and prints Markdown tables (see BENCHMARKS.md).
/// Benchmarks are not tests: this prints numbers and exits 0 whatever they are; it exits non-zero
/// only when it could not measure (a binary missing, a server that would not start).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shiftgate-bench",
        abstract: "Benchmark Shiftgate: webhook latency and throughput, PagerDuty baseline, sync API use, drift.",
        discussion: """
            Runs the real release binaries (.build/release/shiftgate) against the in-process PagerDuty
            simulator on loopback, and wrk (Debian's `wrk`) with Benchmarks/webhook.lua.

            Examples:
              Benchmarks/run.sh --quick                 # under 3 minutes
              Benchmarks/run.sh                         # the full set (about 10 minutes)
              swift run -c release shiftgate-bench --only sync --sync-sizes 1000x10000
            """
    )

    @Flag(help: "The short set: short webhook runs, baseline, under-sync, sync of 100 schedules / 1,000 users, drift.")
    var quick = false

    @Option(help: "Sections to run, comma-separated: webhook, baseline, under-sync, sync, drift, postgres, rules (default: all of these).")
    var only: String?

    @Option(help: "Sync sizes as SCHEDULESxUSERS, comma-separated (default: quick 100x1000; full 100x1000,1000x10000,5000x50000).")
    var syncSizes: String?

    @Option(help: "Client pacing values (--rate-limit, per minute) to sync at, comma-separated.")
    var syncRateLimits = "900,960"

    @Option(help: "Share of shift-based (v3) schedules in the mixed accounts synced beside the legacy-only ones (0 for none).")
    var syncV3Share = 0.5

    @Option(help: "Mixed accounts are synced for sizes up to this many users (at the first --sync-rate-limits value).")
    var syncV3MaxUsers = 10_000

    @Option(help: "Sizes (SCHEDULESxUSERS, comma-separated) also synced with every user in no team, at the first --sync-rate-limits value; past 10,000 users PagerDuty cannot page /users and teams do not help (default: full 1000x10012; quick none; \"none\" for none).")
    var syncNoTeamSizes: String?

    @Option(help: "Also sync the sizes up to --sync-v3-max-users with AUTO_APPROVAL_PAGERDUTY_SCHEDULES naming this many schedules (0 for none).")
    var syncAllowList = 5

    @Option(help: "Schedules in the account behind the webhook's cache (and the under-sync and drift runs).")
    var webhookSchedules = 1000

    @Option(help: "Users in the account behind the webhook's cache.")
    var webhookUsers = 10000

    @Option(help: "Schedules in AUTO_APPROVAL_PAGERDUTY_SCHEDULES (the baseline asks PagerDuty about each).")
    var allowedSchedules = 4

    @Option(help: "The fixed request rate for latency runs, per second.")
    var rate = 1000.0

    @Option(help: ArgumentHelp(
        "For the postgres section: a server the benchmark may create databases on, postgres://USER@127.0.0.1:PORT/DB?sslmode=disable, the password in PGPASSWORD (env SHIFTGATE_BENCH_POSTGRES_URL; Benchmarks/run.sh starts a private one).",
        valueName: "url"))
    var postgresURL: String?

    @Option(help: "The shiftgate binary.")
    var shiftgate = ".build/release/shiftgate"

    @Option(help: "The wrk binary.")
    var wrk = "/usr/bin/wrk"

    @Option(help: "Where the Markdown results go.")
    var output = ".build/benchmarks/results.md"

    @Flag(help: "Keep the temporary directory (databases, logs) for inspection.")
    var keep = false

    func validate() throws {
        if let only {
            let unknown = Set(Self.sections(only)).subtracting(Section.allCases.map(\.rawValue))
            if !unknown.isEmpty { throw ValidationError("--only: unknown section(s) \(unknown.sorted().joined(separator: ", "))") }
        }
        _ = try parsedSizes()
        guard rate > 0 else { throw ValidationError("--rate must be positive") }
        guard (0...1).contains(syncV3Share) else { throw ValidationError("--sync-v3-share must be between 0 and 1") }
        guard allowedSchedules >= 1 else { throw ValidationError("--allowed-schedules must be at least 1") }
        if let url = resolvedPostgresURL {
            guard case .postgres = try? StoreAddress(url) else { throw ValidationError("--postgres-url: '\(url)' is not a postgres:// URL without a password") }
        }
    }

    static func sections(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func parsedSizes() throws -> [(schedules: Int, users: Int)] {
        try Self.sizes(syncSizes ?? (quick ? "100x1000" : "100x1000,1000x10000,5000x50000"), option: "--sync-sizes")
    }

    static func sizes(_ text: String, option: String) throws -> [(schedules: Int, users: Int)] {
        guard text != "none" else { return [] }
        return try text.split(separator: ",").map { item in
            let parts = item.lowercased().split(separator: "x")
            guard parts.count == 2, let schedules = Int(parts[0]), let users = Int(parts[1]), schedules > 0, users > 0 else {
                throw ValidationError("\(option): '\(item)' is not SCHEDULESxUSERS")
            }
            return (schedules, users)
        }
    }

    var resolvedPostgresURL: String? {
        postgresURL ?? ProcessInfo.processInfo.environment["SHIFTGATE_BENCH_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func settings() throws -> BenchSettings {
        let selected = only.map { Set(Self.sections($0).compactMap(Section.init(rawValue:))) } ?? Section.defaultSet
        return BenchSettings(
            quick: quick, sections: selected, syncSizes: try parsedSizes(),
            syncRateLimits: syncRateLimits.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) },
            syncV3Share: syncV3Share, syncV3MaxUsers: syncV3MaxUsers, syncAllowList: syncAllowList,
            syncNoTeamSizes: try Self.sizes(syncNoTeamSizes ?? (quick ? "none" : "1000x10012"), option: "--sync-no-team-sizes"),
            webhookSchedules: webhookSchedules, webhookUsers: webhookUsers, allowedSchedules: allowedSchedules, rate: rate,
            wrkSeconds: quick ? 5 : 15, fixedRateSeconds: quick ? 5 : 30, underSyncIdleSeconds: quick ? 5 : 15,
            baselineDecisions: quick ? 30 : 150, driftRepeats: quick ? 5 : 20, quietWaitSeconds: quick ? 15 : 120,
            postgres: try resolvedPostgresURL.flatMap { url -> BenchPostgres? in
                guard case .postgres(let address) = try StoreAddress(url) else { return nil }
                return BenchPostgres(server: address, password: ProcessInfo.processInfo.environment["PGPASSWORD"])
            },
            shiftgate: shiftgate, wrk: wrk, output: output, keep: keep)
    }
}

enum Section: String, CaseIterable, Sendable {
    case webhook
    case baseline
    case underSync = "under-sync"
    case sync
    case drift
    case postgres
    case rules

    static let defaultSet: Set<Section> = Set(allCases)
}

struct BenchSettings: Sendable {
    var quick: Bool
    var sections: Set<Section>
    var syncSizes: [(schedules: Int, users: Int)]
    var syncRateLimits: [Int]
    var syncV3Share: Double
    var syncV3MaxUsers: Int
    /// Schedules in the allow-list of the extra runs (0: none).
    var syncAllowList: Int
    /// Accounts synced with every user in no team.
    var syncNoTeamSizes: [(schedules: Int, users: Int)]
    var webhookSchedules: Int
    var webhookUsers: Int
    var allowedSchedules: Int
    var rate: Double
    var wrkSeconds: Int
    var fixedRateSeconds: Double
    var underSyncIdleSeconds: Double
    var baselineDecisions: Int
    var driftRepeats: Int
    /// How long to wait for other work on the machine to calm down before a latency run.
    var quietWaitSeconds: Double
    /// The server of the postgres section; nil skips it (saying so in the report).
    var postgres: BenchPostgres?
    var shiftgate: String
    var wrk: String
    var output: String
    var keep: Bool
}

// Top-level code cannot use `@main`; parse here and run (as the simulator's executable does).
do {
    let command = try BenchCommand.parse()
    let settings = try command.settings()
    try await runBenchmarks(settings)
} catch {
    BenchCommand.exit(withError: error)
}
