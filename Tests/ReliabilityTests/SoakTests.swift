import Approval
import Foundation
import OnCallStore
import SQLiteStore
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The real `shiftgate serve` under sustained load; its resident memory must stay flat. Long, so it
/// runs only with SHIFTGATE_SOAK=1 (seconds from SHIFTGATE_SOAK_SECONDS, default 60).
@Suite struct SoakTests {
    static var enabled: Bool { ProcessInfo.processInfo.environment["SHIFTGATE_SOAK"] == "1" }
    static var seconds: Double { ProcessInfo.processInfo.environment["SHIFTGATE_SOAK_SECONDS"].flatMap(Double.init) ?? 60 }

    @Test(.enabled(if: SoakTests.enabled, "set SHIFTGATE_SOAK=1"), .timeLimit(.minutes(5)))
    func serveKeepsFlatMemoryUnderSustainedLoad() async throws {
        let directory = try TemporaryDirectory("shiftgate-soak")
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        let now = Date(unixSeconds: Date().unixSeconds)
        do {
            let database = try OnCallDatabase(path: path)
            try database.writeSnapshot(roster(at: now), keep: 5)
        }
        let port = freePort()
        let serve = try Child(["serve", "--port", String(port), "--max-staleness", "1h"],
                              environment: ["SHIFTGATE_DATABASE": path, "INDENT_WEBHOOK_SECRET": webhookSecret, "LOG_LEVEL": "warning"])
        defer { serve.signal(SIGKILL) }
        try #require(await Self.waitForPort(port), "serve did not start: \(serve.stderr.text)")

        let workers = 4
        let duration = Self.seconds
        let stop = StopFlag()
        let counts = Tally()
        let loadStarted = Date()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        await offPool {
                            // A keep-alive connection per worker, reopened if the server closes it.
                            var connection = RawConnection(port: port)
                            var round = 0
                            var local: [String: Int] = [:]
                            while !stop.isSet, round < 50_000_000 {
                                round += 1
                                let stamp = IndentTime.format(Date())
                                let email = ["jane@example.com", "sam@example.com", "kate@example.com", "nobody@example.com"][(round + worker) % 4]
                                let body = requestBody([accessRequest(email, id: "soak-\(worker)-\(round)")])
                                // One request in ten is forged: refusals must not leak either.
                                let forged = round % 10 == 0
                                let request = rawWebhookRequest(body, timestamp: stamp, signature: forged ? String(repeating: "0", count: 64) : nil)
                                if connection == nil { connection = RawConnection(port: port) }
                                guard let open = connection, open.send(request), let reply = open.readResponse(until: Date().addingTimeInterval(5)) else {
                                    local["transport error", default: 0] += 1
                                    connection = nil
                                    continue
                                }
                                local["\(reply.status)", default: 0] += 1
                            }
                            for (key, value) in local { counts.add(key, value) }
                        }
                    }
                }
            }
        }

        // Resident memory every 5 s; the first reading after a 5 s warm-up is the baseline.
        var samples: [(Double, Int)] = []
        let sampleEvery = 5.0
        while Date().timeIntervalSince(loadStarted) < duration {
            try await Task.sleep(nanoseconds: UInt64(sampleEvery * 1e9))
            if let rss = serve.residentKiB { samples.append((Date().timeIntervalSince(loadStarted), rss)) }
        }
        stop.set()
        await load.value
        let elapsed = Date().timeIntervalSince(loadStarted)
        let final = counts.all
        let total = final.values.reduce(0, +)
        let end = serve.residentKiB ?? samples.last?.1 ?? 0
        serve.signal(SIGTERM)
        let exit = await serve.finish(timeout: 20)

        let start = samples.first?.1 ?? 0
        let peak = samples.map(\.1).max() ?? 0
        let growth = Double(end - start) / Double(max(start, 1))
        print("""
            [reliability] soak: \(String(format: "%.0f", elapsed)) s, \(workers) keep-alive clients, \(total) requests (\(Int(Double(total) / elapsed))/s); \
            statuses \(final.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")); \
            VmRSS at 5 s \(start) KiB, end \(end) KiB, peak \(peak) KiB (\(String(format: "%+.1f", growth * 100))%); \
            samples \(samples.map { "\(Int($0.0))s \($0.1)" }.joined(separator: ", ")); serve exited \(exit)
            """)
        #expect(final["transport error", default: 0] == 0)
        #expect(final.keys.allSatisfy { $0 == "200" || $0 == "401" }, "\(final)")
        #expect(total > 1000)
        // Flat: the end within 20 % (and 16 MiB) of the warmed-up start.
        #expect(end - start < max(start / 5, 16 * 1024), "VmRSS grew from \(start) KiB to \(end) KiB")
        #expect(exit == 0)
    }

    static func waitForPort(_ port: Int) async -> Bool {
        for _ in 0..<200 {
            if await offPool({ RawConnection(port: port) != nil }) { return true }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }
}
