import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OnCallStore
import SQLiteStore
import Server
import Synchronization
import Timestamps

// The webhook as production builds it, and Indent's requests to it, for the tests that drive it.

/// A clock the test moves.
public final class TestClock: Sendable {
    private let value: Mutex<Date>
    public init(_ date: Date) { value = Mutex(date) }
    public var now: Date { value.withLock { $0 } }
    public func set(_ date: Date) { value.withLock { $0 = date } }
}

/// T: a whole hour, so window edges are exact seconds.
public let baseTime = Date(unixSeconds: 1_800_000_000 - 1_800_000_000 % 3600)

/// The webhook secret the test servers are given.
public let webhookSecret = testWebhookSecret
private let testWebhookSecret = "test-webhook-secret-91c4e"

extension ServerConfiguration {
    /// A server on a free loopback port with the test secret, reloading its roster often.
    public static func forTests(maxStaleness: TimeInterval = 900, maxClockSkew: TimeInterval = 300, idleTimeout: TimeInterval = 15,
                                reloadInterval: TimeInterval = 0.05, policy: ApprovalPolicy = ApprovalPolicy(),
                                requestTimeout: TimeInterval = 10, auditCapacity: Int = 100_000, rules: RuleSet? = nil,
                                apiTokens: [String] = [], auditSpool: String? = nil) -> ServerConfiguration {
        ServerConfiguration(host: "127.0.0.1", port: 0, maxStaleness: maxStaleness, maxClockSkew: maxClockSkew, webhookSecret: testWebhookSecret,
                            policy: policy, reloadInterval: reloadInterval, idleTimeout: idleTimeout,
                            requestTimeout: requestTimeout, auditCapacity: auditCapacity, rules: rules, apiTokens: apiTokens,
                            auditSpool: auditSpool)
    }
}

/// The production application over a real SQLite file in a temporary directory holding `contents`,
/// driven in `mode` (`.live`: a real socket on loopback).
public func withWebhook<T: Sendable>(
    _ mode: TestingSetup = .live, contents: SnapshotContents?, clock: TestClock = TestClock(baseTime),
    configuration: ServerConfiguration = .forTests(), spoolBesideCache: Bool = true,
    _ body: @Sendable (any TestClientProtocol, OnCallDatabase, TestClock) async throws -> T
) async throws -> T {
    let directory = try TemporaryDirectory("shiftgate-webhook")
    defer { directory.cleanup() }
    let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
    // As `serve` has it over a SQLite cache, unless the test names its own or wants none.
    var configuration = configuration
    if spoolBesideCache, configuration.auditSpool == nil { configuration.auditSpool = AuditSpool.besideCache(database.path) }
    if let contents { try database.writeSnapshot(contents, keep: 10) }
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let app = try await buildApplication(configuration: configuration, store: SQLiteCacheStore(database), logger: logger, clock: { clock.now })
    return try await app.test(mode) { client in try await body(client, database, clock) }
}

/// An Indent body holding `events`, keys sorted (the same bytes every time).
public func requestBody(_ events: [[String: Any]]) -> Data {
    try! JSONSerialization.data(withJSONObject: ["events": events], options: [.sortedKeys])
}

/// An `access/request` event as Indent sends it, for prod-admin, from `email` (nil: an actor without one).
public func accessRequest(_ email: String?, id: String = UUID().uuidString, labels: [String: String] = [:]) -> [String: Any] {
    var actor: [String: Any] = ["id": "U-\(id.prefix(6))", "kind": "slack/user", "displayName": "Requester"]
    if let email { actor["email"] = email }
    var allLabels = ["indent.com/workflow/origin/id": "run-1"]
    for (key, value) in labels { allLabels[key] = value }
    return [
        "event": "access/request", "id": id, "timestamp": "2024-03-12T18:00:00.000Z", "actor": actor,
        "resources": [["id": "arn:aws:iam::123456789012:role/prod-admin", "kind": "aws.iam.v1.Role", "displayName": "prod-admin", "labels": ["env": "prod"]]],
        "meta": ["labels": allLabels],
    ]
}

extension HTTPField.Name {
    public static let indentTimestamp = Self("X-Indent-Timestamp")!
    public static let indentSignature = Self("X-Indent-Signature")!
}

/// The headers Indent signs a body with.
public func signedHeaders(_ body: Data, timestamp: String, secret: String = webhookSecret) -> HTTPFields {
    var headers = HTTPFields()
    headers[.indentTimestamp] = timestamp
    headers[.indentSignature] = IndentSignature.sign(secret: secret, timestamp: timestamp, body: body)
    headers[.contentType] = "application/json"
    return headers
}

/// POSTs `body` signed as Indent signs it at `date` (or with the `timestamp` and `signature` given).
public func post(_ client: any TestClientProtocol, _ body: Data, at date: Date, path: String = "/indent/webhook",
                 timestamp: String? = nil, signature: String? = nil) async throws -> TestResponse {
    let stamp = timestamp ?? IndentTime.format(date)
    var headers = signedHeaders(body, timestamp: stamp)
    if let signature { headers[.indentSignature] = signature }
    return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body))
}

/// POSTs `body` signed at the test clock's now.
public func post(_ client: any TestClientProtocol, _ body: Data, path: String = "/indent/webhook", timestamp: String? = nil,
                 signature: String? = nil, clock: TestClock) async throws -> TestResponse {
    try await post(client, body, at: clock.now, path: path, timestamp: timestamp, signature: signature)
}

/// The claims the webhook answers `body` with at the test clock's now.
public func postClaims(_ client: any TestClientProtocol, _ body: Data, timestamp: String? = nil, clock: TestClock) async throws -> [[String: Any]] {
    try await postClaims(client, body, at: clock.now, timestamp: timestamp)
}

/// The claims the webhook answers `body` with at `date`.
public func postClaims(_ client: any TestClientProtocol, _ body: Data, at date: Date, timestamp: String? = nil) async throws -> [[String: Any]] {
    claims(try await post(client, body, at: date, timestamp: timestamp))
}

public func json(_ body: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
}

public func json(_ response: TestResponse) -> [String: Any] {
    json(response.body)
}

public func claims(_ response: TestResponse) -> [[String: Any]] {
    json(response)["claims"] as? [[String: Any]] ?? []
}

public func labels(_ claim: [String: Any]) -> [String: String] {
    (claim["meta"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
}
