import Approval
import Foundation
import JSON
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

    var response: Response {
        jsonResponse(status: status, body: ["status": .object(["code": .number(Double(code)), "message": .string(message)])])
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response }
}

func jsonResponse(status: HTTPResponse.Status = .ok, body: [String: JSONValue]) -> Response {
    Response(status: status, headers: [.contentType: "application/json"],
             body: .init(byteBuffer: ByteBuffer(bytes: JSONValue.object(JSONObject(body)).serialized(sortingKeys: true))))
}

/// Routes for Indent and for on-call lookups. Answers from the in-memory roster only: verification
/// and decisions are `Approval`'s pure functions; this wires HTTP, the audit queue, logs and metrics
/// to them.
struct WebhookController {
    let configuration: ServerConfiguration
    let roster: RosterCache
    let audit: AuditLog
    let metrics: ServerMetrics
    let logger: Logger
    let clock: @Sendable () -> Date
    let verifier: IndentRequestVerifier
    let tokens: APITokens

    init(configuration: ServerConfiguration, roster: RosterCache, audit: AuditLog, metrics: ServerMetrics, logger: Logger,
         clock: @escaping @Sendable () -> Date) {
        self.configuration = configuration
        self.roster = roster
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        verifier = IndentRequestVerifier(secret: configuration.webhookSecret, maxClockSkew: configuration.maxClockSkew)
        tokens = APITokens(configuration.apiTokens)
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/indent/webhook") { request, context in try await webhook(request, context, route: "/indent/webhook") }
        router.post("/") { request, context in try await webhook(request, context, route: "/") }
        router.get("/v1/oncall") { request, context in authenticate(request, route: "/v1/oncall") ?? lookup(request) }
        // Off (404) without a token: an open decision API would tell anyone who is on call.
        if tokens.isEnabled {
            router.post("/v1/decisions") { request, context in try await decisions(request, context) }
        }
        router.get("/healthz") { _, _ in
            metrics.request(route: "/healthz", outcome: "ok")
            return jsonResponse(body: ["status": .string("ok")])
        }
        // Load balancers and uptime checkers probe with HEAD: the same answer, without its body.
        router.head("/healthz") { _, _ in
            metrics.request(route: "/healthz", outcome: "ok")
            return Response(status: .ok, headers: [.contentType: "application/json"])
        }
        router.get("/readyz") { _, _ in readiness() }
        router.get("/metrics") { _, _ in
            let index = roster.index
            metrics.cache(age: index.map { clock().timeIntervalSince($0.snapshot.finishedAt) }, snapshotId: index?.snapshot.id)
            metrics.audit(pending: audit.pendingCount, dropped: audit.droppedCount)
            metrics.auditDurable(spooled: audit.spooledCount, writes: audit.durableWrites)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }

    /// The roster to decide with now: the snapshot's, unless it is missing or stale, or the audit
    /// queue is full, or neither the cache nor a spool can take an approval's record (fail closed).
    func state(now: Date) -> RosterState {
        if audit.isFull || !audit.canApprove { return .unavailable(.auditUnavailable) }
        return roster.state(now: now, maxStaleness: configuration.maxStaleness)
    }

    func webhook(_ request: Request, _ context: BasicRequestContext, route: String) async throws -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return refuse(route: route, outcome: "too_large", StatusError(status: .contentTooLarge, code: 8, message: "body over \(configuration.maxBodyBytes) bytes"))
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let bytes = Data(buffer: body, byteTransferStrategy: .noCopy)
        let headers = IndentRequestHeaders(request.headers)
        let now = clock()
        if case .failure(let refusal) = verifier.verify(headers, body: bytes, now: now) {
            return refuse(route: route, outcome: refusal.reason.rawValue, StatusError(status: .unauthorized, code: 9, message: refusal.description))
        }

        var roster = state(now: now)
        var result: IndentResponder.Result
        do {
            result = try IndentResponder.respond(to: bytes, roster: roster, now: now)
        } catch {
            return refuse(route: route, outcome: "malformed", StatusError(status: .badRequest, code: 3, message: error.description))
        }
        let requestId = headers.requestId ?? context.id
        // No approval leaves without its audit record, durable (the cache, else the spool) before the
        // reply: when it cannot be made so, the same body is answered again with nothing approved.
        // A reply that approves nothing only queues its records.
        var records = auditRecords(result, requestId: requestId, roster: roster, now: now)
        if result.decisions.contains(where: \.decision.isApproved) {
            if await !audit.appendDurably(records) {
                roster = .unavailable(.auditUnavailable)
                result = try IndentResponder.respond(to: bytes, roster: roster, now: now)
                records = auditRecords(result, requestId: requestId, roster: roster, now: now)
                if !audit.append(records) { audit.noteDropped(records.count) }
            }
        } else if !audit.append(records) {
            audit.noteDropped(records.count)
        }
        metrics.decisionDuration(nanoseconds: DispatchTime.now().uptimeNanoseconds - started)

        // Each decision's line carries its audit record's request id (the event's id, or the HTTP
        // request's with the event's position), so that the two can be joined; `http_request_id` is
        // the request's own, shared by every decision in one body.
        for ((event, decision), record) in zip(result.decisions, records) {
            metrics.decision(outcome: decision.outcome.rawValue)
            var metadata: Logger.Metadata = [
                "request_id": "\(record.requestId)", "http_request_id": "\(requestId)", "requester": "\(event.actorEmail ?? "")", "outcome": "\(decision.outcome.rawValue)",
                "schedules": "\(decision.scheduleNames.joined(separator: ","))", "granted_s": "\(decision.grantedSeconds.map(String.init) ?? "-")",
                "snapshot": "\(roster.index?.snapshot.id.description ?? "-")",
            ]
            if !decision.rules.isEmpty { metadata["rules"] = "\(decision.rules.joined(separator: ","))" }
            logger.info("decision", metadata: metadata)
        }
        if case .unavailable(let unavailable) = roster, !result.decisions.isEmpty {
            logger.warning("approving nothing: \(unavailable.reason)")
        }
        metrics.request(route: route, outcome: roster.index == nil ? "fail_closed" : "ok")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: result.reply)))
    }

    /// The audit records of one reply's decisions, one per `access/request` event.
    func auditRecords(_ result: IndentResponder.Result, requestId: String, roster: RosterState, now: Date) -> [DecisionRecord] {
        result.decisions.enumerated().map { position, item in
            let resources = (item.event.resources ?? []).map { JSONValue.string($0["id"]?.stringValue ?? "?") }
            return DecisionRecord(
                decidedAt: now, requestId: item.event.id ?? "\(requestId)#\(position)", requester: item.event.actorEmail ?? "",
                resources: String(decoding: JSONValue.array(resources).serialized(sortingKeys: true), as: UTF8.self),
                outcome: item.decision.outcome.rawValue, reason: item.decision.reason, snapshotId: roster.index?.snapshot.id,
                scheduleId: item.decision.scheduleIds.first, grantedSeconds: item.decision.grantedSeconds)
        }
    }

    /// Refusals are logged and counted, never with their body.
    func refuse(route: String, outcome: String, _ error: StatusError) -> Response {
        metrics.request(route: route, outcome: outcome)
        logger.notice("webhook refused", metadata: ["route": "\(route)", "status": "\(error.status.code)", "reason": "\(error.message)"])
        return error.response
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
        guard let index = roster.state(now: now, maxStaleness: configuration.maxStaleness).index else {
            let unavailable = roster.index == nil ? Unavailable.noSnapshot : .stale(age: now.timeIntervalSince(roster.index!.snapshot.finishedAt), limit: configuration.maxStaleness)
            metrics.request(route: "/v1/oncall", outcome: "fail_closed")
            var body: [String: JSONValue] = ["on_call": email != nil ? .bool(false) : .array([]), "error": .string(unavailable.reason)]
            if let email { body["email"] = .string(email) }
            if let scheduleKey { body["schedule"] = .string(scheduleKey) }
            return jsonResponse(status: .serviceUnavailable, body: body)
        }
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
        var body: [String: JSONValue] = ["max_staleness_seconds": .number(configuration.maxStaleness)]
        if let index = roster.index {
            body["snapshot_id"] = .number(Double(index.snapshot.id))
            body["snapshot_age_seconds"] = .number(now.timeIntervalSince(index.snapshot.finishedAt).rounded())
        }
        // The store being unreachable is said while it lasts; decisions go on from the snapshot held
        // until it is stale.
        if let error = roster.storeError { body["store_error"] = .string(error) }
        // Where approvals' audit records go now: the cache, else the spool (and how many wait there).
        if let error = audit.storeError { body["audit_store_error"] = .string(error) }
        if let spool = audit.spool {
            body["audit_spool"] = .string(spool.path)
            body["audit_spooled_records"] = .number(Double(audit.spooledCount))
        }
        if let error = audit.spoolError { body["audit_spool_error"] = .string(error) }
        // Which rules are in use (a SIGHUP may have changed them): the file and its rules' names.
        let rules = roster.rules
        if let file = rules.source {
            body["rules_file"] = .string(file)
            body["rules"] = .array(rules.rules.map { .string($0.name) })
        }
        guard case .unavailable(let unavailable) = state(now: now) else {
            metrics.request(route: "/readyz", outcome: "ready")
            body["status"] = .string("ready")
            return jsonResponse(body: body)
        }
        metrics.request(route: "/readyz", outcome: "not_ready")
        body["status"] = .string(unavailable.reason)
        return jsonResponse(status: .serviceUnavailable, body: body)
    }
}

extension IndentRequestHeaders {
    /// The three headers, found in one pass over the request's fields (three lookups by name each
    /// joined a value list). A repeated header's values are joined with ", ", as `HTTPFields`'
    /// subscript joins them, so two signatures never pass as one.
    init(_ fields: HTTPFields) {
        self.init()
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
