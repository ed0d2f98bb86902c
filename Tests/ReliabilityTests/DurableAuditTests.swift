import Foundation
import HummingbirdTesting
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import OnCallStore
import PostgresStore
import SQLiteStore
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// No approval outlives its audit record (#28): `serve` killed with SIGKILL right after it answered,
/// alone and under concurrent load, on both engines; every approval a client received is then in
/// `shiftgate audit`, once.
@Suite(.serialized) struct DurableAuditTests {
    @Test(.timeLimit(.minutes(3)))
    func approvalsSurviveSIGKILLOnSQLite() async throws {
        await politeStart()
        let directory = try TemporaryDirectory("shiftgate-durable")
        defer { directory.cleanup() }
        let path = directory.path("cache.sqlite")
        try OnCallDatabase(path: path).writeSnapshot(roster(at: Date(unixSeconds: Date().unixSeconds)), keep: 5)
        let environment = ["SHIFTGATE_DATABASE": path]
        let (received, audited) = try await killAfterReplies(environment: environment)
        let approved = try await approvedRequestIds(environment: environment)
        print("[durable audit] SQLite: \(received.count) approvals received across 5 single kills and a kill under load; \(audited) found in `audit`")
        #expect(received.count >= 5 + 20, "too few approvals to say anything: \(received.count)")
        for id in received { #expect(approved[id] == 1, "approval \(id) was received but is in the audit \(approved[id] ?? 0) times") }
    }

    @Test(.timeLimit(.minutes(3)))
    func approvalsSurviveSIGKILLOnPostgreSQL() async throws {
        await politeStart()
        let (cluster, address) = try await freshPostgresDatabase()
        let store = try await PostgresCacheStore.open(address, password: cluster.password, createIfNeeded: true, logger: quietLogger)
        let outcome: Result<Void, any Error>
        do {
            try await store.writeSnapshot(roster(at: Date(unixSeconds: Date().unixSeconds)), keep: 5)
            let environment = ["SHIFTGATE_DATABASE": address.description, "PGPASSWORD": cluster.password ?? ""]
            let (received, audited) = try await killAfterReplies(environment: environment)
            let approved = try await approvedRequestIds(environment: environment)
            print("[durable audit] PostgreSQL: \(received.count) approvals received across 5 single kills and a kill under load; \(audited) found in `audit`")
            #expect(received.count >= 5 + 20, "too few approvals to say anything: \(received.count)")
            for id in received { #expect(approved[id] == 1, "approval \(id) was received but is in the audit \(approved[id] ?? 0) times") }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await store.close()
        await cluster.dropDatabase(address)
        try outcome.get()
    }

    /// Five rounds of one approval then SIGKILL; then 60 requests at once with a SIGKILL after the
    /// first 30 replies. Returns the request ids of every approval received, and how many of them
    /// `audit` shows.
    private func killAfterReplies(environment: [String: String]) async throws -> (received: [String], audited: Int) {
        var received: [String] = []
        for round in 0..<5 {
            let serve = try await startServe(environment: environment)
            defer { serve.child.signal(SIGKILL) }
            try #require(try await serve.waitUntilReady(), "round \(round): \(serve.child.stderr.text)")
            let id = "kill-alone-\(round)-\(UUID().uuidString.prefix(8))"
            if try await serve.decide("jane@example.com", id: id) { received.append(id) }
            serve.child.signal(SIGKILL)
            _ = await serve.child.finish(timeout: 10)
        }
        #expect(received.count == 5, "each single request is approved: \(received)")

        let serve = try await startServe(environment: environment)
        defer { serve.child.signal(SIGKILL) }
        try #require(try await serve.waitUntilReady(), "\(serve.child.stderr.text)")
        let replies = Replies()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<60 {
                group.addTask {
                    let id = "kill-load-\(index)-\(UUID().uuidString.prefix(8))"
                    guard let approved = try? await serve.decide("jane@example.com", id: id) else { return }
                    if replies.note(id, approved: approved) == 30 { serve.child.signal(SIGKILL) }
                }
            }
        }
        serve.child.signal(SIGKILL)
        _ = await serve.child.finish(timeout: 10)
        received += replies.approved
        let audited = try await approvedRequestIds(environment: environment)
        return (received, received.count { audited[$0] != nil })
    }

    /// How many approved records `shiftgate audit` shows per request id.
    private func approvedRequestIds(environment: [String: String]) async throws -> [String: Int] {
        let audit = try await run(["audit", "--format", "json", "--since", "1h"], environment: environment, timeout: 60)
        try #require(audit.status == 0, "\(audit.stderr)")
        let records = (try? JSONSerialization.jsonObject(with: Data(audit.stdout.utf8))) as? [[String: Any]] ?? []
        var counts: [String: Int] = [:]
        for record in records where record["outcome"] as? String == "approved" {
            if let id = record["request_id"] as? String { counts[id, default: 0] += 1 }
        }
        return counts
    }
}

// MARK: Issue #26 items 10 and 11

extension DurableAuditTests {
    /// A cache file moved away and replaced by a new sync is reopened: decisions follow the new
    /// file's snapshot and the audit goes into it. A deleted file takes no audit record; the spool
    /// does, and a new file gets them once it is there.
    @Test(.timeLimit(.minutes(2)))
    func aReplacedOrDeletedCacheFileIsNoticed() async throws {
        let spoolDirectory = try TemporaryDirectory("shiftgate-spool")
        defer { spoolDirectory.cleanup() }
        let spoolPath = spoolDirectory.path("audit.spool")
        try await withWebhook(.live, contents: roster(), configuration: .forTests(auditSpool: spoolPath)) { client, database, clock in
            let path = database.path
            let folder = (path as NSString).deletingLastPathComponent
            #expect(try await decide(client, "jane@example.com", id: "before-move", clock: clock))

            // mv cache.sqlite old.sqlite (with its -wal and -shm), then a sync into a new file in
            // which Jane is no longer on call.
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: folder + "/old.sqlite" + suffix)
            }
            var replaced = roster(finishedAt: baseTime.addingTimeInterval(30))
            replaced.shifts.removeAll { $0.userId == "PJANE01" }
            do { try OnCallDatabase(path: path).writeSnapshot(replaced, keep: 5) }
            var followed = false
            for _ in 0..<100 where !followed {
                try await Task.sleep(nanoseconds: 50_000_000)
                followed = try await !decide(client, "jane@example.com", id: "probe-\(UUID().uuidString.prefix(6))", clock: clock)
            }
            #expect(followed, "serve still decides from the moved file")
            #expect(try await decide(client, "kate@example.com", id: "after-replace", clock: clock))
            let newFile = try OnCallDatabase(path: path, mustExist: true, readOnly: true)
            #expect(try newFile.decisions(since: .distantPast).contains { $0.requestId == "after-replace" && $0.outcome == "approved" })
            let oldFile = try OnCallDatabase(path: folder + "/old.sqlite", mustExist: true, readOnly: true)
            #expect(try !oldFile.decisions(since: .distantPast).contains { $0.requestId == "after-replace" })

            // rm cache.sqlite: the next approval goes to the spool (nothing into the unlinked file),
            // /readyz says why and how many wait; a new file receives them.
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            #expect(try await decide(client, "kate@example.com", id: "after-delete", clock: clock))
            let ready = json(try await client.execute(uri: "/readyz", method: .get).body)
            #expect((ready["audit_store_error"] as? String ?? "").contains("deleted or moved"), "\(ready)")
            #expect(ready["audit_spooled_records"] as? Int == 1, "\(ready)")
            do { try OnCallDatabase(path: path).writeSnapshot(roster(finishedAt: baseTime.addingTimeInterval(60)), keep: 5) }
            var moved = false
            for _ in 0..<100 where !moved {
                try await Task.sleep(nanoseconds: 50_000_000)
                moved = try OnCallDatabase(path: path, mustExist: true, readOnly: true).decisions(since: .distantPast)
                    .contains { $0.requestId == "after-delete" && $0.outcome == "approved" }
            }
            #expect(moved, "the spooled approval never reached the new file")
            let after = json(try await client.execute(uri: "/readyz", method: .get).body)
            #expect(after["audit_spooled_records"] as? Int == 0 && after["audit_store_error"] == nil, "\(after)")
        }
    }

    /// A cache `serve` can read but not write (owned by another user): with a spool it can write,
    /// approvals go there and `/readyz` says so; with neither, `/readyz` is 503 from the start and
    /// nothing is approved. Runs `serve` as `nobody`, since root writes any file.
    @Test(.timeLimit(.minutes(2)), .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv"))
    func anAuditStoreThatCannotBeWrittenIsSaidAtStart() async throws {
        await politeStart()
        let directory = try TemporaryDirectory("shiftgate-readonly")
        defer { directory.cleanup() }
        // The folder is nobody's (SQLite makes its -wal and -shm there); the file stays root's, 0644.
        let folder = directory.path("cache")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        chmod(directory.url.path, 0o755)
        chown(folder, 65534, 65534)
        let path = folder + "/cache.sqlite"
        do { try OnCallDatabase(path: path).writeSnapshot(roster(at: Date(unixSeconds: Date().unixSeconds)), keep: 5) }
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        chmod(path, 0o644)
        let locked = directory.path("root-only")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: false)
        chmod(locked, 0o700)

        // Neither the cache nor the spool (in a folder nobody cannot write): 503 at once, no approval.
        do {
            let serve = try await startServe(environment: ["SHIFTGATE_DATABASE": path, "SHIFTGATE_AUDIT_SPOOL": locked + "/spool"], asNobody: true)
            defer { serve.child.signal(SIGKILL) }
            let ready = try await serve.readiness()
            #expect((ready["status"] as? String ?? "").contains("audit log"), "\(ready)")
            #expect((ready["audit_store_error"] as? String ?? "").contains("readonly"), "\(ready)")
            #expect(ready["audit_spool_error"] != nil, "\(ready)")
            #expect(try await !serve.decide("jane@example.com", id: "nowhere-to-audit"))
            #expect(try await serve.request("/readyz").0 == 503)
            serve.child.signal(SIGTERM)
            _ = await serve.child.finish(timeout: 20)
            // Said once at start, not once per flush.
            let lines = serve.child.stderr.text.split(separator: "\n").filter { $0.contains("cannot write audit records") }
            #expect(lines.count == 1, "\(serve.child.stderr.text)")
        }
        // The spool beside the file (the folder is writable): ready, approving, the record spooled.
        do {
            let serve = try await startServe(environment: ["SHIFTGATE_DATABASE": path], asNobody: true)
            defer { serve.child.signal(SIGKILL) }
            let ready = try await serve.readiness()
            #expect(ready["status"] as? String == "ready", "\(ready)")
            #expect(ready["audit_store_error"] != nil, "\(ready)")
            #expect(try await serve.decide("jane@example.com", id: "spooled-approval"))
            let after = try await serve.readiness()
            #expect(after["audit_spooled_records"] as? Int == 1, "\(after)")
            serve.child.signal(SIGTERM)
            #expect(await serve.child.finish(timeout: 20) == 0)
            let spooled = String(decoding: FileManager.default.contents(atPath: path + ".audit-spool") ?? Data(), as: UTF8.self)
            #expect(spooled.contains("spooled-approval"))
            let status = try await run(["status"], environment: ["SHIFTGATE_DATABASE": path])
            #expect(status.stdout.contains("audit spool:    1 record waiting"), "\(status.stdout)")
        }
    }

    func decide(_ client: some TestClientProtocol, _ email: String, id: String, clock: TestClock) async throws -> Bool {
        !claims(try await post(client, requestBody([accessRequest(email, id: id)]), at: clock.now)).isEmpty
    }
}

// MARK: Support

/// Replies received under load: how many, and the request ids approved.
private final class Replies: Sendable {
    private let state = Mutex<(count: Int, approved: [String])>((0, []))

    /// Notes one reply; returns how many have come.
    func note(_ id: String, approved: Bool) -> Int {
        state.withLock { state in
            state.count += 1
            if approved { state.approved.append(id) }
            return state.count
        }
    }

    var approved: [String] { state.withLock { $0.approved } }
}

/// `serve` (the binary) on a free loopback port, once it has said where it listens; `asNobody` runs
/// it as user and group 65534 through `setpriv`.
func startServe(environment: [String: String], arguments: [String] = ["--max-staleness", "1h"], asNobody: Bool = false) async throws -> Replica {
    let serveArguments = ["serve", "--port", "0"] + arguments
    let merged = environment.merging(["INDENT_WEBHOOK_SECRET": webhookSecret, "LOG_LEVEL": "info"]) { $1 }
    let child = asNobody
        ? try Child(executable: "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", productsDirectory.appendingPathComponent("shiftgate").path]
                    + serveArguments, environment: merged)
        : try Child(serveArguments, environment: merged)
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        if let match = child.stderr.text.firstMatch(of: /address=127\.0\.0\.1:(\d+)/), let port = Int(match.1) {
            return Replica(child: child, port: port)
        }
        if !child.process.isRunning { break }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    child.signal(SIGKILL)
    throw ReplicaError("serve did not start: \(child.stderr.text)")
}

extension Replica {
    /// Whether an access request from `email`, with the event id `id` (the audit record's request
    /// id), is approved.
    func decide(_ email: String, id: String) async throws -> Bool {
        let (status, data) = try await request("/indent/webhook", body: requestBody([accessRequest(email, id: id)]))
        guard status == 200 else { throw ReplicaError("webhook answered \(status): \(String(decoding: data, as: UTF8.self))") }
        let reply = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        return !(reply["claims"] as? [[String: Any]] ?? []).isEmpty
    }

    /// Ready for the current snapshot, whichever it is.
    func waitUntilReady(timeout: TimeInterval = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let answer = try? await readiness(), answer["status"] as? String == "ready" { return true }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return false
    }
}
