import Approval
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OnCallStore
import Timestamps

/// A reply in Indent's google.rpc status shape: `{"status": {"code": N, "message": "..."}}`.
struct StatusError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: Int
    var message: String

    func response(from request: Request, context: some RequestContext) throws -> Response {
        jsonResponse(status: status, body: ["status": .object(["code": .number(Double(code)), "message": .string(message)])])
    }
}

func jsonResponse(status: HTTPResponse.Status = .ok, body: [String: JSONValue]) -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(body).serialized())))
}

/// Routes for Indent and for on-call lookups. Answers from the in-memory roster only.
struct WebhookController {
    let configuration: ServerConfiguration
    let roster: RosterCache
    let audit: AuditLog
    let metrics: ServerMetrics
    let logger: Logger
    let clock: @Sendable () -> Date
    let verifier: IndentSignature.Verifier

    init(configuration: ServerConfiguration, roster: RosterCache, audit: AuditLog, metrics: ServerMetrics, logger: Logger,
         clock: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.roster = roster
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        verifier = IndentSignature.Verifier(secret: configuration.webhookSecret)
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/indent/webhook") { request, context in try await webhook(request, context, route: "/indent/webhook") }
        router.post("/") { request, context in try await webhook(request, context, route: "/") }
        router.get("/v1/oncall") { request, context in lookup(request) }
        router.get("/healthz") { _, _ in
            metrics.request(route: "/healthz", outcome: "ok")
            return jsonResponse(body: ["status": .string("ok")])
        }
        router.get("/readyz") { _, _ in readiness() }
        router.get("/metrics") { _, _ in
            let index = roster.index
            metrics.cache(age: index.map { clock().timeIntervalSince($0.snapshot.finishedAt) }, snapshotId: index?.snapshot.id)
            metrics.auditDropped(audit.droppedCount)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }

    func webhook(_ request: Request, _ context: BasicRequestContext, route: String) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return reject(route: route, status: .contentTooLarge, code: 8, outcome: "too_large", "body over \(configuration.maxBodyBytes) bytes")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let bytes = Data(buffer: body, byteTransferStrategy: .noCopy)

        let headers = IndentHeaders(request.headers)
        guard let signature = headers.signature, !signature.isEmpty else {
            return reject(route: route, status: .unauthorized, code: 9, outcome: "unsigned", "missing X-Indent-Signature header")
        }
        guard let timestampText = headers.timestamp, !timestampText.isEmpty else {
            return reject(route: route, status: .unauthorized, code: 9, outcome: "unsigned", "missing X-Indent-Timestamp header")
        }
        guard verifier.isValid(signature: signature, timestamp: timestampText, body: bytes) else {
            return reject(route: route, status: .unauthorized, code: 9, outcome: "bad_signature", "X-Indent-Signature does not match the body")
        }
        let now = clock()
        guard let timestamp = RFC3339.parse(timestampText) else {
            return reject(route: route, status: .unauthorized, code: 9, outcome: "bad_timestamp", "X-Indent-Timestamp is not an RFC 3339 time")
        }
        let skew = now.timeIntervalSince(timestamp)
        guard abs(skew) <= configuration.maxClockSkew else {
            return reject(route: route, status: .unauthorized, code: 9, outcome: "replay",
                          "X-Indent-Timestamp is \(Int(skew.rounded()))s from the server's clock, beyond the allowed \(Int(configuration.maxClockSkew))s")
        }

        let (index, unavailable) = roster.usable(now: now, maxStaleness: configuration.maxStaleness)
        let result: IndentResponder.Result
        do {
            result = try IndentResponder.respond(to: bytes, index: index, unavailable: unavailable, now: now)
        } catch let error as IndentBodyError {
            return reject(route: route, status: .badRequest, code: 3, outcome: "malformed", error.description)
        }
        metrics.decisionDuration(nanoseconds: DispatchTime.now().uptimeNanoseconds - started)

        let requestId = headers.requestId ?? context.id
        var records: [DecisionRecord] = []
        for (position, (event, decision)) in result.decisions.enumerated() {
            metrics.decision(outcome: decision.outcome.rawValue)
            let requester = event.actorEmail ?? ""
            let resources = (event.resources ?? []).map { JSONValue.string($0["id"]?.stringValue ?? "?") }
            logger.info("decision", metadata: [
                "request_id": "\(requestId)", "requester": "\(requester)", "outcome": "\(decision.outcome.rawValue)",
                "schedules": "\(decision.scheduleNames.joined(separator: ","))", "granted_s": "\(decision.grantedSeconds.map(String.init) ?? "-")",
                "snapshot": "\(index?.snapshot.id.description ?? "-")",
            ])
            records.append(DecisionRecord(
                decidedAt: now, requestId: event.id ?? "\(requestId)#\(position)", requester: requester,
                resources: String(decoding: JSONValue.array(resources).serialized(), as: UTF8.self),
                outcome: decision.outcome.rawValue, reason: decision.reason, snapshotId: index?.snapshot.id,
                scheduleId: decision.scheduleIds.first, grantedSeconds: decision.grantedSeconds))
        }
        if unavailable != nil, !result.decisions.isEmpty {
            logger.warning("approving nothing: \(result.decisions[0].decision.reason)")
        }
        if audit.append(records) > 0 {
            logger.error("audit queue full; records dropped")
        }
        metrics.request(route: route, outcome: unavailable == nil ? "ok" : "fail_closed")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: result.reply)))
    }

    /// Refusals are logged and counted, never with their body.
    func reject(route: String, status: HTTPResponse.Status, code: Int, outcome: String, _ message: String) -> Response {
        metrics.request(route: route, outcome: outcome)
        logger.notice("webhook refused", metadata: ["route": "\(route)", "status": "\(status.code)", "reason": "\(message)"])
        return jsonResponse(status: status, body: ["status": .object(["code": .number(Double(code)), "message": .string(message)])])
    }

    func lookup(_ request: Request) -> Response {
        func parameter(_ name: String) -> String? {
            guard let raw = request.uri.queryParameters[Substring(name)].map(String.init) else { return nil }
            let value = raw.removingPercentEncoding ?? raw
            return value.isEmpty ? nil : value
        }
        let email = parameter("email")
        let scheduleKey = parameter("schedule")
        guard email != nil || scheduleKey != nil else {
            metrics.request(route: "/v1/oncall", outcome: "bad_request")
            return jsonResponse(status: .badRequest, body: ["error": .string("pass ?email=ADDRESS or ?schedule=ID_OR_NAME")])
        }
        let now = clock()
        let (index, unavailable) = roster.usable(now: now, maxStaleness: configuration.maxStaleness)
        if let unavailable {
            metrics.request(route: "/v1/oncall", outcome: "fail_closed")
            let reason: String = switch unavailable {
            case .noSnapshot: "no complete snapshot in the cache"
            case .stale(let age, let limit): "the cache is \(Int(age))s old, over the \(Int(limit))s limit"
            }
            var body: [String: JSONValue] = ["on_call": email != nil ? .bool(false) : .array([]), "error": .string(reason)]
            if let email { body["email"] = .string(email) }
            if let scheduleKey { body["schedule"] = .string(scheduleKey) }
            return jsonResponse(status: .serviceUnavailable, body: body)
        }
        guard let index else { return jsonResponse(status: .serviceUnavailable, body: ["error": .string("no snapshot")]) }
        guard let email else { return scheduleLookup(scheduleKey ?? "", index: index, now: now) }
        let decision = Decider.decide(email: email, requestedDuration: nil, now: now, index: index)
        metrics.request(route: "/v1/oncall", outcome: "ok")
        var body: [String: JSONValue] = [
            "email": .string(email),
            "on_call": .bool(decision.isApproved),
            "outcome": .string(decision.outcome.rawValue),
            "reason": .string(decision.reason),
            "schedules": .array(zip(decision.scheduleIds, decision.scheduleNames).map { .object(["id": .string($0), "name": .string($1)]) }),
            "snapshot_id": .number(Double(index.snapshot.id)),
            "snapshot_age_seconds": .number(now.timeIntervalSince(index.snapshot.finishedAt).rounded()),
        ]
        if let user = decision.user {
            body["user"] = .object(["id": .string(user.id), "name": .string(user.name), "email": .string(user.email)])
        }
        if let end = decision.stretchEnd { body["until"] = .string(RFC3339.format(end)) }
        if let seconds = decision.grantedSeconds { body["would_grant"] = .string(GoDuration.format(seconds: seconds)) }
        return jsonResponse(body: body)
    }

    /// Everyone on call in one schedule now: a set, each with the end of their own stretch there.
    func scheduleLookup(_ key: String, index: OnCallIndex, now: Date) -> Response {
        guard let schedule = index.schedule(idOrName: key) else {
            metrics.request(route: "/v1/oncall", outcome: "not_found")
            return jsonResponse(status: .notFound, body: [
                "schedule": .string(key), "error": .string("no schedule with this id or name in snapshot \(index.snapshot.id)"),
            ])
        }
        metrics.request(route: "/v1/oncall", outcome: "ok")
        let people = index.onCall(scheduleId: schedule.id, at: now)
        return jsonResponse(body: [
            "schedule": .object([
                "id": .string(schedule.id), "name": .string(schedule.name), "kind": .string(schedule.kind.rawValue),
                "time_zone": .string(schedule.timeZone),
            ]),
            "at": .string(RFC3339.format(now)),
            "on_call": .array(people.map { person in
                .object([
                    "id": .string(person.userId), "name": .string(person.user?.name ?? person.userId),
                    "email": .string(person.user?.email ?? ""), "until": .string(RFC3339.format(person.until)),
                ])
            }),
            "allowed": .bool(index.allowedScheduleIds.contains(schedule.id)),
            "snapshot_id": .number(Double(index.snapshot.id)),
            "snapshot_age_seconds": .number(now.timeIntervalSince(index.snapshot.finishedAt).rounded()),
        ])
    }

    func readiness() -> Response {
        let now = clock()
        let (index, unavailable) = roster.usable(now: now, maxStaleness: configuration.maxStaleness)
        var body: [String: JSONValue] = ["max_staleness_seconds": .number(configuration.maxStaleness)]
        if let index {
            body["snapshot_id"] = .number(Double(index.snapshot.id))
            body["snapshot_age_seconds"] = .number(now.timeIntervalSince(index.snapshot.finishedAt).rounded())
        }
        switch unavailable {
        case nil:
            metrics.request(route: "/readyz", outcome: "ready")
            body["status"] = .string("ready")
            return jsonResponse(body: body)
        case .noSnapshot:
            metrics.request(route: "/readyz", outcome: "not_ready")
            body["status"] = .string("no complete snapshot in the cache")
            return jsonResponse(status: .serviceUnavailable, body: body)
        case .stale:
            metrics.request(route: "/readyz", outcome: "not_ready")
            body["status"] = .string("stale: the newest snapshot is older than the staleness limit")
            return jsonResponse(status: .serviceUnavailable, body: body)
        }
    }
}

/// The headers the webhook reads, found in one pass over the request's fields (three lookups by name
/// each joined a value list). A repeated header's values are joined with ", ", as `HTTPFields`'
/// subscript joins them, so two signatures never pass as one.
struct IndentHeaders {
    var signature: String?
    var timestamp: String?
    var requestId: String?

    init(_ fields: HTTPFields) {
        for field in fields {
            switch field.name {
            case .indentSignature: Self.add(field.value, to: &signature)
            case .indentTimestamp: Self.add(field.value, to: &timestamp)
            case .requestId: Self.add(field.value, to: &requestId)
            default: continue
            }
        }
    }

    private static func add(_ value: String, to slot: inout String?) {
        slot = slot.map { "\($0), \(value)" } ?? value
    }
}

extension HTTPField.Name {
    static let indentSignature = Self("X-Indent-Signature")!
    static let indentTimestamp = Self("X-Indent-Timestamp")!
    static let requestId = Self("X-Request-Id")!
}
