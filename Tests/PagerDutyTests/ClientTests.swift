import Foundation
import Testing
import TestSupport
import PagerDutySimulator
@testable import PagerDuty

/// The client against the simulator over real HTTP on loopback.
@Suite struct ClientTests {
    func client(_ running: RunningSimulator, key: String = testAPIKey, maxRequests: Int? = nil, retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.2)) -> PagerDutyClient {
        PagerDutyClient(configuration: PagerDutyConfiguration(baseURL: running.baseURL, apiKey: key, concurrency: 4,
                                                              requestsPerMinute: 6000, maxRequests: maxRequests, requestTimeout: 30, retry: retry))
    }

    @Test func readsEveryPage() async throws {
        let account = SimulatedAccount.generate(users: 250, schedules: 3, seed: 7)
        try await withSimulator(account) { running, _ in
            let client = client(running)
            let users = try await client.users()
            #expect(users.count == 250)
            #expect(Set(users.map(\.id)).count == 250)
            // Three pages, then one `total` probe: the list held still while it was read. A request
            // retried on a loaded machine counts twice.
            let usage = client.usage
            #expect(usage.requests - usage.retries == 4)
            #expect((4...usage.requests).contains(running.simulator.stats.requestsByPath["/users"] ?? 0))
        }
    }

    @Test func aListThatKeepsChangingIsReadAgainThenRefused() async throws {
        let account = SimulatedAccount.generate(users: 250, schedules: 3, seed: 7)
        try await withSimulator(account) { running, _ in
            running.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 20))
            // Someone is added every 5 ms, so every reading of the three pages sees the list move.
            let churn = Task {
                var added = 0
                while !Task.isCancelled {
                    running.simulator.updateAccount { account in
                        account.users.append(SimulatedUser(id: String(format: "PNEW%03d", added), name: "New \(added)", email: "new\(added)@example.com"))
                    }
                    added += 1
                    try? await Task.sleep(nanoseconds: 5_000_000)
                }
            }
            defer { churn.cancel() }
            let client = client(running)
            do {
                let users = try await client.users()
                Issue.record("a list that never held still was taken: \(users.count) users")
            } catch let error as PagerDutyError {
                #expect(error == .listUnstable(path: "/users", attempts: PagerDutyClient.listAttempts))
                #expect(error.description.contains("/users changed while it was read, 3 times in a row"))
            }
            // Each reading: three or four pages and a probe.
            #expect(client.usage.requests >= 3 * 4 && client.usage.requests <= 3 * 6)
        }
    }

    /// Lists without a `total` (the shift-based schedules list) are read with pages that overlap by
    /// one entry: one request more than plain paging per page boundary, no probe.
    @Test func aListWithoutATotalIsReadWithOverlappingPages() async throws {
        let account = SimulatedAccount.generate(users: 250, schedules: 3, seed: 7)
        try await withSimulator(account) { running, _ in
            let client = client(running)
            let users: [Wire.User] = try await client.listWithoutTotal("/users", itemsKey: "users", limit: 100)
            #expect(users.map(\.id) == account.users.map(\.id).sorted())
            // Offsets 0, 99 and 198.
            #expect(client.usage.requests - client.usage.retries == 3)
        }
    }

    /// A deletion before the page boundary between two pages moves the next page's first entry: the
    /// list is read again, and nobody is skipped.
    @Test func aListWithoutATotalThatChangesBetweenPagesIsReadAgain() async throws {
        let account = SimulatedAccount.generate(users: 250, schedules: 3, seed: 7)
        let doomed = account.users.map(\.id).sorted()[5]
        try await withSimulator(account) { running, _ in
            running.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 300))
            let deleter = Task {
                // The second page has been admitted and waits out its latency: delete from the first.
                while running.simulator.stats.requests < 2 { try? await Task.sleep(nanoseconds: 5_000_000) }
                running.simulator.updateAccount { $0.users.removeAll { $0.id == doomed } }
            }
            let client = client(running)
            let users: [Wire.User] = try await client.listWithoutTotal("/users", itemsKey: "users", limit: 100)
            await deleter.value
            #expect(Set(users.map(\.id)) == Set(account.users.map(\.id)).subtracting([doomed]))
            #expect(users.count == 249)
            // Two pages of the first reading, three of the second.
            #expect(client.usage.requests - client.usage.retries == 5)
        }
    }

    @Test func aRefusedKeySaysSo() async throws {
        try await withSimulator(.small()) { running, _ in
            do {
                _ = try await client(running, key: "wrong-key").users()
                Issue.record("a wrong key was accepted")
            } catch let error as PagerDutyError {
                #expect(error.isAuthenticationFailure)
                #expect(error.description.contains("refused the API key"))
                #expect(!error.description.contains("wrong-key"))
            }
        }
    }

    @Test func recoversFromTransient5xx() async throws {
        try await withSimulator(.small()) { running, _ in
            var faults = SimulatorFaults()
            faults.failingPaths = ["/users": 503]
            faults.failuresRemaining = 2
            running.simulator.setFaults(faults)
            let client = client(running)
            let users = try await client.users()
            #expect(users.count == SimulatedAccount.small().users.count)
            #expect(client.usage.retries == 2)
        }
    }

    @Test func persistent5xxFailsWithPagerDutysMessage() async throws {
        try await withSimulator(.small()) { running, _ in
            var faults = SimulatorFaults()
            faults.failingPaths = ["/escalation_policies": 502]
            running.simulator.setFaults(faults)
            let client = client(running)
            await #expect(throws: PagerDutyError.self) { try await client.escalationPolicies() }
            #expect(client.usage.requests == 3)
        }
    }

    @Test func honoursTheRequestBudget() async throws {
        let account = SimulatedAccount.generate(users: 450, schedules: 2, seed: 3)
        try await withSimulator(account) { running, _ in
            let client = client(running, maxRequests: 2)
            await #expect(throws: PagerDutyError.budgetExhausted(limit: 2)) { try await client.users() }
        }
    }

    @Test func malformedJSONIsAClearError() async throws {
        try await withSimulator(.small()) { running, _ in
            var faults = SimulatorFaults()
            faults.malformedPaths = ["/teams"]
            running.simulator.setFaults(faults)
            do {
                _ = try await client(running).teams()
                Issue.record("malformed JSON was accepted")
            } catch let error as PagerDutyError {
                guard case .invalidReply(let path, _) = error else { Issue.record("unexpected \(error)"); return }
                #expect(path == "/teams")
            }
        }
    }

    @Test func waitsOutA429AndFinishes() async throws {
        var options = SimulatorOptions()
        options.apiKeys = [testAPIKey]
        options.rateLimitPerWindow = 5
        options.rateLimitWindowSeconds = 1
        let account = SimulatedAccount.generate(users: 900, schedules: 2, seed: 5)
        try await withSimulator(account, options: options) { running, _ in
            let client = PagerDutyClient(configuration: PagerDutyConfiguration(
                baseURL: running.baseURL, apiKey: testAPIKey, concurrency: 8, requestsPerMinute: 6000, requestTimeout: 30,
                retry: RetryPolicy(maxAttempts: 8, baseDelay: 0.05, maxDelay: 0.5, maxRateLimitWait: 2)))
            let users = try await client.users()
            #expect(users.count == 900)
            #expect(client.usage.rateLimited > 0)
            #expect(running.simulator.stats.rateLimited == client.usage.rateLimited)
        }
    }
}
