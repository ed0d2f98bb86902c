import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
import Server
import Sync
import Testing
import TestSupport

/// Syncs that write new snapshots into the file the webhook reads must not fail a single request.
@Suite struct SyncUnderLoadTests {
    @Test func aSyncDuringALoadOfRequestsFailsNone() async throws {
        let now = Date()
        try await withSimulator(SimulatedAccount.generate(users: 400, schedules: 40, seed: 21, now: now)) { running, directory in
            let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
            let client = PagerDutyClient(configuration: PagerDutyConfiguration(baseURL: running.baseURL, apiKey: testAPIKey, requestsPerMinute: 60_000))
            let syncer = Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(keep: 5))
            let first = try await syncer.run(now: now)
            let contents = try #require(try database.snapshot(id: first.id))
            let index = OnCallIndex(contents, policy: ApprovalPolicy())
            let onCall = try #require(contents.users.first { Decider.decide(email: $0.email, requestedDuration: nil, now: Date(), index: index).isApproved })

            var logger = Logger(label: "test")
            logger.logLevel = .error
            let configuration = ServerConfiguration(port: 0, webhookSecret: webhookSecret, reloadInterval: 0.02)
            let app = try await buildApplication(configuration: configuration, store: SQLiteCacheStore(database), logger: logger)
            try await app.test(.live) { http in
                let syncs = Task {
                    var written = 0
                    for _ in 0..<4 {
                        _ = try await syncer.run()
                        written += 1
                    }
                    return written
                }
                let body = requestBody([accessRequest(onCall.email)])
                let results = try await withThrowingTaskGroup(of: (answered: Int, failed: Int).self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            var failed = 0
                            for _ in 0..<40 {
                                let stamp = IndentTime.format(Date())
                                var headers = HTTPFields()
                                headers[HTTPField.Name("X-Indent-Timestamp")!] = stamp
                                headers[HTTPField.Name("X-Indent-Signature")!] = IndentSignature.sign(secret: webhookSecret, timestamp: stamp, body: body)
                                let response = try await http.execute(uri: "/indent/webhook", method: .post, headers: headers, body: ByteBuffer(bytes: body))
                                let granted = claims(response).count
                                if response.status != .ok || granted != 1 { failed += 1 }
                            }
                            return (40, failed)
                        }
                    }
                    var all: [(answered: Int, failed: Int)] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                let written = try await syncs.value
                #expect(written == 4)
                #expect(results.map(\.answered).reduce(0, +) == 320)
                #expect(results.map(\.failed).reduce(0, +) == 0)
            }
            #expect(try database.integrityCheck() == "ok")
        }
    }
}
