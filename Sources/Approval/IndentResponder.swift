import Foundation
import OnCallStore

/// Why no roster may be used (fail closed).
public enum CacheUnavailable: Sendable, Equatable {
    case noSnapshot
    case stale(age: TimeInterval, limit: TimeInterval)

    var decision: Decision {
        switch self {
        case .noSnapshot:
            Decision(outcome: .noSnapshot, reason: "no complete snapshot in the cache; approving nothing", user: nil, scheduleIds: [], scheduleNames: [], stretchEnd: nil, grantedSeconds: nil)
        case .stale(let age, let limit):
            Decision(outcome: .staleCache, reason: "the cache is \(Int(age))s old, over the \(Int(limit))s staleness limit; approving nothing", user: nil, scheduleIds: [], scheduleNames: [], stretchEnd: nil, grantedSeconds: nil)
        }
    }
}

/// A webhook body that cannot be answered, with a reason for the caller.
public struct IndentBodyError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Turns an (already verified) Indent body into the reply and the audit records.
public enum IndentResponder {
    public struct Result: Sendable {
        /// The JSON reply body.
        public var reply: Data
        public var decisions: [(event: IndentEvent, decision: Decision)]
        public var call: IndentBody.Call
    }

    /// Indent's bodies nest a few levels deep; anything deeper is refused as it is read, before the
    /// deeper containers are built.
    public static let maxNesting = 32

    public static func respond(to body: Data, index: OnCallIndex?, unavailable: CacheUnavailable?, now: Date) throws -> Result {
        let parsed: IndentBody
        do {
            parsed = try IndentBody(JSONValue.parse(body, maxNesting: maxNesting))
        } catch {
            // The reader's words and byte offset, or the path of a field of the wrong type.
            throw IndentBodyError(description: "malformed JSON body: \(error)")
        }
        let call = parsed.call
        var reply: [String: JSONValue] = ["status": .object(["code": .number(0)])]
        var decisions: [(IndentEvent, Decision)] = []
        switch call {
        case .pullUpdate:
            reply["resources"] = .array([approvalBot])
        case .getInfo, .applyUpdate:
            break
        case .unknown:
            throw IndentBodyError(description: "the body has none of events, kinds or info")
        case .getDecision:
            var claims: [JSONValue] = []
            for event in parsed.events ?? [] where event.event == "access/request" {
                let decision: Decision
                if let unavailable {
                    decision = unavailable.decision
                } else if let index {
                    let requested = event.meta?.labels?["indent.com/time/duration"].flatMap(GoDuration.parse)
                    decision = Decider.decide(email: event.actorEmail, requestedDuration: requested, now: now, index: index)
                } else {
                    decision = CacheUnavailable.noSnapshot.decision
                }
                decisions.append((event, decision))
                if decision.isApproved, let seconds = decision.grantedSeconds {
                    claims.append(claim(for: event, seconds: seconds, reason: decision.reason, now: now))
                }
            }
            reply["claims"] = .array(claims)
        }
        return Result(reply: Data(JSONValue.object(reply).serialized()), decisions: decisions, call: call)
    }

    static func claim(for event: IndentEvent, seconds: Int, reason: String, now: Date) -> JSONValue {
        var labels: [String: JSONValue] = [:]
        for (key, value) in event.meta?.labels ?? [:] { labels[key] = .string(value) }
        labels["indent.com/time/duration"] = .string(GoDuration.format(seconds: seconds))
        labels["indent.com/time/expires"] = .string(IndentTime.format(now.addingTimeInterval(Double(seconds))))
        var resources: [JSONValue] = []
        if let actor = event.actor { resources.append(actor) }
        resources += event.resources ?? []
        return .object([
            "event": .string("access/approve"),
            "actor": approvalBot,
            "resources": .array(resources),
            "meta": .object(["labels": .object(labels)]),
            "timestamp": .string(IndentTime.format(now)),
            "reason": .string(reason),
        ])
    }
}
