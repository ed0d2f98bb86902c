import Foundation
import JSON
import PagerDuty
import Timestamps

/// An error answered with PagerDuty's body: `{"error": {"message", "code", "errors"}}` (without
/// `errors` when nil, as the schedule-kind errors are written).
struct APIError: Error, Sendable {
    var status: Int
    var message: String
    var code: Int
    var errors: [String]?

    static func invalid(_ detail: String) -> APIError {
        APIError(status: 400, message: "Invalid Input Provided", code: 2001, errors: [detail])
    }

    static func notFound(_ detail: String) -> APIError {
        APIError(status: 404, message: "Not Found", code: 2100, errors: [detail])
    }

    static func unauthorized(_ detail: String) -> APIError {
        APIError(status: 401, message: "Unauthorized", code: 2006, errors: [detail])
    }

    static func rateLimited() -> APIError {
        APIError(status: 429, message: "Rate Limit Exceeded", code: 2020, errors: ["Too many requests for this API key; wait for the window to reset."])
    }

    static func injected(status: Int) -> APIError {
        APIError(status: status, message: "Internal Server Error", code: 2000, errors: ["Injected by the simulator's faults."])
    }

    /// A v3 route asked about a layer-based schedule: the body PagerDuty's MCP server tests show,
    /// with the code of v3's other 400s (API-v3.md §4, §9).
    static let layerBasedOnV3 = APIError(
        status: 400, message: "This is a layer-based schedule. Use the v2 Schedules API to access it.", code: 2001, errors: nil
    )

    /// A v2 route (`/schedules/{id}`, `/schedules/{id}/overrides`) asked about a shift-based schedule.
    static let shiftBasedOnV2 = APIError(
        status: 400, message: "This is a shift-based schedule. Use the v3 Schedules API to access it.", code: 2001, errors: nil
    )

    var body: JSONValue {
        var members: [(String, JSONValue)] = [("message", .string(message)), ("code", .int(code))]
        if let errors {
            members.append(("errors", .array(errors.map(JSONValue.string))))
        }
        return .object([("error", .object(members))])
    }
}

/// A request's query, decoded as PagerDuty's (Rails) servers decode it: keys and values
/// percent-decoded, `+` read as a space, array parameters only with brackets (`user_ids[]=P1`).
///
/// Hummingbird's own `queryParameters` decodes neither keys (`user_ids%5B%5D` stays encoded) nor
/// `+`, hence this parser.
struct QueryParameters: Sendable {
    private let pairs: [(key: String, value: String)]

    init(_ query: String?) throws(APIError) {
        var pairs: [(key: String, value: String)] = []
        for part in (query ?? "").split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = Self.decode(pieces[0]), let value = Self.decode(pieces.count > 1 ? pieces[1] : "") else {
                throw .invalid("The query is not valid percent-encoding: \(part)")
            }
            pairs.append((key, value))
        }
        self.pairs = pairs
    }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// The last value given for a plain parameter.
    func value(_ name: String) -> String? {
        pairs.last { $0.key == name }?.value
    }

    /// Every value of an array parameter (`name[]=A&name[]=B`). A bare `name=` is refused, as it
    /// would not reach PagerDuty as an array.
    func values(_ name: String) throws(APIError) -> [String] {
        if pairs.contains(where: { $0.key == name }) {
            throw .invalid("\(name) must be sent as an array: \(name)[]=…")
        }
        return pairs.filter { $0.key == name + "[]" }.map(\.value)
    }

    func flag(_ name: String) throws(APIError) -> Bool {
        switch value(name) {
        case nil, "false": return false
        case "true": return true
        case let other?: throw .invalid("\(name) must be true or false, not \(other)")
        }
    }

    func date(_ name: String) throws(APIError) -> Date? {
        guard let text = value(name) else { return nil }
        guard let date = RFC3339.parse(text) else {
            let hint = text.contains(" ") ? " (a '+' in a query must be sent as %2B)" : ""
            throw .invalid("\(name) is not an ISO 8601 time with an offset: \(text)\(hint)")
        }
        return date
    }

    /// `time_zone=`, or `fallback` when the request names none.
    func timeZone(fallback: String) throws(APIError) -> TimeZone {
        guard let name = value("time_zone") else { return ZoneCache.zone(fallback) }
        guard let zone = ZoneCache.knownZone(name) else {
            throw .invalid("time_zone is not a known time zone: \(name)")
        }
        return zone
    }

    /// since/until with PagerDuty's defaults for schedules: now … now + 2 weeks.
    func scheduleWindow(now: Date) throws(APIError) -> (since: Date, until: Date) {
        let since = try date("since") ?? now
        let until = try date("until") ?? since.addingTimeInterval(14 * 86_400)
        guard since <= until else { throw .invalid("since must not be after until") }
        return (since, until)
    }

    func integer(_ name: String) throws(APIError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text) else { throw .invalid("\(name) must be an integer, not \(text)") }
        return number
    }
}

/// PagerDuty's classic pagination: `limit` (default 25, at most 100), `offset`, and `total` only
/// when asked for. Offset + limit past 10,000 is refused, as PagerDuty does.
struct Pagination: Sendable {
    static let defaultLimit = 25
    static let maximumLimit = 100
    static let maximumReach = 10_000

    let limit: Int
    let offset: Int
    let includeTotal: Bool

    init(_ query: QueryParameters) throws(APIError) {
        let asked = try query.integer("limit") ?? Self.defaultLimit
        guard asked >= 1 else { throw .invalid("limit must be at least 1") }
        limit = min(asked, Self.maximumLimit)
        offset = try query.integer("offset") ?? 0
        guard offset >= 0 else { throw .invalid("offset must not be negative") }
        guard offset + limit <= Self.maximumReach else {
            throw .invalid("Offset + limit must not exceed \(Self.maximumReach); narrow the query instead of paging further.")
        }
        includeTotal = try query.flag("total")
    }

    /// The reply for one page: `{key: [items], limit, offset, more, total}`.
    func reply<Item>(_ key: String, _ items: [Item], render: (Item) -> JSONValue) -> JSONValue {
        let start = min(offset, items.count)
        let end = min(offset + limit, items.count)
        return .object([
            (key, .array(items[start..<end].map(render))),
            ("limit", .int(limit)),
            ("offset", .int(offset)),
            ("more", .bool(end < items.count)),
            ("total", includeTotal ? .int(items.count) : .null),
        ])
    }
}
