import Foundation
import JSON
import Hummingbird
import Logging
import PagerDuty
import Timestamps

/// Builds the simulator's HTTP application: PagerDuty's REST API v2 routes and its shift-based
/// schedules ("v3") routes (behind the gate that counts, rate-limits, authenticates and injects
/// faults) and the `/_simulator/…` admin routes.
///
/// `onServerRunning` receives the port actually bound, which matters with `port: 0`.
/// Logs go to `logger`, by default at `warning` (or `LOG_LEVEL`), so tests stay quiet.
public func buildSimulatorApplication(
    _ simulator: PagerDutySimulator, host: String = "127.0.0.1", port: Int = 0, logger: Logger? = nil,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: PagerDutyGate(simulator: simulator))
    PagerDutyRoutes(simulator: simulator).add(to: router)
    SimulatorAdminRoutes(simulator: simulator).add(to: router.group("_simulator"))

    var appLogger = logger ?? Logger(label: "pagerduty-simulator")
    if logger == nil {
        appLogger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
    }
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "pagerduty-simulator"),
        onServerRunning: { channel in
            await onServerRunning(channel.localAddress?.port ?? port)
        },
        logger: appLogger
    )
}

// MARK: The gate

/// Everything PagerDuty does before a route answers, in its order: count the request, apply
/// latency, charge the key's rate-limit window (429), check the key (401), inject faults; then
/// answer every error in PagerDuty's body, edit good bodies as the faults say, and stamp the
/// rate-limit headers on every reply. `/_simulator/…` passes straight through.
struct PagerDutyGate: RouterMiddleware {
    typealias Context = BasicRequestContext
    let simulator: PagerDutySimulator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/_simulator" || path.hasPrefix("/_simulator/") {
            do {
                return try await next(request, context)
            } catch {
                return Self.errorResponse(Self.pagerDutyError(for: error))
            }
        }

        let admission = simulator.admit(path: path, route: Self.route(of: path), credential: Self.credential(in: request.headers))
        if admission.delay > .zero {
            try await Task.sleep(for: admission.delay)
        }
        var response: Response
        var injected = false
        switch admission.verdict {
        case .rateLimited:
            response = Self.errorResponse(.rateLimited())
            response.headers[.retryAfter] = String(admission.rateLimit.resetSeconds)
        case .unauthorized(let detail):
            response = Self.errorResponse(.unauthorized(detail))
        case .injectedStatus(let status):
            response = Self.errorResponse(.injected(status: status))
            injected = true
        case .proceed, .truncated, .malformed:
            do {
                response = try await next(request, context)
            } catch {
                response = Self.errorResponse(Self.pagerDutyError(for: error))
            }
            if !admission.bodyEdits.isEmpty, response.status == .ok {
                response = await Self.edited(response, with: admission.bodyEdits)
            }
            if admission.verdict == .truncated, response.status == .ok {
                response = await Self.truncated(response)
                injected = true
            } else if admission.verdict == .malformed, response.status == .ok {
                response = Response(
                    status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: "<html><body>upstream connect error</body></html>"))
                )
                injected = true
            }
        }
        response.headers[Self.rateLimitLimit] = String(admission.rateLimit.limit)
        response.headers[Self.rateLimitRemaining] = String(admission.rateLimit.remaining)
        response.headers[Self.rateLimitReset] = String(admission.rateLimit.resetSeconds)
        simulator.recordAnswer(status: Int(response.status.code), injected: injected)
        return response
    }

    // HTTPTypes' `HTTPField` reaches us only as `HTTPFields.Element`.
    static let rateLimitLimit = HTTPFields.Element.Name("ratelimit-limit")!
    static let rateLimitRemaining = HTTPFields.Element.Name("ratelimit-remaining")!
    static let rateLimitReset = HTTPFields.Element.Name("ratelimit-reset")!

    /// The key from `Authorization: Token token=KEY` (quotes allowed) or `Bearer KEY`; "" if none.
    static func credential(in headers: HTTPFields) -> String {
        guard let header = headers[.authorization]?.trimmingCharacters(in: .whitespaces) else { return "" }
        var key: Substring
        if header.hasPrefix("Token ") {
            key = header.dropFirst("Token ".count).drop { $0 == " " }
            guard key.hasPrefix("token=") else { return "" }
            key = key.dropFirst("token=".count)
        } else if header.hasPrefix("Bearer ") {
            key = header.dropFirst("Bearer ".count).drop { $0 == " " }
        } else {
            return ""
        }
        if key.count >= 2, key.first == "\"", key.last == "\"" {
            key = key.dropFirst().dropLast()
        }
        return String(key)
    }

    /// The route a path belongs to, for statistics: ids become `{id}`.
    static func route(of path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        switch (parts.count, parts.first) {
        case (1, "users"?), (1, "schedules"?), (1, "oncalls"?), (1, "escalation_policies"?), (1, "teams"?):
            return "/" + parts[0]
        case (2, "users"?), (2, "schedules"?):
            return "/\(parts[0])/{id}"
        case (3, "schedules"?) where parts[2] == "users" || parts[2] == "overrides":
            return "/schedules/{id}/\(parts[2])"
        case (2, "v3"?) where parts[1] == "schedules":
            return "/v3/schedules"
        case (3, "v3"?) where parts[1] == "schedules":
            return "/v3/schedules/{id}"
        case (4, "v3"?) where parts[1] == "schedules" && (parts[3] == "overrides" || parts[3] == "custom_shifts"):
            return "/v3/schedules/{id}/\(parts[3])"
        default:
            return path
        }
    }

    static func pagerDutyError(for error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as any HTTPResponseError where error.status == .notFound:
            return .notFound("No such route.")
        case let error as any HTTPResponseError where (400..<500).contains(error.status.code):
            return APIError(status: Int(error.status.code), message: error.status.reasonPhrase, code: 2001, errors: ["\(error)"])
        default:
            return APIError(status: 500, message: "Internal Server Error", code: 2000, errors: ["\(error)"])
        }
    }

    static func errorResponse(_ error: APIError) -> Response {
        jsonResponse(error.body, status: error.status)
    }

    /// The same response with only the first half of its body.
    static func truncated(_ response: Response) async -> Response {
        guard var buffer = await body(of: response) else { return response }
        let half = buffer.readSlice(length: buffer.readableBytes / 2) ?? ByteBuffer()
        return replacingBody(of: response, with: half)
    }

    /// The same response with every edit's `find` replaced in its body.
    static func edited(_ response: Response, with edits: [BodyEdit]) async -> Response {
        guard let buffer = await body(of: response) else { return response }
        var text = String(buffer: buffer)
        for edit in edits {
            text = text.replacingOccurrences(of: edit.find, with: edit.replace)
        }
        return replacingBody(of: response, with: ByteBuffer(string: text))
    }

    private static func body(of response: Response) async -> ByteBuffer? {
        let sink = BodySink()
        do {
            try await response.body.write(CollectingWriter(sink: sink))
        } catch {
            return nil
        }
        return sink.buffer
    }

    private static func replacingBody(of response: Response, with body: ByteBuffer) -> Response {
        var headers = response.headers
        headers[.contentLength] = nil
        return Response(status: response.status, headers: headers, body: .init(byteBuffer: body))
    }
}

/// Collects a response body written through `ResponseBodyWriter`.
private final class BodySink: @unchecked Sendable {
    // Written only by the one task that writes the body, then read by it.
    var buffer = ByteBuffer()
}

private struct CollectingWriter: ResponseBodyWriter {
    let sink: BodySink

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        sink.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

func jsonResponse(_ value: JSONValue, status: Int = 200) -> Response {
    jsonResponse(bytes: value.serialized(), status: status)
}

func jsonResponse(bytes: some Collection<UInt8>, status: Int = 200) -> Response {
    var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    return Response(
        status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json; charset=utf-8"],
        body: .init(byteBuffer: buffer)
    )
}

// MARK: PagerDuty's routes

/// `GET` routes of PagerDuty's REST API v2 that Shiftgate uses, answered from the account; the v3
/// schedule routes are in V3Routes.swift.
struct PagerDutyRoutes: Sendable {
    let simulator: PagerDutySimulator

    func add(to router: Router<BasicRequestContext>) {
        router.get("users") { request, _ in try self.listUsers(request) }
        router.get("users/:id") { request, context in try self.user(request, id: context.parameters.require("id")) }
        router.get("schedules") { request, _ in try self.listSchedules(request) }
        router.get("schedules/:id") { request, context in try self.schedule(request, id: context.parameters.require("id")) }
        router.get("schedules/:id/users") { request, context in try self.scheduleUsers(request, id: context.parameters.require("id")) }
        router.get("schedules/:id/overrides") { request, context in
            try self.scheduleOverrides(request, id: context.parameters.require("id"))
        }
        router.get("oncalls") { request, _ in try self.onCalls(request) }
        router.get("escalation_policies") { request, _ in try self.listEscalationPolicies(request) }
        router.get("teams") { request, _ in try self.listTeams(request) }
        addV3(to: router)
    }

    struct Context {
        let query: QueryParameters
        let index: AccountIndex
        let wire: WireRenderer
    }

    func context(_ request: Request) throws -> Context {
        let query = try QueryParameters(request.uri.query)
        let index = simulator.index
        let apiBase = request.head.authority.map { "http://\($0)" } ?? "https://api.pagerduty.com"
        return Context(query: query, index: index, wire: WireRenderer(index: index, apiBase: apiBase))
    }

    /// `query=` as PagerDuty reads it: a case-insensitive substring.
    private static func matches(_ query: String?, _ fields: String...) -> Bool {
        guard let query, !query.isEmpty else { return true }
        return fields.contains { $0.range(of: query, options: .caseInsensitive) != nil }
    }

    func listUsers(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try Pagination(context.query)
        let teamIds = Set(try context.query.values("team_ids"))
        let text = context.query.value("query")
        let users = context.index.users.filter { user in
            Self.matches(text, user.name, user.email) && (teamIds.isEmpty || !teamIds.isDisjoint(with: user.teamIds))
        }
        return jsonResponse(page.reply("users", users) { context.wire.user($0, shape: .list) })
    }

    func user(_ request: Request, id: String) throws -> Response {
        let context = try context(request)
        guard let user = context.index.usersById[id] else { throw APIError.notFound("User \(id) not found.") }
        return jsonResponse(.object([("user", context.wire.user(user, shape: .single))]))
    }

    func listSchedules(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try Pagination(context.query)
        let includeLayers = try context.query.values("include").contains("schedule_layers")
        let text = context.query.value("query")
        let schedules = context.index.layerBasedSchedules.filter { Self.matches(text, $0.name) }
        return jsonResponse(page.reply("schedules", schedules) { context.wire.scheduleListItem($0, includeLayers: includeLayers) })
    }

    private func knownSchedule(_ id: String, in index: AccountIndex) throws -> SimulatedSchedule {
        guard let schedule = index.schedulesById[id] else { throw APIError.notFound("Schedule \(id) not found.") }
        return schedule
    }

    /// A schedule v2 can show: a shift-based one is PagerDuty's 400 pointing to v3 (or, with the
    /// `v2DetailOfShiftBasedAnswers404` variant and `detail`, a 404).
    private func layerBasedSchedule(_ id: String, in index: AccountIndex, detail: Bool) throws -> SimulatedSchedule {
        let schedule = try knownSchedule(id, in: index)
        guard schedule.kind == .layerBased else {
            if detail, simulator.options.variants.v2DetailOfShiftBasedAnswers404 {
                throw APIError.notFound("Schedule \(id) not found.")
            }
            throw APIError.shiftBasedOnV2
        }
        return schedule
    }

    func schedule(_ request: Request, id: String) throws -> Response {
        let context = try context(request)
        let schedule = try layerBasedSchedule(id, in: context.index, detail: true)
        let now = simulator.now
        let window = try context.query.scheduleWindow(now: now)
        let zone = try context.query.timeZone(fallback: schedule.timeZone)
        let overflow = try context.query.flag("overflow")
        let rendered = schedule.render(since: window.since, until: window.until, overflow: overflow)
        var nextOnCall: (userId: String, entry: SimulatedEntry?)?
        if let userId = context.query.value("user_id") {
            let ahead = schedule.onCallEntries(since: now, until: now.addingTimeInterval(90 * 86_400), overflow: true)
            nextOnCall = (userId, ahead.first { $0.userId == userId })
        }
        let body = context.wire.scheduleDetail(schedule, rendered: rendered, zone: zone, nextOnCall: nextOnCall)
        return jsonResponse(.object([("schedule", body)]))
    }

    /// Users with time in the final schedule during the window, by id. Not paginated, as in PagerDuty.
    /// Shift-based schedules answer too: PagerDuty was seen doing so (API-v3.md §4), though its
    /// guide calls it unsupported.
    func scheduleUsers(_ request: Request, id: String) throws -> Response {
        let context = try context(request)
        let schedule = try knownSchedule(id, in: context.index)
        let window = try context.query.scheduleWindow(now: simulator.now)
        let final = schedule.onCallEntries(since: window.since, until: window.until)
        let userIds = Set(final.map(\.userId)).sorted()
        let users = userIds.compactMap { context.index.usersById[$0] }
        return jsonResponse(.object([("users", .array(users.map { context.wire.user($0, shape: .scheduleMember) }))]))
    }

    /// Overrides overlapping [since, until] (both required, as in PagerDuty), cut at the bounds unless
    /// `overflow=true`. Not paginated, as in PagerDuty.
    func scheduleOverrides(_ request: Request, id: String) throws -> Response {
        let context = try context(request)
        let schedule = try layerBasedSchedule(id, in: context.index, detail: false)
        guard let since = try context.query.date("since"), let until = try context.query.date("until") else {
            throw APIError.invalid("since and until are required")
        }
        guard since <= until else { throw APIError.invalid("since must not be after until") }
        let overflow = try context.query.flag("overflow")
        let zone = try context.query.timeZone(fallback: schedule.timeZone)
        let overrides = schedule.overrides
            .filter { SimulatedSchedule.overlaps(start: $0.start, end: $0.end, since: since, until: until) }
            .sorted { ($0.start, $0.id) < ($1.start, $1.id) }
        let items = overrides.map { override in
            overflow
                ? context.wire.override(override, start: override.start, end: override.end, zone: zone)
                : context.wire.override(override, start: max(override.start, since), end: min(override.end, until), zone: zone)
        }
        return jsonResponse(.object([("overrides", .array(items))]))
    }

    /// PagerDuty refuses `/oncalls` windows longer than this.
    static let longestOnCallWindow: TimeInterval = 90 * 86_400

    func onCalls(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try Pagination(context.query)
        let now = simulator.now
        let since = try context.query.date("since") ?? now
        let until = try context.query.date("until") ?? now
        guard since <= until else { throw APIError.invalid("since must not be after until") }
        guard until.timeIntervalSince(since) <= Self.longestOnCallWindow else {
            throw APIError.invalid("The search range cannot exceed 90 days")
        }
        let query = SimulatedOnCallQuery(
            since: since, until: until, earliest: try context.query.flag("earliest"),
            scheduleIds: Set(try context.query.values("schedule_ids")), userIds: Set(try context.query.values("user_ids")),
            escalationPolicyIds: Set(try context.query.values("escalation_policy_ids"))
        )
        let zone = try context.query.timeZone(fallback: context.index.account.timeZone)
        let onCalls = context.index.onCalls(query)
        // `include[]=users` gives each entry's user whole, as `GET /users` lists them.
        let includeUsers = try context.query.values("include").contains("users")
        return jsonResponse(page.reply("oncalls", onCalls) { context.wire.onCall($0, zone: zone, includeUsers: includeUsers) })
    }

    func listEscalationPolicies(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try Pagination(context.query)
        let text = context.query.value("query")
        let teamIds = Set(try context.query.values("team_ids"))
        let userIds = Set(try context.query.values("user_ids"))
        let policies = context.index.escalationPolicies.filter { policy in
            let targets = policy.rules.flatMap(\.targets)
            return Self.matches(text, policy.name)
                && (teamIds.isEmpty || !teamIds.isDisjoint(with: policy.teamIds))
                && (userIds.isEmpty || targets.contains { $0.type == .user && userIds.contains($0.id) })
        }
        return jsonResponse(page.reply("escalation_policies", policies) { context.wire.escalationPolicy($0) })
    }

    func listTeams(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try Pagination(context.query)
        let text = context.query.value("query")
        let teams = context.index.teams.filter { Self.matches(text, $0.name) }
        return jsonResponse(page.reply("teams", teams) { context.wire.team($0) })
    }
}

// MARK: Admin routes

/// `/_simulator/…`: statistics, the account, the faults and upgrading a schedule in place, for
/// tests, the demo and benchmarks. No PagerDuty key, no rate limit, not counted.
struct SimulatorAdminRoutes: Sendable {
    let simulator: PagerDutySimulator
    static let largestAccount = 256 * 1024 * 1024

    func add(to group: RouterGroup<BasicRequestContext>) {
        group.get("stats") { _, _ in try Self.encoded(simulator.stats) }
        group.post("stats/reset") { _, _ in
            simulator.resetStats()
            return try Self.encoded(simulator.stats)
        }
        group.get("account") { _, _ in try Self.encoded(simulator.account) }
        group.put("account") { request, _ in
            let account: SimulatedAccount = try await Self.decoded(request)
            simulator.replaceAccount(account)
            return jsonResponse(.object([
                ("users", .int(account.users.count)), ("schedules", .int(account.schedules.count)),
                ("escalation_policies", .int(account.escalationPolicies.count)), ("teams", .int(account.teams.count)),
            ]))
        }
        group.get("faults") { _, _ in try Self.encoded(simulator.faults) }
        group.put("faults") { request, _ in
            let faults: SimulatorFaults = try await Self.decoded(request)
            simulator.setFaults(faults)
            return try Self.encoded(simulator.faults)
        }
        group.post("schedules/:id/upgrade") { _, context in
            let id = try context.parameters.require("id")
            let upgraded: SimulatedSchedule
            do throws(ScheduleUpgradeError) {
                upgraded = try simulator.upgradeSchedule(id: id)
            } catch {
                switch error {
                case .noSuchSchedule: throw APIError.notFound(error.description)
                case .alreadyShiftBased: throw APIError.invalid(error.description)
                }
            }
            return try Self.encoded(upgraded)
        }
    }

    static func encoded(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .rfc3339
        encoder.outputFormatting = [.sortedKeys]
        return jsonResponse(bytes: try encoder.encode(value))
    }

    static func decoded<Value: Decodable>(_ request: Request) async throws -> Value {
        var request = request
        let buffer = try await request.collectBody(upTo: largestAccount)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .rfc3339
        do {
            return try decoder.decode(Value.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.invalid("The body is not a valid \(Value.self) in JSON: \(error)")
        }
    }
}
