import ArgumentParser
import Foundation
import Hummingbird
import PagerDutySimulator

/// `pagerduty-simulator`: serves a simulated PagerDuty account on HTTP until SIGTERM or SIGINT.
struct SimulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pagerduty-simulator",
        abstract: "Serve a stand-in PagerDuty REST API (v2, and v3 shift-based schedules) for tests, demos and benchmarks.",
        discussion: """
            The account comes from a scenario file (--scenario) or is generated (--users/--schedules, \
            deterministic for a --seed; 50 users and 10 schedules when neither is given). Clients use \
            the printed URL as PagerDuty's base URL and send `Authorization: Token token=KEY`.

            A generated account has both kinds of schedule: --v3-share of them (0.5 unless given) are \
            shift-based, served under /v3/schedules with rotations, custom shifts, scoped overrides and \
            several people on call at once; the rest are layer-based, under /schedules. \
            --v3-share 0 gives the layer-based-only account of earlier versions.

            Admin routes (no key): GET /_simulator/stats, POST /_simulator/stats/reset, \
            GET|PUT /_simulator/account, GET|PUT /_simulator/faults, \
            POST /_simulator/schedules/ID/upgrade (a layer-based schedule becomes shift-based in place).

            Examples:
              pagerduty-simulator
              pagerduty-simulator --port 8090 --users 2000 --schedules 1000 --seed 7
              pagerduty-simulator --users 200 --schedules 40 --v3-share 0
              pagerduty-simulator --users 200 --schedules 40 --v3-share 1
              pagerduty-simulator --scenario demo.json --api-key demo-key --latency 50
              pagerduty-simulator --users 20 --schedules 5 --write-scenario demo.json
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8090

    @Option(help: "A scenario file (a SimulatedAccount as JSON) to serve.")
    var scenario: String?

    @Option(help: "Generate an account with this many users.")
    var users: Int?

    @Option(help: "Generate an account with this many schedules.")
    var schedules: Int?

    @Option(help: "Seed for the generated account.")
    var seed: UInt64 = 1

    @Option(name: .customLong("v3-share"), help: "Share of generated schedules that are shift-based (v3), 0 to 1 (default 0.5).")
    var v3Share: Double?

    @Option(name: .customLong("rate-limit"), help: "Requests per key per rate-limit window.")
    var rateLimit = 960

    @Option(name: .customLong("rate-limit-window"), help: "Length of the rate-limit window in seconds.")
    var rateLimitWindow = 60.0

    @Option(help: "Milliseconds of latency added to every PagerDuty route.")
    var latency = 0

    @Option(name: .customLong("api-key"), help: "An accepted API key (repeat for several).")
    var apiKeys: [String] = []

    @Option(name: .customLong("write-scenario"), help: "Also write the account served to this file (then serve).")
    var writeScenario: String?

    func validate() throws {
        if scenario != nil, users != nil || schedules != nil {
            throw ValidationError("Give either --scenario or --users/--schedules, not both.")
        }
        if scenario != nil, v3Share != nil {
            throw ValidationError("--v3-share shapes a generated account; a scenario file says each schedule's kind itself.")
        }
        if let users, users < 0 { throw ValidationError("--users must not be negative.") }
        if let schedules, schedules < 0 { throw ValidationError("--schedules must not be negative.") }
        if rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1.") }
        if rateLimitWindow <= 0 { throw ValidationError("--rate-limit-window must be positive.") }
        if latency < 0 { throw ValidationError("--latency must not be negative.") }
        if let v3Share, !(0...1).contains(v3Share) { throw ValidationError("--v3-share must be between 0 and 1.") }
        if !(0...65_535).contains(port) { throw ValidationError("--port must be between 0 and 65535.") }
    }

    /// Serves until SIGTERM or SIGINT.
    func serve() async throws {
        let account: SimulatedAccount
        if let scenario {
            do {
                account = try SimulatedAccount.load(from: URL(fileURLWithPath: scenario))
            } catch {
                throw ScenarioError(description: "Cannot read the scenario \(scenario): \(error)")
            }
        } else {
            account = SimulatedAccount.generate(users: users ?? 50, schedules: schedules ?? 10, seed: seed, v3Share: v3Share ?? 0.5)
        }
        if let writeScenario {
            try account.write(to: URL(fileURLWithPath: writeScenario))
        }
        let keys = apiKeys.isEmpty ? ["simulated-key"] : apiKeys
        let simulator = PagerDutySimulator(account: account, options: SimulatorOptions(
            apiKeys: Set(keys), rateLimitPerWindow: rateLimit, rateLimitWindowSeconds: rateLimitWindow,
            faults: SimulatorFaults(latencyMilliseconds: latency)
        ))
        let host = self.host
        let shiftBased = account.schedules.filter { $0.kind == .shiftBased }.count
        let summary = "\(account.users.count) users, \(account.schedules.count) schedules (\(shiftBased) shift-based), "
            + "\(account.escalationPolicies.count) escalation policies"
        let app = buildSimulatorApplication(simulator, host: host, port: port) { boundPort in
            let urlHost = host == "0.0.0.0" ? "127.0.0.1" : host
            let line = "PagerDuty simulator on http://\(urlHost):\(boundPort) (API keys: \(keys.joined(separator: ", ")); \(summary))\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
    }
}

/// A scenario file that cannot be read: exit status 1 with this message.
struct ScenarioError: Error, CustomStringConvertible {
    var description: String
}

// Top-level code in main.swift cannot use `@main`, and ArgumentParser's `main()` called from here
// would take its synchronous path; so parse here and serve.
do {
    let command = try SimulatorCommand.parse()
    try await command.serve()
} catch {
    SimulatorCommand.exit(withError: error)
}
