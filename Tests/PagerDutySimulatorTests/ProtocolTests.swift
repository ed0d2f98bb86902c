import Foundation
import PagerDutySimulator
import Testing

/// Pagination, authentication, errors and rate limits, over real HTTP.
@Suite struct ProtocolTests {
    @Test func pagesThroughUsersWithLimitOffsetAndMore() async throws {
        try await withLiveSimulator(.generate(users: 60, schedules: 4, seed: 3, now: testNow)) { live in
            var ids: [String] = []
            var mores: [Bool] = []
            for offset in stride(from: 0, to: 75, by: 25) {
                let reply = try await live.get("/users?offset=\(offset)")
                #expect(reply.status == 200)
                #expect(reply.json["limit"] as? Int == 25)
                #expect(reply.json["offset"] as? Int == offset)
                #expect(reply.json["total"] is NSNull)
                mores.append(reply.json["more"] as? Bool ?? true)
                ids += reply.list("users").compactMap { $0["id"] as? String }
            }
            #expect(mores == [true, true, false])
            #expect(ids.count == 60)
            #expect(ids == ids.sorted(), "stable order by id")
            #expect(Set(ids).count == 60)
        }
    }

    @Test func limitAbove100IsClampedAndTotalOnlyWhenAsked() async throws {
        try await withLiveSimulator(.generate(users: 150, schedules: 2, seed: 3, now: testNow)) { live in
            let clamped = try await live.get("/users?limit=500")
            #expect(clamped.json["limit"] as? Int == 100)
            #expect(clamped.list("users").count == 100)
            #expect(clamped.json["more"] as? Bool == true)
            #expect(clamped.json["total"] is NSNull)

            let counted = try await live.get("/users?limit=10&offset=145&total=true")
            #expect(counted.json["total"] as? Int == 150)
            #expect(counted.list("users").count == 5)
            #expect(counted.json["more"] as? Bool == false)
        }
    }

    @Test func pagingPastTenThousandIsRefused() async throws {
        try await withLiveSimulator { live in
            let refused = try await live.get("/users?offset=9950&limit=100")
            #expect(refused.status == 400)
            #expect(refused.error["code"] as? Int == 2001)
            #expect(refused.error["message"] as? String == "Invalid Input Provided")
            #expect((refused.error["errors"] as? [String])?.isEmpty == false)

            let lastAllowed = try await live.get("/users?offset=9900&limit=100")
            #expect(lastAllowed.status == 200)
            #expect(lastAllowed.list("users").isEmpty)
            #expect(lastAllowed.json["more"] as? Bool == false)
        }
    }

    @Test func everyListPaginates() async throws {
        try await withLiveSimulator { live in
            for (path, key) in [("/users", "users"), ("/schedules", "schedules"), ("/escalation_policies", "escalation_policies"),
                                ("/teams", "teams"), ("/oncalls", "oncalls")] {
                let reply = try await live.get("\(path)?limit=1&total=true")
                #expect(reply.status == 200, "\(path)")
                #expect(reply.list(key).count == 1, "\(path)")
                #expect(reply.json["limit"] as? Int == 1, "\(path)")
                #expect(reply.json["total"] as? Int ?? 0 >= 1, "\(path)")
                #expect(reply.json["more"] as? Bool == ((reply.json["total"] as? Int ?? 0) > 1), "\(path)")
            }
        }
    }

    @Test func aMissingOrWrongKeyIs401WithPagerDutysBody() async throws {
        try await withLiveSimulator { live in
            for key in [nil, "wrong-key"] as [String?] {
                let reply = try await live.get("/users", key: key)
                #expect(reply.status == 401)
                #expect(reply.error["message"] as? String == "Unauthorized")
                #expect(reply.error["code"] as? Int == 2006)
                #expect((reply.error["errors"] as? [String])?.count == 1)
                #expect(reply.header("ratelimit-limit") != nil)
            }
            let quoted = try await live.request("/users", key: "\"simulated-key\"")
            #expect(quoted.status == 200, "a quoted key is the same key")
        }
    }

    @Test func unknownIdsAre404WithPagerDutysBody() async throws {
        try await withLiveSimulator { live in
            for path in ["/users/PNOSUCH", "/schedules/PNOSUCH", "/schedules/PNOSUCH/users", "/schedules/PNOSUCH/overrides?\(window("2024-01-10T00:00:00Z", "2024-01-11T00:00:00Z"))", "/no_such_route"] {
                let reply = try await live.get(path)
                #expect(reply.status == 404, "\(path)")
                #expect(reply.error["message"] as? String == "Not Found", "\(path)")
                #expect(reply.error["code"] as? Int == 2100, "\(path)")
                #expect(reply.error["errors"] is [String], "\(path)")
            }
        }
    }

    @Test func invalidInputIs400() async throws {
        try await withLiveSimulator { live in
            let badRequests = [
                "/schedules/\(SmallAccountIDs.primary)?since=yesterday",
                "/schedules/\(SmallAccountIDs.primary)?\(window("2024-01-12T00:00:00Z", "2024-01-11T00:00:00Z"))",
                "/schedules/\(SmallAccountIDs.primary)?time_zone=Mars%2FOlympus_Mons",
                // An unencoded '+' reads as a space, as on PagerDuty's servers.
                "/schedules/\(SmallAccountIDs.primary)?since=2024-01-10T10:00:00+05:30",
                "/schedules/\(SmallAccountIDs.primary)/overrides",
                "/oncalls?schedule_ids=\(SmallAccountIDs.primary)",
                "/oncalls?\(window("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"))",
                "/users?limit=many",
                "/users?limit=0",
                "/users?offset=-1",
                "/users?total=maybe",
            ]
            for path in badRequests {
                let reply = try await live.get(path)
                #expect(reply.status == 400, "\(path)")
                #expect(reply.error["code"] as? Int == 2001, "\(path)")
                #expect(reply.error["message"] as? String == "Invalid Input Provided", "\(path)")
            }
            let spaced = try await live.get("/schedules/\(SmallAccountIDs.primary)?since=2024-01-10T10:00:00+05:30")
            #expect((spaced.error["errors"] as? [String])?.first?.contains("%2B") == true)
        }
    }

    @Test func rateLimitIsPerKeyWithHeadersAnd429() async throws {
        var options = SimulatorOptions(apiKeys: ["simulated-key", "other-key"], rateLimitPerWindow: 5, rateLimitWindowSeconds: 8)
        options.clock = { testNow }
        // An 8 s window: long enough that a loaded machine (seen: a load of 10 on two cores, where 3 s
        // was not) still sends all six requests inside it.
        try await withLiveSimulator(options: options) { live in
            let first = try await live.get("/teams")
            #expect(first.header("ratelimit-limit") == "5")
            #expect(first.header("ratelimit-remaining") == "4")
            #expect(first.header("ratelimit-reset") == "8")
            for _ in 0..<4 {
                #expect(try await live.get("/teams").status == 200)
            }
            let limited = try await live.get("/teams")
            #expect(limited.status == 429)
            #expect(limited.error["code"] as? Int == 2020)
            #expect(limited.header("ratelimit-remaining") == "0")
            #expect(limited.header("retry-after") != nil)

            let otherKey = try await live.get("/teams", key: "other-key")
            #expect(otherKey.status == 200, "each key has its own window")

            let reset = Double(limited.header("ratelimit-reset") ?? "1") ?? 1
            try await Task.sleep(for: .milliseconds(Int(reset * 1000) + 100))
            let afterReset = try await live.get("/teams")
            #expect(afterReset.status == 200)
            #expect(afterReset.header("ratelimit-remaining") == "4")

            let stats = live.simulator.stats
            #expect(stats.rateLimited == 1)
            #expect(stats.requests == 8)
        }
    }
}
