import Foundation
import Timestamps

// PagerDuty REST API v2 reply types: only the fields Shiftgate reads. Field names follow the wire
// (snake_case via `convertFromSnakeCase`); times decode as RFC 3339 with any offset.

/// PagerDuty's reply shapes, as the client decodes them. Kept apart (`Wire.User`, `Wire.Schedule`)
/// from the cache's own types of the same names, which the sync builds from these.
public enum Wire {}

extension Wire {
    /// A reference to another object (`user_reference`, `schedule_reference`, …).
    public struct Reference: Decodable, Sendable, Hashable {
        public var id: String
        public var type: String?
        public var summary: String?

        public init(id: String, type: String? = nil, summary: String? = nil) {
            self.id = id
            self.type = type
            self.summary = summary
        }
    }

    public struct User: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String
        public var email: String
        public var timeZone: String?
        public var role: String?
    }

    public struct Team: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String
    }

    public struct RenderedEntry: Decodable, Sendable, Hashable {
        public var start: Date
        public var end: Date
        public var user: Reference?
    }

    public struct SubSchedule: Decodable, Sendable, Hashable {
        public var name: String?
        public var renderedScheduleEntries: [RenderedEntry]?
        public var renderedCoveragePercentage: Double?
    }

    /// A `GET /schedules` item: what the list says of a layer-based schedule (its detail is
    /// `RenderedSchedule`).
    public struct Schedule: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String?
        public var summary: String?
        public var timeZone: String?
        public var description: String?
        public var users: [Reference]?
    }

    /// A schedule's detail as a sync reads it: the final schedule (overrides folded in) and the
    /// overrides, without `schedule_layers`, which are PagerDuty's working and are never decoded, so a
    /// large account's details stay small in memory.
    public struct RenderedSchedule: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String?
        public var timeZone: String?
        public var description: String?
        public var users: [Reference]?
        public var overridesSubschedule: SubSchedule?
        public var finalSchedule: SubSchedule?
    }

    public struct EscalationRule: Decodable, Sendable, Hashable {
        public var id: String
        public var escalationDelayInMinutes: Int?
        public var targets: [Reference]
    }

    public struct EscalationPolicy: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String?
        public var summary: String?
        public var numLoops: Int?
        public var escalationRules: [EscalationRule]
    }

    /// Just an object's id: what a sync keeps of the references in its largest lists, decoded
    /// without their summaries, types and links (a 10,000-entry `/oncalls` holds 30,000 of them).
    public struct ObjectID: Decodable, Sendable, Hashable {
        public var id: String
    }

    /// An on-call entry's user: a reference, or the whole user when the request said
    /// `include[]=users` (then `name` and `email` are set).
    public struct OnCallUser: Decodable, Sendable, Hashable {
        public var id: String
        public var name: String?
        public var email: String?
        public var timeZone: String?

        /// The whole user, when the reply included it.
        public var user: User? {
            guard let name, let email else { return nil }
            return User(id: id, name: name, email: email, timeZone: timeZone, role: nil)
        }
    }

    public struct OnCall: Decodable, Sendable, Hashable {
        public var user: OnCallUser
        public var schedule: ObjectID?
        public var escalationPolicy: ObjectID
        public var escalationLevel: Int
        public var start: Date?
        public var end: Date?
    }

    public struct Override: Decodable, Sendable, Hashable {
        public var id: String
        public var start: Date
        public var end: Date
        public var user: Reference
    }

    /// PagerDuty's error body: `{"error": {"message": "...", "code": N, "errors": ["..."]}}`. The
    /// shift-based (v3) API's validation errors map each field to its messages instead
    /// (`"errors": {"event.effective_since": ["..."]}`); both read as a list of strings.
    public struct ErrorBody: Decodable, Sendable, Hashable {
        public struct Detail: Decodable, Sendable, Hashable {
            public var message: String?
            public var code: Int?
            public var errors: [String]?

            enum CodingKeys: String, CodingKey {
                case message, code, errors
            }

            public init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                message = try? container.decodeIfPresent(String.self, forKey: .message)
                code = try? container.decodeIfPresent(Int.self, forKey: .code)
                if let list = try? container.decodeIfPresent([String].self, forKey: .errors) {
                    errors = list
                } else if let byField = try? container.decodeIfPresent([String: [String]].self, forKey: .errors) {
                    errors = byField.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.joined(separator: ", "))" }
                }
            }
        }

        public var error: Detail
    }
}

/// One page of a classic paginated list.
struct Page<Item: Decodable & Sendable>: Decodable, Sendable {
    var items: [Item]
    var more: Bool
    var offset: Int?
    var limit: Int?
    var total: Int?

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        guard let itemsKey = decoder.userInfo[.pageItemsKey] as? String else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "page decoded without its items key"))
        }
        let container = try decoder.container(keyedBy: Key.self)
        // `convertFromSnakeCase` has already turned "escalation_policies" into "escalationPolicies".
        let camel = itemsKey.split(separator: "_").enumerated().map { $0 == 0 ? String($1) : $1.prefix(1).uppercased() + $1.dropFirst() }.joined()
        items = try container.decode([Item].self, forKey: Key(stringValue: camel))
        more = try container.decodeIfPresent(Bool.self, forKey: Key(stringValue: "more")) ?? false
        offset = try container.decodeIfPresent(Int.self, forKey: Key(stringValue: "offset"))
        limit = try container.decodeIfPresent(Int.self, forKey: Key(stringValue: "limit"))
        total = try container.decodeIfPresent(Int.self, forKey: Key(stringValue: "total"))
    }
}

extension CodingUserInfoKey {
    static let pageItemsKey = CodingUserInfoKey(rawValue: "shiftgate.pageItemsKey")!
}

extension JSONDecoder {
    /// A decoder set up for PagerDuty replies.
    public static func pagerDuty() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .rfc3339
        return decoder
    }
}
