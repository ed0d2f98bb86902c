import Foundation
import GRDB
import OnCallStore
import SQLiteStore
import PagerDutySimulator

/// One `shiftgate sync` run of one account size at one client pacing.
struct SyncRun {
    var schedules: Int
    /// Of `schedules`, how many are shift-based (v3).
    var shiftBased: Int
    /// Shift-based schedules whose final schedule shows an override overlapping another assignment
    /// of its own source in the window: the sync reads their overrides too (one request each).
    var shiftBasedWithOverrides: Int
    var users: Int
    /// Pages of `/users` any client must read: past 10,000 users PagerDuty cannot page the whole
    /// list, so it is one page of `/teams` and each team's pages.
    var userPages: Int
    var policies: Int
    var rateLimit: Int
    var usage: ChildUsage
    var requests: Int
    var rateLimited: Int
    var byPath: [String: Int]
    var info: SnapshotInfo?
    var databaseBytes: Int
    var walBytes: Int
    var failure: String?

    /// Pages of users, of both schedule lists and of policies, one request per schedule (the 8-day
    /// window is one chunk) plus one for the overrides of each shift-based schedule that shows some,
    /// and pages of /oncalls: what any client must spend.
    var lowerBound: Int? {
        // An allow-listed sync reads a few schedules: the bound below is for reading them all.
        guard let info, allowListed == 0 else { return nil }
        func pages(_ count: Int, _ size: Int = 100) -> Int { max(1, (count + size - 1) / size) }
        let shiftBasedListPages = shiftBased == 0 ? 1 : pages(shiftBased, 1000)
        return userPages + pages(schedules - shiftBased) + shiftBasedListPages + pages(policies) + schedules
            + shiftBasedWithOverrides + pages(info.onCallCount)
    }

    /// True when every user is in no team.
    var noTeams = false
    /// Schedules in AUTO_APPROVAL_PAGERDUTY_SCHEDULES for this run (0: none).
    var allowListed = 0
    /// A refresh 5 minutes after the full read, on the same cache.
    var refresh: RefreshRun?
    /// The refresh 5 minutes after that one, once the window's end is an hour old: a wide refresh.
    var wideRefresh: RefreshRun?

    /// Requests an hour with a sync every 5 minutes, once the first full read is done: 11 refreshes
    /// and one wide refresh, less the details each read in its 5 minutes (how many schedules' turns
    /// fall in one 5-minute slot varies from slot to slot), plus every schedule's details once, as
    /// the full read read them (each schedule's turn comes once an hour).
    var requestsPerHour: Int? {
        guard let refresh, let wideRefresh else { return nil }
        return 11 * (refresh.requests - refresh.detailRequests) + (wideRefresh.requests - wideRefresh.detailRequests)
            + SyncRun.detailRequests(byPath)
    }

    /// Requests for schedules' details: `/schedules/{id}`, `/v3/schedules/{id}` and its overrides.
    static func detailRequests(_ byPath: [String: Int]) -> Int {
        ["/schedules/{id}", "/v3/schedules/{id}", "/v3/schedules/{id}/overrides"].map { byPath[$0] ?? 0 }.reduce(0, +)
    }

    var kindLabel: String {
        (shiftBased == 0 ? "legacy only" : "\(grouped(shiftBased)) shift-based") + (noTeams ? ", users in no team" : "")
            + (allowListed > 0 ? ", allow-list of \(allowListed)" : "")
    }

    /// Past 10,000 users, when every user is in a team: one page of `/teams` and each team's pages.
    /// When some are in no team, ⌈users/100⌉ as if PagerDuty could page the whole list (it cannot:
    /// a client finds them however it can, and this is the figure issue #17 holds the sync to).
    static func userPages(_ account: SimulatedAccount) -> Int {
        func pages(_ count: Int) -> Int { max(1, (count + 99) / 100) }
        guard account.users.count > 10_000, account.users.allSatisfy({ !$0.teamIds.isEmpty }) else { return pages(account.users.count) }
        let sizes = Dictionary(account.users.flatMap(\.teamIds).map { ($0, 1) }, uniquingKeysWith: +)
        return pages(account.teams.count) + sizes.values.map(pages).reduce(0, +)
    }

    /// What PagerDuty's 960 requests per minute alone require for the requests made.
    var rateLimitSeconds: Double { Double(requests) * 60 / 960 }
}

struct RefreshRun {
    var requests: Int
    var usage: ChildUsage
    var failure: String?
    var byPath: [String: Int]
    var detailRequests: Int { SyncRun.detailRequests(byPath) }
}

func benchSync(lab: Lab, settings: BenchSettings, report: BenchReport) async throws {
    report.heading("Sync: API requests, 429s, wall time and memory")
    var runs: [SyncRun] = []
    for size in settings.syncSizes {
        var plans = settings.syncRateLimits.map { (share: 0.0, rateLimit: $0) }
        if settings.syncV3Share > 0, size.users <= settings.syncV3MaxUsers, let first = settings.syncRateLimits.first {
            plans.append((settings.syncV3Share, first))
        }
        for plan in plans {
            let account = SimulatedAccount.generate(users: size.users, schedules: size.schedules, seed: 11, now: Date(), v3Share: plan.share)
            report.progress("sync: \(size.schedules) schedules (v3 share \(plan.share)) / \(size.users) users at --rate-limit \(plan.rateLimit)")
            runs.append(try await syncOnce(account: account, rateLimit: plan.rateLimit, lab: lab))
            let run = runs[runs.count - 1]
            report.progress("  \(run.requests) requests, \(run.rateLimited) × 429, \(fmt(run.usage.wallSeconds)) s, \(fmt(run.usage.peakRSSMiB)) MiB\(run.failure.map { " — " + $0 } ?? "")")
        }
    }
    if settings.syncAllowList > 0, let rateLimit = settings.syncRateLimits.first {
        for size in settings.syncSizes where size.users <= settings.syncV3MaxUsers {
            let account = SimulatedAccount.generate(users: size.users, schedules: size.schedules, seed: 11, now: Date())
            let allowed = account.schedules.prefix(settings.syncAllowList).map(\.id)
            report.progress("sync: \(size.schedules) schedules / \(size.users) users with an allow-list of \(allowed.count) at --rate-limit \(rateLimit)")
            var run = try await syncOnce(account: account, rateLimit: rateLimit, lab: lab, allowList: allowed)
            run.allowListed = allowed.count
            runs.append(run)
            report.progress("  \(run.requests) requests, refresh \(run.refresh?.requests ?? -1)\(run.failure.map { " — " + $0 } ?? "")")
        }
    }
    for size in settings.syncNoTeamSizes {
        guard let rateLimit = settings.syncRateLimits.first else { break }
        var account = SimulatedAccount.generate(users: size.users, schedules: size.schedules, seed: 11, now: Date())
        for index in account.users.indices { account.users[index].teamIds = [] }
        report.progress("sync: \(size.schedules) schedules / \(size.users) users, every user in no team, at --rate-limit \(rateLimit)")
        var run = try await syncOnce(account: account, rateLimit: rateLimit, lab: lab)
        run.noTeams = true
        runs.append(run)
        report.progress("  \(run.requests) requests, \(run.rateLimited) × 429, \(fmt(run.usage.wallSeconds)) s\(run.failure.map { " — " + $0 } ?? "")")
    }
    report.line("""
        The real `shiftgate sync` (release build, a child process) against the simulator on loopback with PagerDuty's \
        default rate limit (960 requests per key per fixed 60 s window), window 1 day back and 7 days ahead, a fresh \
        database per run, default concurrency (4).\n
        """)
    report.table(["schedules / users (policies)", "schedule kinds", "--rate-limit", "requests", "lower bound", "÷ bound", "429s", "wall", "rate-limit time", "wall ÷ rate-limit time",
                  "peak RSS", "database", "shifts / on-call entries", "result"], runs.map { run in
        let bound = run.lowerBound
        return [
            "\(grouped(run.schedules)) / \(grouped(run.users)) (\(grouped(run.policies)))", run.kindLabel, "\(run.rateLimit)/min", grouped(run.requests),
            bound.map(grouped) ?? "–", bound.map { fmt(Double(run.requests) / Double($0), 3) } ?? "–",
            "\(run.rateLimited) (\(fmt(100 * Double(run.rateLimited) / Double(max(1, run.requests)), 2)) %)",
            "\(fmt(run.usage.wallSeconds)) s", run.failure == nil ? "\(fmt(run.rateLimitSeconds)) s" : "–",
            run.failure == nil ? fmt(run.usage.wallSeconds / run.rateLimitSeconds, 3) : "–",
            "\(fmt(run.usage.peakRSSMiB)) MiB", run.failure == nil ? mib(bytes: run.databaseBytes) : "–",
            run.info.map { "\(grouped($0.shiftCount)) / \(grouped($0.onCallCount))" } ?? "–",
            run.failure.map { "**failed**: \($0)" } ?? "ok",
        ]
    })
    for run in runs where run.failure == nil {
        let paths = run.byPath.sorted { $0.key < $1.key }.map { "\($0.key) \(grouped($0.value))" }.joined(separator: ", ")
        report.line("- \(grouped(run.schedules)) / \(grouped(run.users)), \(run.kindLabel), at \(run.rateLimit)/min: \(paths); CPU \(fmt(run.usage.userSeconds)) s user + \(fmt(run.usage.systemSeconds)) s system.")
    }
    report.line("\n**Steady state** (issue #17): a sync every 5 minutes with `--full-every 1h`. After the first full read no sync reads everything: each refresh reads whole the schedules whose turn came in the last 5 minutes (a twelfth of them), and once an hour a wide refresh also moves the window and lists every user. An hour is 11 refreshes and 1 wide refresh, each without the schedule details it read in its turn, plus every schedule's details once (as many requests as the full read spent on them): how many turns fall in one 5-minute slot varies from slot to slot, and over the hour each schedule has one. Both are the real `shiftgate sync` on the full read's cache, against a fresh simulator serving the same account, after the current snapshot's start (and, for the wide one, its window's end) was set back as a timer 5 minutes later (and an hour after the last wide read) would find it.\n")
    report.table(["schedules / users", "schedule kinds", "full read (first sync only)", "full read wall", "refresh (details in turn)", "refresh wall", "refresh peak RSS", "wide refresh (details in turn)", "wide wall", "wide peak RSS",
                  "requests an hour", "before (12 full reads)", "share of before", "result"],
                 runs.filter { $0.failure == nil && $0.refresh != nil }.map { run in
        let refresh = run.refresh!
        let wide = run.wideRefresh
        let hour = run.requestsPerHour ?? 0
        let before = 12 * run.requests
        let failure = refresh.failure ?? wide?.failure ?? (wide == nil ? "no wide refresh" : nil)
        return [
            "\(grouped(run.schedules)) / \(grouped(run.users))", run.kindLabel, grouped(run.requests), "\(fmt(run.usage.wallSeconds)) s",
            "\(grouped(refresh.requests)) (\(grouped(refresh.detailRequests)))",
            "\(fmt(refresh.usage.wallSeconds)) s", "\(fmt(refresh.usage.peakRSSMiB)) MiB",
            wide.map { "\(grouped($0.requests)) (\(grouped($0.detailRequests)))" } ?? "–", wide.map { "\(fmt($0.usage.wallSeconds)) s" } ?? "–", wide.map { "\(fmt($0.usage.peakRSSMiB)) MiB" } ?? "–",
            grouped(hour), grouped(before),
            "\(fmt(100 * Double(hour) / Double(max(1, before)), 1)) %", failure.map { "**failed**: \($0)" } ?? "ok",
        ]
    })
    for run in runs where run.failure == nil {
        for (name, refresh) in [("refresh", run.refresh), ("wide refresh", run.wideRefresh)] {
            guard let refresh else { continue }
            let paths = refresh.byPath.sorted { $0.key < $1.key }.map { "\($0.key) \(grouped($0.value))" }.joined(separator: ", ")
            report.line("- \(name) of \(grouped(run.schedules)) / \(grouped(run.users)), \(run.kindLabel): \(paths); CPU \(fmt(refresh.usage.userSeconds)) s user + \(fmt(refresh.usage.systemSeconds)) s system.")
        }
    }
    report.line("""
        \n_How measured: requests and 429s are the simulator's own counts (every request it received, retries included). \
        Lower bound = ⌈users/100⌉ (past 10,000 users all in teams: one page of `/teams` plus ⌈members/100⌉ per team) + ⌈layer-based schedules/100⌉ \
        + ⌈shift-based schedules/1,000⌉ (`/v3/schedules` pages reach 1,000) + ⌈policies/100⌉ + schedules + the shift-based schedules \
        whose final schedule shows an override overlapping another assignment of its own rotation (their overrides say whom each \
        replaced, which such a schedule needs whatever PagerDuty does about the replaced member) + ⌈on-call entries/100⌉ \
        (PagerDuty's largest page is 100 elsewhere; the on-call entries are the ones the snapshot stored). Rate-limit time = requests ÷ 960 per minute; \
        a client paced at 900/min needs 960/900 = 1.067× that by design, and under a fixed window a client may finish a little \
        under it (a window's 960 can be spent in less than its 60 s). Wall time is the child's, start to exit; peak RSS is GNU \
        time's `%M` for the child (`/usr/bin/time -f %M shiftgate sync …`; `wait4` on a `posix_spawn`ed child would report the \
        harness's own RSS, see ChildProcess.swift). Database = the SQLite file after a WAL checkpoint._
        """)
}

func syncOnce(account: SimulatedAccount, rateLimit: Int, lab: Lab, allowList: [String] = []) async throws -> SyncRun {
    let environment = allowList.isEmpty ? [:] : ["AUTO_APPROVAL_PAGERDUTY_SCHEDULES": allowList.joined(separator: ",")]
    let key = "sync-key"
    let simulator = PagerDutySimulator(account: account, options: SimulatorOptions(apiKeys: [key]))
    let running = try await RunningSimulator.start(simulator)
    // One database per run: the kind of account is in the name, so each run starts from a fresh file.
    let shiftBasedCount = account.schedules.filter { $0.kind == .shiftBased }.count
    let inNoTeam = account.users.filter(\.teamIds.isEmpty).count
    let label = "sync-\(account.schedules.count)x\(account.users.count)-v3-\(shiftBasedCount)-noteam-\(inNoTeam)-allow-\(allowList.count)-\(rateLimit)"
    let database = lab.path("\(label).sqlite")
    let (usage, child) = try await lab.sync(apiURL: running.baseURL, key: key, database: database, rateLimit: rateLimit, label: label,
                                            environment: environment)
    let stats = simulator.stats
    await running.shutdown()

    let shiftBased = account.schedules.filter { $0.kind == .shiftBased }
    let windowStart = Date().addingTimeInterval(-86_400)
    // The sync reads a schedule's overrides when an override overlaps another assignment of its own
    // rotation or custom shift (see `ScheduleRows.mayListReplacedMembers`).
    let withOverrides = shiftBased.filter { schedule in
        let assignments = schedule.renderShifts(since: windowStart, until: windowStart.addingTimeInterval(8 * 86_400), overflow: true)
        return assignments.contains { override in
            override.source.isOverride && assignments.contains { other in
                !other.source.isOverride && other.start < override.end && override.start < other.end
                    && (override.source.rotationId.map { $0 == other.source.rotationId } ?? (override.source.customShiftId == other.source.customShiftId))
            }
        }
    }.count
    var run = SyncRun(schedules: account.schedules.count, shiftBased: shiftBased.count, shiftBasedWithOverrides: withOverrides, users: account.users.count, userPages: SyncRun.userPages(account), policies: account.escalationPolicies.count,
                      rateLimit: rateLimit, usage: usage, requests: stats.requests, rateLimited: stats.rateLimited,
                      byPath: stats.requestsByPath, info: nil, databaseBytes: 0, walBytes: 0, failure: nil)
    if !usage.succeeded {
        let message = child.stderr.split(separator: "\n").last { $0.contains("shiftgate:") } ?? child.stderr.split(separator: "\n").last ?? ""
        run.failure = "exit \(usage.status): \(message.replacingOccurrences(of: "shiftgate: ", with: ""))"
        return run
    }
    run.info = try OnCallDatabase(path: database, mustExist: true).currentSnapshotInfo()
    run.walBytes = fileSize(database + "-wal")

    let queue = try DatabaseQueue(path: database)
    try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    try queue.close()
    run.databaseBytes = fileSize(database)
    // The next sync on the same cache, as the timer would start it 5 minutes later: a refresh. Then
    // the one after, when the window's end was last moved an hour ago: a wide refresh.
    run.refresh = try await refreshOnce(account: account, key: key, database: database, rateLimit: rateLimit, lab: lab,
                                        label: label + "-refresh", environment: environment, windowMovedAgo: 300)
    run.wideRefresh = try await refreshOnce(account: account, key: key, database: database, rateLimit: rateLimit, lab: lab,
                                            label: label + "-wide", environment: environment, windowMovedAgo: 3600)
    try? FileManager.default.removeItem(atPath: database)
    return run
}

/// Sets the current snapshot back as if it had started 5 minutes ago and its window's end had been
/// set `windowMovedAgo` seconds ago (the shifts stay as read), then runs `shiftgate sync` on it.
func refreshOnce(account: SimulatedAccount, key: String, database: String, rateLimit: Int, lab: Lab, label: String,
                 environment: [String: String], windowMovedAgo: Int64) async throws -> RefreshRun {
    let now = Date().unixSeconds
    let queue = try DatabaseQueue(path: database)
    try await queue.write { db in
        try db.execute(sql: """
            UPDATE snapshot SET started_at = ?, window_start = ?, window_end = ?
            WHERE id = (SELECT current_snapshot_id FROM sync_state WHERE id = 1)
            """, arguments: [now - 300, now - 300 - 86_400, now - windowMovedAgo + 7 * 86_400])
    }
    try queue.close()
    let simulator = PagerDutySimulator(account: account, options: SimulatorOptions(apiKeys: [key]))
    let running = try await RunningSimulator.start(simulator)
    let (usage, child) = try await lab.sync(apiURL: running.baseURL, key: key, database: database, rateLimit: rateLimit,
                                            label: label, environment: environment)
    await running.shutdown()
    let failure: String? = usage.succeeded && child.stdout.contains("(refresh)") ? nil
        : "exit \(usage.status): \(child.stdout.prefix(200)) \(child.stderr.suffix(300))"
    return RefreshRun(requests: simulator.stats.requests, usage: usage, failure: failure, byPath: simulator.stats.requestsByPath)
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}
