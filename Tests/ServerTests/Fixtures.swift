import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OnCallStore
import Server
import Synchronization
import TestSupport

let secret = "test-webhook-secret-7f3a"

/// A clock the test moves.
final class TestClock: Sendable {
    private let value: Mutex<Date>
    init(_ date: Date) { value = Mutex(date) }
    var now: Date { value.withLock { $0 } }
    func set(_ date: Date) { value.withLock { $0 = date } }
}

/// T: a fixed instant on a whole minute, so window edges are exact.
let baseTime = Date(unixSeconds: 1_800_000_000 - 1_800_000_000 % 3600)

/// A roster with known shifts around `baseTime`:
/// - Jane (PJANE01): Primary [T−1h, T+1h), then Secondary [T+1h, T+3h) — back to back.
/// - Raj (PRAJ001): Primary [T+4m59s, T+8h) — starts inside the after-window.
/// - Omar (POMAR01): Primary [T+5m, T+8h) — starts exactly at the window's far edge.
/// - Lee (PLEE001): Primary [T−2h, T−30s) — ended inside the before-window.
/// - Kim (PKIM001): Primary [T−2h, T−60s) — ended exactly at the window's near edge.
/// - Sam (PSAM001): no shift.
/// Policy PPOL: level 1 → Primary, level 2 → Secondary.
func roster(finishedAt: Date = baseTime) -> SnapshotContents {
    let T = baseTime
    let people = [("PJANE01", "Jane Engineer", "Jane@Example.com"), ("PRAJ001", "Raj Patel", "raj@example.com"),
                  ("POMAR01", "Omar Haddad", "omar@example.com"), ("PLEE001", "Lee Park", "lee@example.com"),
                  ("PKIM001", "Kim Novak", "kim@example.com"), ("PSAM001", "Sam Idle", "sam@example.com")]
    func shift(_ schedule: String, _ user: String, _ from: TimeInterval, _ to: TimeInterval) -> Shift {
        Shift(scheduleId: schedule, userId: user, start: T.addingTimeInterval(from), end: T.addingTimeInterval(to))
    }
    return SnapshotContents(
        info: SnapshotInfo(startedAt: finishedAt, finishedAt: finishedAt, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(7 * 86_400)),
        users: people.map { User(id: $0.0, name: $0.1, email: $0.2, timeZone: "UTC") },
        schedules: [Schedule(id: "PPRIMAR", name: "Primary", timeZone: "America/New_York"),
                    Schedule(id: "PSECOND", name: "Secondary", timeZone: "Asia/Kolkata")],
        shifts: [
            shift("PPRIMAR", "PJANE01", -3600, 3600), shift("PSECOND", "PJANE01", 3600, 3 * 3600),
            shift("PPRIMAR", "PRAJ001", 299, 8 * 3600), shift("PPRIMAR", "POMAR01", 300, 8 * 3600),
            shift("PPRIMAR", "PLEE001", -7200, -30), shift("PPRIMAR", "PKIM001", -7200, -60),
        ],
        policies: [EscalationPolicy(id: "PPOL", name: "Platform")],
        targets: [EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMAR"),
                  EscalationTarget(policyId: "PPOL", level: 2, ruleId: "R2", delayMinutes: 30, kind: .schedule, targetId: "PSECOND")])
}

/// A live webhook on loopback over a real SQLite file holding `contents`.
func withWebhook<T: Sendable>(
    policy: ApprovalPolicy = ApprovalPolicy(), contents: SnapshotContents? = roster(), clock: TestClock = TestClock(baseTime),
    maxStaleness: TimeInterval = 900, _ body: @Sendable (any TestClientProtocol, OnCallDatabase, TestClock) async throws -> T
) async throws -> T {
    let directory = try TemporaryDirectory()
    defer { directory.cleanup() }
    let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
    if let contents { try database.writeSnapshot(contents, keep: 10) }
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    let configuration = ServerConfiguration(host: "127.0.0.1", port: 0, maxStaleness: maxStaleness, webhookSecret: secret, policy: policy, reloadInterval: 0.05)
    let app = try buildApplication(configuration: configuration, database: database, logger: logger, clock: { clock.now })
    return try await app.test(.live) { client in try await body(client, database, clock) }
}

func requestBody(_ events: [[String: Any]]) -> Data {
    try! JSONSerialization.data(withJSONObject: ["events": events])
}

func accessRequest(_ email: String?, id: String = UUID().uuidString, labels: [String: String] = [:]) -> [String: Any] {
    var actor: [String: Any] = ["id": "U-\(id.prefix(6))", "kind": "slack/user", "displayName": "Requester"]
    if let email { actor["email"] = email }
    var event: [String: Any] = [
        "event": "access/request", "id": id, "timestamp": "2024-03-12T18:00:00.000Z", "actor": actor,
        "resources": [["id": "arn:aws:iam::123456789012:role/prod-admin", "kind": "aws.iam.v1.Role", "displayName": "prod-admin", "labels": ["env": "prod"]]],
    ]
    var allLabels = ["indent.com/workflow/origin/id": "run-1"]
    for (key, value) in labels { allLabels[key] = value }
    event["meta"] = ["labels": allLabels]
    return event
}

/// POSTs `body` signed as Indent signs it, with `timestamp` (default: the test clock's now).
func post(_ client: any TestClientProtocol, _ body: Data, path: String = "/indent/webhook", timestamp: String? = nil,
          signature: String? = nil, clock: TestClock) async throws -> TestResponse {
    let stamp = timestamp ?? IndentTime.format(clock.now)
    var headers = HTTPFields()
    headers[HTTPField.Name("X-Indent-Timestamp")!] = stamp
    headers[HTTPField.Name("X-Indent-Signature")!] = signature ?? IndentSignature.sign(secret: secret, timestamp: stamp, body: body)
    headers[.contentType] = "application/json"
    return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
}

func json(_ response: TestResponse) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
}

func claims(_ response: TestResponse) throws -> [[String: Any]] {
    try json(response)["claims"] as? [[String: Any]] ?? []
}

func labels(_ claim: [String: Any]) -> [String: String] {
    (claim["meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
}

func postClaims(_ client: any TestClientProtocol, _ body: Data, timestamp: String? = nil, clock: TestClock) async throws -> [[String: Any]] {
    try claims(try await post(client, body, timestamp: timestamp, clock: clock))
}
