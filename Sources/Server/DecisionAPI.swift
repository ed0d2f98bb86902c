import Approval
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import JSON
import NIOCore
import OnCallStore
import Timestamps

/// The bearer tokens of the decision API. Only their SHA-256 digests are kept; a presented token is
/// hashed and compared with every digest, each byte of each, so the time taken says nothing about
/// which token or how much of it matched.
struct APITokens: Sendable {
    private let digests: [[UInt8]]

    init(_ tokens: [String]) {
        digests = tokens.filter { !$0.isEmpty }.map { Array(SHA256.hash(data: Data($0.utf8))) }
    }

    var isEnabled: Bool { !digests.isEmpty }

    /// Whether the request's `Authorization: Bearer TOKEN` is one of the tokens.
    func admits(_ headers: HTTPFields) -> Bool {
        guard let header = headers[.authorization] else { return false }
        let prefix = "Bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix.lowercased() else { return false }
        let presented = Array(SHA256.hash(data: Data(header.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces).utf8)))
        var matched: UInt8 = 1
        for digest in digests {
            var difference: UInt8 = 0
            for (a, b) in zip(digest, presented) { difference |= a ^ b }
            // 1 when this digest matched; folded in without a branch.
            matched &= difference == 0 ? 0 : 1
        }
        return matched == 0
    }
}

/// `POST /v1/decisions`: the webhook's decision for callers other than Indent. Same rules, same
/// code, same audit log.
struct DecisionRequest {
    var email: String
    var resources: [ResourceRef]
    var duration: TimeInterval?

    struct Invalid: Error {
        var message: String
    }

    init(_ body: JSONValue) throws(Invalid) {
        guard case .object(let members) = body else { throw Invalid(message: "the body must be a JSON object") }
        guard let email = members["email"]?.stringValue?.trimmingCharacters(in: .whitespaces), !email.isEmpty else {
            throw Invalid(message: "'email' must be a non-empty string")
        }
        self.email = email
        resources = []
        if let list = members["resources"], list != .null {
            guard case .array(let entries) = list else { throw Invalid(message: "'resources' must be an array of {kind, id, labels}") }
            for (position, entry) in entries.enumerated() {
                guard case .object(let fields) = entry, let kind = fields["kind"]?.stringValue, !kind.isEmpty else {
                    throw Invalid(message: "resources[\(position)] must be an object with a non-empty string 'kind'")
                }
                var id = ""
                if let value = fields["id"], value != .null {
                    guard let text = value.stringValue else { throw Invalid(message: "resources[\(position)].id must be a string") }
                    id = text
                }
                var labels: [String: String] = [:]
                if let value = fields["labels"], value != .null {
                    guard case .object(let pairs) = value else { throw Invalid(message: "resources[\(position)].labels must be an object of strings") }
                    for (key, label) in pairs {
                        guard let text = label.stringValue else { throw Invalid(message: "resources[\(position)].labels.\(key) must be a string") }
                        labels[key] = text
                    }
                }
                resources.append(ResourceRef(kind: kind, id: id, labels: labels))
            }
        }
        if let value = members["duration"], value != .null {
            guard let text = value.stringValue else {
                throw Invalid(message: "'duration' must be a duration such as \"2h\", \"90m\" or \"1h30m\"")
            }
            switch RequestedDuration.seconds(text) {
            case .success(let seconds): duration = seconds
            case .failure(let invalid): throw Invalid(message: "'duration': \(invalid)")
            }
        }
    }
}

extension WebhookController {
    func apiError(_ status: HTTPResponse.Status, route: String, outcome: String, _ message: String) -> Response {
        metrics.request(route: route, outcome: outcome)
        var response = jsonResponse(status: status, body: ["error": .string(message)])
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    /// Nil when the request may go on; else the 401 reply. Open when no token is configured.
    func authenticate(_ request: Request, route: String) -> Response? {
        guard tokens.isEnabled, !tokens.admits(request.headers) else { return nil }
        logger.notice("API request refused: no or wrong bearer token", metadata: ["route": "\(route)"])
        return apiError(.unauthorized, route: route, outcome: "unauthorized", "missing or wrong bearer token (Authorization: Bearer TOKEN)")
    }

    func decisions(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let route = "/v1/decisions"
        if let refusal = authenticate(request, route: route) { return refusal }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxBodyBytes)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return apiError(.contentTooLarge, route: route, outcome: "too_large", "body over \(configuration.maxBodyBytes) bytes")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let asked: DecisionRequest
        do {
            asked = try DecisionRequest(JSONValue.parse(Data(buffer: body, byteTransferStrategy: .noCopy), maxNesting: IndentResponder.maxNesting))
        } catch let error as DecisionRequest.Invalid {
            return apiError(.badRequest, route: route, outcome: "malformed", error.message)
        } catch {
            return apiError(.badRequest, route: route, outcome: "malformed", "malformed JSON body: \(error)")
        }
        let now = clock()
        var roster = state(now: now)
        var decision = Decider.decide(email: asked.email, resources: asked.resources, requestedDuration: asked.duration, now: now, roster: roster)
        let requestId = request.headers[.requestId] ?? "api-\(context.id)"
        func record() -> DecisionRecord {
            let ids = asked.resources.map { JSONValue.string($0.id.isEmpty ? $0.kind : $0.id) }
            return DecisionRecord(
                decidedAt: now, requestId: requestId, requester: asked.email,
                resources: String(decoding: JSONValue.array(ids).serialized(sortingKeys: true), as: UTF8.self),
                outcome: decision.outcome.rawValue, reason: decision.reason, snapshotId: roster.index?.snapshot.id,
                scheduleId: decision.scheduleIds.first, grantedSeconds: decision.grantedSeconds)
        }
        // As the webhook: no approval leaves without its audit record, durable before the reply.
        if decision.isApproved {
            if await !audit.appendDurably([record()]) {
                roster = .unavailable(.auditUnavailable)
                decision = Decider.decide(email: asked.email, resources: asked.resources, requestedDuration: asked.duration, now: now, roster: roster)
                if !audit.append([record()]) { audit.noteDropped(1) }
            }
        } else if !audit.append([record()]) {
            audit.noteDropped(1)
        }
        metrics.decisionDuration(nanoseconds: DispatchTime.now().uptimeNanoseconds - started)
        metrics.decision(outcome: decision.outcome.rawValue)
        logger.info("decision", metadata: [
            "request_id": "\(requestId)", "via": "api", "requester": "\(asked.email)", "outcome": "\(decision.outcome.rawValue)",
            "rules": "\(decision.rules.joined(separator: ","))", "schedules": "\(decision.scheduleNames.joined(separator: ","))",
            "granted_s": "\(decision.grantedSeconds.map(String.init) ?? "-")", "snapshot": "\(roster.index?.snapshot.id.description ?? "-")",
        ])
        var reply: [String: JSONValue] = [
            "approved": .bool(decision.isApproved),
            "outcome": .string(decision.outcome.rawValue),
            "reason": .string(decision.reason),
            "rules": .array(decision.rules.map(JSONValue.string)),
            "granted_seconds": decision.grantedSeconds.map { .number(Double($0)) } ?? .null,
            "until": decision.grantedSeconds.map { .string(RFC3339.format(now.addingTimeInterval(Double($0)))) } ?? .null,
            "schedules": .array(zip(decision.scheduleIds, decision.scheduleNames).map { .object(["id": .string($0), "name": .string($1)]) }),
            "snapshot_id": roster.index.map { .number(Double($0.snapshot.id)) } ?? .null,
            "snapshot_age_seconds": roster.index.map { .number(now.timeIntervalSince($0.snapshot.finishedAt).rounded()) } ?? .null,
        ]
        if case .unavailable(let unavailable) = roster {
            // Stale, missing or unauditable: the caller must not read a refusal as "not on call".
            metrics.request(route: route, outcome: "fail_closed")
            reply["error"] = .string(unavailable.reason)
            if let held = self.roster.index {
                reply["snapshot_id"] = .number(Double(held.snapshot.id))
                reply["snapshot_age_seconds"] = .number(now.timeIntervalSince(held.snapshot.finishedAt).rounded())
            }
            return jsonResponse(status: .serviceUnavailable, body: reply)
        }
        metrics.request(route: route, outcome: "ok")
        return jsonResponse(body: reply)
    }
}
