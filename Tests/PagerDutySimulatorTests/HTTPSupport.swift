import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PagerDuty
import PagerDutySimulator
import TestSupport
import Testing
import Timestamps

/// A fixed "now" for tests: a Wednesday in January, when New York is at -05:00 and Berlin at +01:00.
let testNow = RFC3339.parse("2024-01-10T15:30:00Z")!
/// `testNow` rounded down to the hour: the `H` of `SimulatedAccount.small(now:)`'s documentation.
let testHour = RFC3339.parse("2024-01-10T15:00:00Z")!
let hour: TimeInterval = 3600
let day: TimeInterval = 86_400

func iso(_ text: String) -> Date {
    RFC3339.parse(text)!
}

/// A reply read over HTTP, with its JSON parsed when it is JSON.
struct Reply {
    var status: Int
    var headers: [String: String]
    var body: Data

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    }

    var isJSON: Bool {
        (try? JSONSerialization.jsonObject(with: body)) != nil
    }

    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }

    /// `{"error": {...}}`'s inside.
    var error: [String: Any] {
        json["error"] as? [String: Any] ?? [:]
    }

    func list(_ key: String) -> [[String: Any]] {
        json[key] as? [[String: Any]] ?? []
    }
}

/// A live simulator on loopback and a plain URLSession client for it.
struct LiveSimulator {
    let running: RunningSimulator
    var simulator: PagerDutySimulator { running.simulator }
    static let session = URLSession(configuration: .ephemeral)

    /// GET (or another method) `pathAndQuery` (already percent-encoded) with `key`.
    func request(
        _ pathAndQuery: String, key: String? = "simulated-key", method: String = "GET", body: Data? = nil, timeout: TimeInterval = 10
    ) async throws -> Reply {
        let url = URL(string: running.baseURL.absoluteString + pathAndQuery)!
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.httpBody = body
        if let key { request.setValue("Token token=\(key)", forHTTPHeaderField: "Authorization") }
        request.setValue("application/vnd.pagerduty+json;version=2", forHTTPHeaderField: "Accept")
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            headers["\(name)"] = "\(value)"
        }
        return Reply(status: http.statusCode, headers: headers, body: data)
    }

    func get(_ pathAndQuery: String, key: String? = "simulated-key") async throws -> Reply {
        try await request(pathAndQuery, key: key)
    }
}

/// Runs `body` against a fresh simulator serving `account` with the clock fixed at `testNow`.
func withLiveSimulator<T>(
    _ account: SimulatedAccount = .small(now: testNow), options: SimulatorOptions? = nil,
    _ body: (LiveSimulator) async throws -> T
) async throws -> T {
    var resolved = options ?? SimulatorOptions()
    if options == nil { resolved.clock = { testNow } }
    let running = try await RunningSimulator.start(PagerDutySimulator(account: account, options: resolved))
    do {
        let result = try await body(LiveSimulator(running: running))
        await running.shutdown()
        return result
    } catch {
        await running.shutdown()
        throw error
    }
}

/// Percent-encodes a query value (a time's `+` included).
func encoded(_ value: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return value.addingPercentEncoding(withAllowedCharacters: allowed)!
}

/// `since=…&until=…`, encoded.
func window(_ since: String, _ until: String) -> String {
    "since=\(encoded(since))&until=\(encoded(until))"
}

/// (start, end, user id) of rendered entries in a reply.
func entries(_ list: Any?) -> [(start: String, end: String, user: String)] {
    (list as? [[String: Any]] ?? []).map { entry in
        (entry["start"] as? String ?? "", entry["end"] as? String ?? "", (entry["user"] as? [String: Any])?["id"] as? String ?? "")
    }
}

// MARK: PagerDuty's example replies

/// One of PagerDuty's example replies (`Tests/Fixtures/pagerduty`), parsed.
func example(_ name: String) throws -> Any {
    try JSONSerialization.jsonObject(with: pagerDutyExample(name))
}

/// Where `reply` differs in shape from `example`: key sets of every object, recursively, arrays
/// compared element by element against the example's closest element (PagerDuty's v3 examples show
/// the variants of one shape side by side: a user member and an empty one, a rotation source and a
/// custom shift's).
///
/// `extra` lists keys the simulator adds on purpose at a path (e.g. `schedule.teams`);
/// `nullable` lists paths whose value may be null where the example has a value.
func shapeDifferences(
    _ reply: Any, _ example: Any, path: String = "", extra: [String: Set<String>] = [:], nullable: Set<String> = []
) -> [String] {
    switch (reply, example) {
    case let (reply as [String: Any], example as [String: Any]):
        var differences: [String] = []
        let replyKeys = Set(reply.keys)
        let exampleKeys = Set(example.keys)
        for missing in exampleKeys.subtracting(replyKeys).sorted() {
            differences.append("missing \(path).\(missing)")
        }
        for added in replyKeys.subtracting(exampleKeys).subtracting(extra[path] ?? []).sorted() {
            differences.append("unexpected \(path).\(added)")
        }
        for key in replyKeys.intersection(exampleKeys).sorted() {
            differences += shapeDifferences(reply[key]!, example[key]!, path: "\(path).\(key)", extra: extra, nullable: nullable)
        }
        return differences
    case let (reply as [Any], example as [Any]):
        guard !example.isEmpty else { return [] }
        return reply.flatMap { element in
            example.map { shapeDifferences(element, $0, path: path + "[]", extra: extra, nullable: nullable) }.min { $0.count < $1.count }!
        }
    case (is NSNull, is NSNull):
        return []
    case (is NSNull, _):
        return nullable.contains(path) ? [] : ["null at \(path)"]
    case (_, is NSNull):
        // The example has null (e.g. `total`, a notification rule's `html_url`): either is fine.
        return []
    case (is String, is String):
        return []
    case (is String, _), (_, is String), (is [String: Any], _), (_, is [String: Any]), (is [Any], _), (_, is [Any]):
        return ["type differs at \(path)"]
    default:
        return []  // numbers and booleans
    }
}
