import Foundation
import JSON
import OnCallStore

/// A webhook body that cannot be answered, with a reason for the caller.
public struct IndentBodyError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Turns an (already verified) Indent body into the reply and the audit records.
public enum IndentResponder {
    public struct Result: Sendable {
        /// The JSON reply body.
        public var reply: [UInt8]
        /// Each `access/request` event and its decision, in the body's order.
        public var decisions: [(event: IndentEvent, decision: Decision)]
    }

    /// Indent's bodies nest a few levels deep; anything deeper is refused as it is read, before the
    /// deeper containers are built.
    public static let maxNesting = 32

    public static func respond(to body: Data, roster: RosterState, now: Date) throws(IndentBodyError) -> Result {
        let parsed: IndentBody
        do {
            parsed = try IndentBody(JSONValue.parse(body, maxNesting: maxNesting))
        } catch {
            // The reader's words and byte offset, or the path of a field of the wrong type.
            throw IndentBodyError(description: "malformed JSON body: \(error)")
        }
        let call = parsed.call
        var decisions: [(IndentEvent, Decision)] = []
        var claims: [Claim] = []
        switch call {
        case .pullUpdate, .getInfo, .applyUpdate:
            break
        case .unknown:
            throw IndentBodyError(description: "the body has none of events, kinds or info")
        case .getDecision:
            for event in parsed.events ?? [] where event.event == "access/request" {
                // The implicit rule of the AUTO_APPROVAL_* variables looks at no resource: none are read.
                let resources = roster.index.map { $0.rules.isImplicit } == false ? event.resourceRefs : nil
                let decision: Decision
                switch event.meta?.labels?["indent.com/time/duration"].map(RequestedDuration.seconds) {
                case .failure(let invalid)?: decision = .invalidDuration(invalid)
                case .success(let seconds)?: decision = Decider.decide(email: event.actorEmail, resources: resources, requestedDuration: seconds, now: now, roster: roster)
                case nil: decision = Decider.decide(email: event.actorEmail, resources: resources, requestedDuration: nil, now: now, roster: roster)
                }
                decisions.append((event, decision))
                if decision.isApproved, let seconds = decision.grantedSeconds {
                    claims.append(Claim(event: event, seconds: seconds, reason: decision.reason, now: now))
                }
            }
        }
        return Result(reply: reply(call, claims: claims), decisions: decisions)
    }

    /// The reply's JSON, written in one pass with every object's keys in sorted order: the bytes
    /// `JSONValue.serialized(sortingKeys: true)` would give for the same tree, without building the tree.
    static func reply(_ call: IndentBody.Call, claims: [Claim]) -> [UInt8] {
        var writer = JSONWriter(capacity: 512 + 512 * claims.count)
        switch call {
        case .getDecision:
            writer.literal(#"{"claims":"#)
            writer.array(claims) { $1.write(into: &$0) }
            writer.literal(#","status":{"code":0}}"#)
        case .pullUpdate:
            writer.literal(#"{"resources":["#)
            writer.bytes += approvalBotJSON
            writer.literal(#"],"status":{"code":0}}"#)
        case .getInfo, .applyUpdate, .unknown:
            writer.literal(#"{"status":{"code":0}}"#)
        }
        return writer.bytes
    }

    /// The approval bot as JSON, written once.
    static let approvalBotJSON = approvalBot.serialized(sortingKeys: true)

    /// An `access/approve` event for one approved request: the requester and the resources as Indent
    /// sent them, and the request's labels with the granted duration and expiry.
    struct Claim {
        let event: IndentEvent
        let labels: [(String, String)]
        let reason: String
        let timestamp: String

        init(event: IndentEvent, seconds: Int, reason: String, now: Date) {
            var labels = event.meta?.labels ?? [:]
            labels["indent.com/time/duration"] = GoDuration.format(seconds: seconds)
            labels["indent.com/time/expires"] = IndentTime.format(now.addingTimeInterval(Double(seconds)))
            self.event = event
            self.labels = labels.sorted { $0.key < $1.key }
            self.reason = reason
            timestamp = IndentTime.format(now)
        }

        func write(into writer: inout JSONWriter) {
            writer.literal(#"{"actor":"#)
            writer.bytes += IndentResponder.approvalBotJSON
            writer.literal(#","event":"access/approve","meta":{"labels":"#)
            writer.object(labels) { $0.string($1) }
            writer.literal(#"},"reason":"#)
            writer.string(reason)
            writer.literal(#","resources":"#)
            writer.array((event.actor.map { [$0] } ?? []) + (event.resources ?? [])) { $1.write(into: &$0, sortingKeys: true) }
            writer.literal(#","timestamp":"#)
            writer.string(timestamp)
            writer.literal("}")
        }
    }
}

extension IndentEvent {
    /// The event's resources as the rules see them: `kind`, `id` and string `labels` (a missing field
    /// is empty, so it matches only `*`).
    public var resourceRefs: [ResourceRef] {
        (resources ?? []).map { value in
            var labels: [String: String] = [:]
            if case .object(let members)? = value["labels"] {
                for (key, label) in members { if let text = label.stringValue { labels[key] = text } }
            }
            return ResourceRef(kind: value["kind"]?.stringValue ?? "", id: value["id"]?.stringValue ?? "", labels: labels)
        }
    }
}
