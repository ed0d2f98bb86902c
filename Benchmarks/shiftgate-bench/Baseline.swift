import Foundation
import PagerDuty
import PagerDutySimulator
import Timestamps

/// The original integration's way to decide, kept here and not in the product: per webhook request,
/// `GET /schedules` (the first page, PagerDuty's default limit), then for each allowed schedule on it
/// `GET /schedules/{id}/users?since=T-1m&until=T+5m`, and approve when the requester's email is among
/// the users. Requests go one after another, as the original's loop did, with no pacing of its own.
struct PerRequestBaseline {
    let client: PagerDutyClient
    let allowList: Set<String>

    private struct SchedulesPage: Decodable {
        struct Item: Decodable {
            var id: String
            var name: String?
        }
        var schedules: [Item]
    }

    private struct ScheduleUsers: Decodable {
        struct Item: Decodable {
            var email: String?
        }
        var users: [Item]
    }

    /// Approved, and the schedules the requester is on call in.
    func decide(email: String, now: Date) async throws -> (approved: Bool, schedules: [String]) {
        let page = try JSONDecoder().decode(SchedulesPage.self, from: try await client.get("/schedules"))
        let since = RFC3339.format(now.addingTimeInterval(-60))
        let until = RFC3339.format(now.addingTimeInterval(300))
        var onCallIn: [String] = []
        for schedule in page.schedules where allowList.contains(schedule.id) || schedule.name.map(allowList.contains) == true {
            let data = try await client.get("/schedules/\(schedule.id)/users", query: [
                URLQueryItem(name: "since", value: since), URLQueryItem(name: "until", value: until),
            ])
            let users = try JSONDecoder().decode(ScheduleUsers.self, from: data)
            if users.users.contains(where: { $0.email?.caseInsensitiveCompare(email) == .orderedSame }) {
                onCallIn.append(schedule.id)
            }
        }
        return (!onCallIn.isEmpty, onCallIn)
    }
}

func benchBaseline(_ fixture: WebhookFixture, cached: WebhookNumbers?, settings: BenchSettings, report: BenchReport) async throws {
    report.heading("Per-request PagerDuty baseline (the original integration's way)")
    report.progress("baseline: \(settings.baselineDecisions) decisions against the simulator with 50 ms latency")
    let latency = 50
    let key = "baseline-key"
    // Its own simulator (same account), so that its rate-limit window is its own.
    let simulator = PagerDutySimulator(account: fixture.originalAccount, options: SimulatorOptions(
        apiKeys: [key], faults: SimulatorFaults(latencyMilliseconds: latency)))
    let running = try await RunningSimulator.start(simulator)
    // No pacing (as the original had none) and no retries, so that a 429 shows.
    let client = PagerDutyClient(configuration: PagerDutyConfiguration(
        baseURL: running.baseURL, apiKey: key, concurrency: 1, requestsPerMinute: 1_000_000, retry: RetryPolicy(maxAttempts: 1)))
    let baseline = PerRequestBaseline(client: client, allowList: Set(fixture.allowList))

    var onLatencies: [UInt64] = []
    var offLatencies: [UInt64] = []
    var disagreements = 0
    var failures = 0
    do {
        // Two decisions to open the connection, not counted.
        for email in [fixture.onCall.email, fixture.offCall.email] { _ = try? await baseline.decide(email: email.lowercased(), now: Date()) }
        simulator.resetStats()
        for position in 0..<settings.baselineDecisions {
            let onCall = position % 2 == 0
            let email = (onCall ? fixture.onCall.email : fixture.offCall.email).lowercased()
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                let decision = try await baseline.decide(email: email, now: Date())
                let elapsed = DispatchTime.now().uptimeNanoseconds - started
                if onCall { onLatencies.append(elapsed) } else { offLatencies.append(elapsed) }
                if decision.approved != onCall { disagreements += 1 }
            } catch {
                failures += 1
            }
        }
    }
    let stats = simulator.stats
    await running.shutdown()

    let all = Percentiles(nanoseconds: onLatencies + offLatencies)
    let on = Percentiles(nanoseconds: onLatencies)
    let off = Percentiles(nanoseconds: offLatencies)
    let decisions = onLatencies.count + offLatencies.count
    let perDecision = Double(stats.requests) / Double(max(1, decisions + failures))
    report.line("""
        \(decisions) decisions (on call and off call alternating, one at a time) against the simulator serving the same \
        account with \(latency) ms added to every PagerDuty request (SimulatorFaults.latencyMilliseconds) and PagerDuty's \
        rate limit (960 per minute per key). The allow list is the same \(fixture.allowList.count) schedules, so each decision \
        asks `GET /schedules` and then \(fixture.allowList.count) × `GET /schedules/{id}/users`.\n
        """)
    var rows: [[String]] = [
        ["per-request PagerDuty, on call", "\(on.count)", micros(on.p50), micros(on.p99), micros(on.max), fmt(perDecision, 1)],
        ["per-request PagerDuty, off call", "\(off.count)", micros(off.p50), micros(off.p99), micros(off.max), fmt(perDecision, 1)],
        ["per-request PagerDuty, all", "\(all.count)", micros(all.p50), micros(all.p99), micros(all.max), fmt(perDecision, 1)],
    ]
    if let cached {
        rows.append(["Shiftgate cache (webhook section, \(grouped(Int(settings.rate)))/s), on call", grouped(cached.onCall.completed),
                     micros(cached.onCall.latency.p50), micros(cached.onCall.latency.p99), micros(cached.onCall.latency.max), "0"])
        rows.append(["Shiftgate cache (webhook section, \(grouped(Int(settings.rate)))/s), off call", grouped(cached.offCall.completed),
                     micros(cached.offCall.latency.p50), micros(cached.offCall.latency.p99), micros(cached.offCall.latency.max), "0"])
    }
    report.table(["way", "decisions", "p50", "p99", "max", "PagerDuty requests / decision"], rows)
    let byPath = stats.requestsByPath.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    report.line("PagerDuty requests: \(stats.requests) (\(byPath)); 429s: \(stats.rateLimited); failed decisions: \(failures); decisions that differ from the cache's: \(disagreements).")
    if let cached {
        let cachedP50 = (cached.onCall.latency.p50 + cached.offCall.latency.p50) / 2
        let cachedP99 = max(cached.onCall.latency.p99, cached.offCall.latency.p99)
        report.line("""
            **Ratio**: the per-request way's p50 is **\(fmt(all.p50 / cachedP50, 0))×** the cache's p50 \
            (\(micros(all.p50)) vs \(micros(cachedP50))), its p99 \(fmt(all.p99 / cachedP99, 0))× the cache's p99 \
            (\(micros(all.p99)) vs \(micros(cachedP99))), and it spends \(fmt(perDecision, 1)) PagerDuty requests per decision where \
            the cache spends none. At \(fmt(perDecision, 0)) requests per decision, PagerDuty's 960 requests per minute per key caps \
            the per-request way at \(fmt(960 / perDecision, 0)) decisions a minute, shared with everything else that uses the key.
            """)
    }
    report.line("_How measured: `PerRequestBaseline` in Benchmarks/shiftgate-bench/Baseline.swift, over the product's PagerDuty client with pacing and retries off; each decision timed from its first request to its last reply (wall clock, in process). Requests counted by the simulator._")
}
