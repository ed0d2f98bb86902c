import Foundation
import PagerDutySimulator
import Testing

/// Injected faults, statistics and the `/_simulator/…` admin routes.
@Suite struct FaultTests {
    @Test func failingPathAnswers5xxForTheCountThenRecovers() async throws {
        try await withLiveSimulator { live in
            live.simulator.setFaults(SimulatorFaults(failingPaths: ["/schedules/": 503], failuresRemaining: 2))
            let primary = "/schedules/\(SmallAccountIDs.primary)"
            let first = try await live.get(primary)
            #expect(first.status == 503)
            #expect(first.error["message"] is String)
            #expect(first.error["code"] is Int)
            #expect(try await live.get("/schedules").status == 200, "the prefix /schedules/ does not match /schedules")
            #expect(try await live.get(primary).status == 503)
            #expect(try await live.get(primary).status == 200)
            #expect(live.simulator.faults.failuresRemaining == 0)
            #expect(live.simulator.stats.failures == 2)
        }
    }

    @Test func failingPathFailsForeverWithoutACount() async throws {
        try await withLiveSimulator { live in
            live.simulator.setFaults(SimulatorFaults(failingPaths: ["/teams": 500]))
            for _ in 0..<3 {
                let failed = try await live.get("/teams")
                #expect(failed.status == 500)
            }
            live.simulator.setFaults(SimulatorFaults())
            let recovered = try await live.get("/teams")
            #expect(recovered.status == 200)
        }
    }

    @Test func truncatedAndMalformedBodiesAre200AndNotJSON() async throws {
        try await withLiveSimulator { live in
            let whole = try await live.get("/users")
            #expect(whole.isJSON)

            live.simulator.setFaults(SimulatorFaults(truncatedPaths: ["/users"]))
            let truncated = try await live.get("/users")
            #expect(truncated.status == 200)
            #expect(truncated.body.count == whole.body.count / 2)
            #expect(truncated.body == whole.body.prefix(whole.body.count / 2))
            #expect(!truncated.isJSON)

            live.simulator.setFaults(SimulatorFaults(malformedPaths: ["/users"]))
            let malformed = try await live.get("/users")
            #expect(malformed.status == 200)
            #expect(!malformed.isJSON)
            #expect(live.simulator.stats.failures == 2)
        }
    }

    @Test func latencyAndStallsDelayTheAnswer() async throws {
        try await withLiveSimulator { live in
            live.simulator.setFaults(SimulatorFaults(latencyMilliseconds: 250, stallPaths: ["/teams": 1]))
            let clock = ContinuousClock()
            var status = 0
            let latency = try await clock.measure { status = try await live.get("/users").status }
            #expect(status == 200)
            #expect(latency >= .milliseconds(250))
            // Only the lower bound is the simulator's doing; a loaded CI machine may add to it.
            #expect(latency < .seconds(10))
            let stalled = try await clock.measure { status = try await live.get("/teams").status }
            #expect(status == 200)
            #expect(stalled >= .milliseconds(1250))
        }
    }

    @Test func aStalledRequestDoesNotHoldUpShutdown() async throws {
        let running = try await RunningSimulator.start(PagerDutySimulator(account: .small(now: testNow)))
        running.simulator.setFaults(SimulatorFaults(stallPaths: ["/oncalls": 30]))
        let live = LiveSimulator(running: running)
        let request = Task { try? await live.request("/oncalls", timeout: 60) }
        while running.simulator.stats.requests == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let clock = ContinuousClock()
        let shutdown = await clock.measure { await running.shutdown() }
        #expect(shutdown < .seconds(5))
        let reply = await request.value
        #expect(reply == nil, "the stalled request got no answer")
    }

    @Test func revokedKeysAreRefusedAfterTheirCount() async throws {
        try await withLiveSimulator { live in
            live.simulator.setFaults(SimulatorFaults(revokeKeyAfterRequests: 2))
            #expect(try await live.get("/users").status == 200)
            #expect(try await live.get("/teams").status == 200)
            let refused = try await live.get("/users")
            #expect(refused.status == 401)
            #expect(refused.error["code"] as? Int == 2006)
            #expect(try await live.get("/schedules").status == 401)
        }
    }

    @Test func statsCountPagerDutyRoutesOnly() async throws {
        try await withLiveSimulator { live in
            _ = try await live.get("/users")
            _ = try await live.get("/users/\(SmallAccountIDs.alice)")
            _ = try await live.get("/schedules/\(SmallAccountIDs.primary)")
            _ = try await live.get("/schedules/\(SmallAccountIDs.secondary)")
            _ = try await live.get("/schedules/\(SmallAccountIDs.primary)/users")
            _ = try await live.get("/oncalls")
            _ = try await live.get("/users/PNOSUCH")
            _ = try await live.get("/users", key: "wrong")
            _ = try await live.get("/_simulator/stats", key: nil)

            let stats = live.simulator.stats
            #expect(stats.requests == 8)
            #expect(stats.requestsByPath == [
                "/users": 2, "/users/{id}": 2, "/schedules/{id}": 2, "/schedules/{id}/users": 1, "/oncalls": 1,
            ])
            #expect(stats.failures == 2, "the 404 and the 401")
            #expect(stats.rateLimited == 0)

            let overHTTP = try await live.get("/_simulator/stats", key: nil)
            let decoded = try JSONDecoder().decode(SimulatorStats.self, from: overHTTP.body)
            #expect(decoded == stats)

            let reset = try await live.request("/_simulator/stats/reset", key: nil, method: "POST")
            #expect(reset.status == 200)
            #expect(live.simulator.stats == SimulatorStats())
        }
    }

    @Test func adminRoutesSetFaultsAndReplaceTheAccount() async throws {
        try await withLiveSimulator { live in
            let faults = try JSONEncoder().encode(SimulatorFaults(failingPaths: ["/users": 502], failuresRemaining: 1))
            let put = try await live.request("/_simulator/faults", key: nil, method: "PUT", body: faults)
            #expect(put.status == 200)
            #expect(try await live.get("/users").status == 502)
            #expect(try await live.get("/users").status == 200)

            let partial = try await live.request("/_simulator/faults", key: nil, method: "PUT", body: Data(#"{"latencyMilliseconds": 5}"#.utf8))
            #expect(partial.status == 200, "every field is optional")
            #expect(live.simulator.faults == SimulatorFaults(latencyMilliseconds: 5))
            let garbage = try await live.request("/_simulator/faults", key: nil, method: "PUT", body: Data("nope".utf8))
            #expect(garbage.status == 400)

            let current = try await live.get("/_simulator/account", key: nil)
            #expect(current.status == 200)
            #expect(String(decoding: current.body, as: UTF8.self).contains("2024-01-10T17:00:00Z"), "times written as ISO 8601")

            var account = SimulatedAccount.small(now: testNow)
            account.users[0].name = "Alice Renamed"
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            let replaced = try await live.request("/_simulator/account", key: nil, method: "PUT", body: try encoder.encode(account))
            #expect(replaced.status == 200)
            #expect(live.simulator.account == account)
            let user = try await live.get("/users/\(SmallAccountIDs.alice)")
            #expect((user.json["user"] as? [String: Any])?["name"] as? String == "Alice Renamed")
            #expect(live.simulator.stats.requests == 3, "admin routes are not counted")
        }
    }

    @Test func updateAccountIsSeenByTheNextRequest() async throws {
        try await withLiveSimulator { live in
            live.simulator.updateAccount { account in
                account.users.append(SimulatedUser(id: "PNEW001", name: "New Person", email: "New.Person@Example.com"))
            }
            let reply = try await live.get("/users/PNEW001")
            #expect(reply.status == 200)
            #expect((reply.json["user"] as? [String: Any])?["email"] as? String == "New.Person@Example.com")
        }
    }
}
