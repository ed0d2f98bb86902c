import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Pacing
import Synchronization
import Timestamps

/// Where and how to reach PagerDuty.
public struct PagerDutyConfiguration: Sendable, CustomStringConvertible {
    public static let defaultBaseURL = URL(string: "https://api.pagerduty.com")!

    public var baseURL: URL
    public var apiKey: String
    /// Requests in flight at once.
    public var concurrency: Int
    /// Client-side pacing. The default leaves headroom under PagerDuty's 960 per minute for other
    /// integrations that share the key.
    public var requestsPerMinute: Int
    /// Stop after this many requests (retries included). Nil: no budget.
    public var maxRequests: Int?
    /// Per request, from connect to the last byte.
    public var requestTimeout: Double
    public var retry: RetryPolicy

    public init(
        baseURL: URL = PagerDutyConfiguration.defaultBaseURL, apiKey: String, concurrency: Int = 4,
        requestsPerMinute: Int = 900, maxRequests: Int? = nil, requestTimeout: Double = 30,
        retry: RetryPolicy = RetryPolicy()
    ) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.concurrency = concurrency
        self.requestsPerMinute = requestsPerMinute
        self.maxRequests = maxRequests
        self.requestTimeout = requestTimeout
        self.retry = retry
    }

    /// Never prints the key.
    public var description: String {
        "PagerDuty(\(baseURL.absoluteString), concurrency \(concurrency), \(requestsPerMinute)/min)"
    }
}

/// What the client spent so far.
public struct PagerDutyUsage: Sendable, Equatable {
    /// HTTP requests sent, retries included.
    public var requests = 0
    /// Replies that were 429.
    public var rateLimited = 0
    /// Requests that were retries.
    public var retries = 0

    public init() {}
}

/// PagerDuty REST API v2 client over `URLSession` (libcurl on Linux): reads every page, paces itself
/// under the rate limit, retries what is worth retrying, and counts what it spent.
public final class PagerDutyClient: Sendable {
    public static let pageLimit = 100
    public static let maxOffset = 10_000

    public let configuration: PagerDutyConfiguration
    private let session: URLSession
    private let logger: Logger
    private let pacer: Pacer
    private let inFlight: AsyncSemaphore
    private let spent = Mutex(PagerDutyUsage())

    public init(configuration: PagerDutyConfiguration, logger: Logger = Logger(label: "shiftgate.pagerduty")) {
        self.configuration = configuration
        self.logger = logger
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpMaximumConnectionsPerHost = max(1, configuration.concurrency)
        sessionConfiguration.timeoutIntervalForRequest = configuration.requestTimeout
        sessionConfiguration.timeoutIntervalForResource = configuration.requestTimeout
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        sessionConfiguration.urlCache = nil
        sessionConfiguration.httpCookieStorage = nil
        self.session = URLSession(configuration: sessionConfiguration)
        self.pacer = Pacer(requestsPerMinute: configuration.requestsPerMinute, burst: max(1, configuration.concurrency))
        self.inFlight = AsyncSemaphore(limit: configuration.concurrency)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public var usage: PagerDutyUsage { spent.withLock { $0 } }

    // MARK: Endpoints

    /// Every user, or with `teamIds` only the members of those teams (how an account of more than
    /// 10,000 users is read).
    public func users(teamIds: [String] = []) async throws -> [Wire.User] {
        try await list("/users", itemsKey: "users", query: teamIds.map { URLQueryItem(name: "team_ids[]", value: $0) })
    }

    /// The users offset paging reaches in a list longer than PagerDuty pages (the first 10,000, in
    /// PagerDuty's order): how users in no team are found in an account too large to list. The pages
    /// are read concurrently and not checked for changes between them; whoever this misses the sync
    /// asks for by id.
    public func usersWithinPagingLimit() async throws -> [Wire.User] {
        try await Self.distinct(reachablePages("/users", itemsKey: "users"))
    }

    public func user(id: String) async throws -> Wire.User {
        try await single("/users/\(id)", itemsKey: "user")
    }

    public func teams() async throws -> [Wire.Team] {
        try await list("/teams", itemsKey: "teams")
    }

    public func schedules() async throws -> [Wire.Schedule] {
        try await list("/schedules", itemsKey: "schedules")
    }

    /// One schedule's overrides and final schedule rendered for [since, until), decoded without its
    /// layers (what a sync stores).
    public func renderedSchedule(id: String, since: Date, until: Date) async throws -> Wire.RenderedSchedule {
        try await single("/schedules/\(id)", itemsKey: "schedule", query: Self.window(since, until))
    }

    /// Every shift-based (v3) schedule, as references (`id`, `summary`); names and zones come with
    /// each schedule's detail. `GET /schedules` never lists these.
    public func shiftBasedSchedules() async throws -> [Wire.Reference] {
        try await listWithoutTotal("/v3/schedules", itemsKey: "schedules", limit: Self.shiftBasedPageLimit)
    }

    /// A shift-based schedule with its final schedule for [since, until), in UTC, entries whole
    /// (`overflow=true`): whether `overflow=false` cuts entries crossing the bounds or drops them
    /// is not documented for v3, so the caller cuts them itself.
    public func shiftBasedSchedule(id: String, since: Date, until: Date) async throws -> Wire.ShiftBasedSchedule {
        try await single("/v3/schedules/\(id)", itemsKey: "schedule", query: Self.window(since, until) + Self.shiftBasedRendering + [
            URLQueryItem(name: "include[]", value: "final_schedule"),
        ])
    }

    /// A shift-based schedule's overrides overlapping [since, until), in UTC, whole.
    public func shiftOverrides(scheduleId: String, since: Date, until: Date) async throws -> [Wire.ShiftOverride] {
        try await listWithoutTotal("/v3/schedules/\(scheduleId)/overrides", itemsKey: "overrides",
                                   query: Self.window(since, until) + Self.shiftBasedRendering, limit: Self.pageLimit)
    }

    static let shiftBasedRendering = [URLQueryItem(name: "time_zone", value: "UTC"), URLQueryItem(name: "overflow", value: "true")]

    public func escalationPolicies() async throws -> [Wire.EscalationPolicy] {
        try await list("/escalation_policies", itemsKey: "escalation_policies")
    }

    /// On-call entries for [since, until), optionally for some escalation policies only. With
    /// `includeUsers`, each entry's user comes whole (`include[]=users`), so that a refresh learns
    /// the emails of the people on call without reading `/users`.
    public func onCalls(since: Date, until: Date, escalationPolicyIds: [String] = [], userIds: [String] = [],
                        includeUsers: Bool = false) async throws -> [Wire.OnCall] {
        try await list("/oncalls", itemsKey: "oncalls",
                       query: Self.window(since, until) + escalationPolicyIds.map { URLQueryItem(name: "escalation_policy_ids[]", value: $0) }
                           + userIds.map { URLQueryItem(name: "user_ids[]", value: $0) }
                           + (includeUsers ? [URLQueryItem(name: "include[]", value: "users")] : []))
    }

    /// How many on-call entries `/oncalls` holds for [since, until) (one request), to decide whether
    /// the query must be narrowed to fit PagerDuty's paging.
    public func onCallCount(since: Date, until: Date, escalationPolicyIds: [String] = []) async throws -> Int? {
        try await count("/oncalls", itemsKey: "oncalls",
                        query: Self.window(since, until) + escalationPolicyIds.map { URLQueryItem(name: "escalation_policy_ids[]", value: $0) })
    }

    static func window(_ since: Date, _ until: Date) -> [URLQueryItem] {
        [URLQueryItem(name: "since", value: RFC3339.format(since)), URLQueryItem(name: "until", value: RFC3339.format(until))]
    }

    /// How many entries a list holds (one request, `total=true`), to decide how to narrow it.
    func count(_ path: String, itemsKey: String, query: [URLQueryItem] = []) async throws -> Int? {
        let first: Page<IgnoredItem> = try await page(path, itemsKey: itemsKey, query: query, offset: 0, limit: 1, total: true)
        return first.total
    }

    // MARK: Pagination

    /// How many times a list is read before a list that keeps changing is an error.
    public static let listAttempts = 3

    /// Reads every page of a list, as it stood at one moment. Offset paging shifts under deletions
    /// and insertions (a deletion on a page already read moves a later item onto it, unseen), so a
    /// list of several pages is checked afterwards: it is taken only when the distinct items read
    /// equal the `total` PagerDuty gave at the start and again at the end; otherwise it is read
    /// again, up to `listAttempts` times.
    public func list<Item: Decodable & Sendable & Hashable>(_ path: String, itemsKey: String, query: [URLQueryItem] = []) async throws -> [Item] {
        for attempt in 1...Self.listAttempts {
            let read: PagesRead<Item> = try await readPages(path, itemsKey: itemsKey, query: query)
            guard read.pages > 1, let total = read.total else { return read.items }
            let distinct = Self.distinct(read.items)
            let totalAfter = try await count(path, itemsKey: itemsKey, query: query)
            if distinct.count == total, totalAfter == total { return distinct }
            logger.notice("\(path) changed while it was read; reading it again", metadata: [
                "attempt": "\(attempt)", "total_before": "\(total)", "total_after": "\(totalAfter.map(String.init) ?? "-")",
                "distinct_read": "\(distinct.count)",
            ])
        }
        throw PagerDutyError.listUnstable(path: path, attempts: Self.listAttempts)
    }

    /// The largest page `GET /v3/schedules` gives.
    public static let shiftBasedPageLimit = 1000

    /// Reads every page of a list that gives no `total` (the shift-based schedules API), as it stood
    /// at one moment. Each page after the first starts at the previous page's last entry: when that
    /// entry is not where it was, entries were added or deleted before it between the two pages
    /// (which makes offset paging skip or repeat some), so the list is read again, up to
    /// `listAttempts` times. Changes after it are read as they come. One request in `limit` more
    /// than plain paging, and pages are read one after another.
    ///
    /// PagerDuty's 10,000 cap on offset + limit is documented for the v2 lists only; here a 400
    /// past it surfaces as PagerDuty's own message.
    public func listWithoutTotal<Item: Decodable & Sendable & Equatable>(_ path: String, itemsKey: String, query: [URLQueryItem] = [],
                                                                       limit: Int) async throws -> [Item] {
        attempts: for attempt in 1...Self.listAttempts {
            var items: [Item] = []
            var offset = 0
            var overlap: Item?
            while true {
                let next: Page<Item> = try await page(path, itemsKey: itemsKey, query: query, offset: offset, limit: limit, total: false)
                var fresh = next.items[...]
                if let overlap {
                    guard fresh.first == overlap else {
                        logger.notice("\(path) changed while it was read; reading it again", metadata: ["attempt": "\(attempt)", "offset": "\(offset)"])
                        continue attempts
                    }
                    fresh = fresh.dropFirst()
                }
                items += fresh
                guard next.more, !next.items.isEmpty else { return items }
                // A page of one entry cannot overlap the next and still move on.
                overlap = next.items.count > 1 ? next.items.last : nil
                offset += next.items.count - (overlap == nil ? 0 : 1)
            }
        }
        throw PagerDutyError.listUnstable(path: path, attempts: Self.listAttempts)
    }

    /// `items` without repeats, in order. Counting hash values first keeps the common case (no
    /// repeats) to one small set; a collision only costs the exact pass.
    static func distinct<Item: Hashable>(_ items: [Item]) -> [Item] {
        var hashes = Set<Int>(minimumCapacity: items.count)
        for item in items { hashes.insert(item.hashValue) }
        guard hashes.count < items.count else { return items }
        var seen = Set<Item>()
        return items.filter { seen.insert($0).inserted }
    }

    struct PagesRead<Item> {
        var items: [Item]
        var total: Int?
        var pages: Int
    }

    /// One pass over a list's pages. The first page asks for `total`; when PagerDuty gives it, the
    /// remaining pages are fetched concurrently (bounded by `concurrency`), otherwise one after
    /// another while `more`.
    private func readPages<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem]) async throws -> PagesRead<Item> {
        let limit = Self.pageLimit
        let first: Page<Item> = try await page(path, itemsKey: itemsKey, query: query, offset: 0, limit: limit, total: true)
        guard first.more else { return PagesRead(items: first.items, total: first.total, pages: 1) }
        if let total = first.total, total > 0 {
            guard total <= Self.maxOffset else { throw PagerDutyError.listTooLong(path: path) }
            let pages: [Page<Item>] = try await concurrentPages(path, itemsKey: itemsKey, query: query,
                                                                offsets: Array(stride(from: limit, to: total, by: limit)))
            var read = PagesRead(items: first.items + pages.flatMap(\.items), total: total, pages: 1 + pages.count)
            // The list grew while we read it: carry on sequentially from where the known total ended
            // (the check afterwards then reads it again).
            if pages.last?.more == true {
                let more: PagesRead<Item> = try await sequentialPages(path, itemsKey: itemsKey, query: query, from: limit * (1 + pages.count))
                read.items += more.items
                read.pages += more.pages
            }
            return read
        }
        let rest: PagesRead<Item> = try await sequentialPages(path, itemsKey: itemsKey, query: query, from: limit)
        return PagesRead(items: first.items + rest.items, total: nil, pages: 1 + rest.pages)
    }

    /// Every page offset paging can reach: the first page asks for `total`, the rest (concurrently)
    /// stop at PagerDuty's 10,000 cap on offset + limit.
    private func reachablePages<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem] = []) async throws -> [Item] {
        let limit = Self.pageLimit
        let first: Page<Item> = try await page(path, itemsKey: itemsKey, query: query, offset: 0, limit: limit, total: true)
        guard first.more else { return first.items }
        let end = min(first.total ?? Self.maxOffset, Self.maxOffset)
        let pages: [Page<Item>] = try await concurrentPages(path, itemsKey: itemsKey, query: query, offsets: Array(stride(from: limit, to: end, by: limit)))
        return first.items + pages.flatMap(\.items)
    }

    /// The pages at `offsets`, fetched concurrently (the client bounds requests in flight), in the
    /// order of their offsets.
    private func concurrentPages<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem],
                                                            offsets: [Int]) async throws -> [Page<Item>] {
        try await withThrowingTaskGroup(of: (Int, Page<Item>).self) { group in
            for offset in offsets {
                group.addTask {
                    (offset, try await self.page(path, itemsKey: itemsKey, query: query, offset: offset, limit: Self.pageLimit, total: false))
                }
            }
            var pages: [(Int, Page<Item>)] = []
            for try await page in group { pages.append(page) }
            return pages.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    private func sequentialPages<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem], from start: Int) async throws -> PagesRead<Item> {
        var read = PagesRead<Item>(items: [], total: nil, pages: 0)
        var offset = start
        while true {
            guard offset + Self.pageLimit <= Self.maxOffset else { throw PagerDutyError.listTooLong(path: path) }
            let next: Page<Item> = try await page(path, itemsKey: itemsKey, query: query, offset: offset, limit: Self.pageLimit, total: false)
            read.items += next.items
            read.pages += 1
            guard next.more, !next.items.isEmpty else { return read }
            offset += Self.pageLimit
        }
    }

    private func page<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem], offset: Int, limit: Int, total: Bool) async throws -> Page<Item> {
        var items = query
        items.append(URLQueryItem(name: "limit", value: String(limit)))
        items.append(URLQueryItem(name: "offset", value: String(offset)))
        if total { items.append(URLQueryItem(name: "total", value: "true")) }
        let data = try await get(path, query: items)
        return try decode(Page<Item>.self, from: data, path: path, itemsKey: itemsKey)
    }

    private func single<Item: Decodable & Sendable>(_ path: String, itemsKey: String, query: [URLQueryItem] = []) async throws -> Item {
        let data = try await get(path, query: query)
        let wrapper = try decode([String: Item].self, from: data, path: path, itemsKey: itemsKey)
        guard let item = wrapper[itemsKey] else {
            throw PagerDutyError.invalidReply(path: path, detail: "no \"\(itemsKey)\" in the reply")
        }
        return item
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, itemsKey: String) throws -> T {
        let decoder = JSONDecoder.pagerDuty()
        decoder.userInfo[.pageItemsKey] = itemsKey
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw PagerDutyError.invalidReply(path: path, detail: Self.describe(error))
        } catch {
            throw PagerDutyError.invalidReply(path: path, detail: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context):
            return context.underlyingError != nil ? "not valid JSON" : "\(context.debugDescription) at \(at(context.codingPath))"
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\" at \(at(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.debugDescription) at \(at(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }

    // MARK: One request, with pacing, budget and retries

    /// GETs `path` and returns the 2xx body, or throws a `PagerDutyError`.
    public func get(_ path: String, query: [URLQueryItem] = []) async throws -> Data {
        var components = URLComponents(url: configuration.baseURL.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        if !query.isEmpty { components.queryItems = query }
        guard let url = components.url else {
            throw PagerDutyError.rejected(path: path, status: 0, message: "cannot form a URL")
        }
        var request = URLRequest(url: url)
        request.httpMethod = "GET"
        request.timeoutInterval = configuration.requestTimeout
        request.setValue("application/vnd.pagerduty+json;version=2", forHTTPHeaderField: "Accept")
        request.setValue("Token token=\(configuration.apiKey)", forHTTPHeaderField: "Authorization")
        request.setValue("shiftgate", forHTTPHeaderField: "User-Agent")

        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            try reserveBudget(isRetry: attempt > 1)
            try await pacer.acquire()
            await inFlight.wait()
            let outcome: Result<(Data, URLResponse), any Error>
            do {
                outcome = .success(try await send(request))
            } catch {
                outcome = .failure(error)
            }
            await inFlight.signal()

            let jitter = Double.random(in: 0..<1)
            switch outcome {
            case .failure(let error):
                if error is CancellationError || Task.isCancelled { throw CancellationError() }
                let message = Self.transportMessage(error)
                guard let delay = configuration.retry.transportRetryDelay(attempt: attempt, jitter: jitter) else {
                    throw PagerDutyError.transport(path: path, attempts: attempt, message: message)
                }
                logger.warning("PagerDuty request failed; retrying", metadata: ["path": "\(path)", "attempt": "\(attempt)", "error": "\(message)", "retry_in": "\(Self.seconds(delay))"])
                try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            case .success(let (data, response)):
                guard let http = response as? HTTPURLResponse else {
                    throw PagerDutyError.invalidReply(path: path, detail: "not an HTTP reply")
                }
                let headers = Self.lowercasedHeaders(http)
                await observeRateLimitHeaders(headers)
                let status = http.statusCode
                switch configuration.retry.disposition(status: status, headers: headers, attempt: attempt, jitter: jitter) {
                case .accept:
                    return data
                case .retry(let delay, let rateLimited):
                    if rateLimited {
                        spent.withLock { $0.rateLimited += 1 }
                        await pacer.pause(for: delay)
                    }
                    logger.warning("PagerDuty answered \(status); retrying", metadata: ["path": "\(path)", "attempt": "\(attempt)", "retry_in": "\(Self.seconds(delay))"])
                    if !rateLimited { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
                case .fail:
                    if status == 429 { spent.withLock { $0.rateLimited += 1 } }
                    throw Self.error(status: status, body: data, path: path, attempts: attempt)
                }
            }
        }
    }

    /// One exchange through the completion-handler API. FoundationNetworking's async `data(for:)`
    /// deadlocks on Linux when the calling task is cancelled (seen in gdb: `swift_task_cancel` →
    /// `URLSessionTask.cancel` → `dispatch_sync` on the session queue, while that queue resumes the
    /// continuation and waits for the same task's status lock). Here cancellation reaches the
    /// URLSession task from a GCD thread instead, outside the task's status lock.
    private func send(_ request: URLRequest) async throws -> (Data, URLResponse) {
        let box = TaskBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let task = session.dataTask(with: request) { data, response, error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let response {
                        continuation.resume(returning: (data ?? Data(), response))
                    } else {
                        continuation.resume(throwing: URLError(.badServerResponse))
                    }
                }
                box.set(task)
                task.resume()
            }
        } onCancel: {
            DispatchQueue.global().async { box.cancel() }
        }
    }

    private func reserveBudget(isRetry: Bool) throws {
        try spent.withLock { usage in
            if let limit = configuration.maxRequests, usage.requests >= limit {
                throw PagerDutyError.budgetExhausted(limit: limit)
            }
            usage.requests += 1
            if isRetry { usage.retries += 1 }
        }
    }

    /// When the window's remaining budget could be spent by the requests already in flight (another
    /// integration may share the key), hold everyone until the window resets instead of running into
    /// 429s. The reset is in seconds, whatever the window's length.
    private func observeRateLimitHeaders(_ headers: [String: String]) async {
        if let remaining = headers["ratelimit-remaining"].flatMap({ Int($0) }), remaining <= configuration.concurrency,
           let reset = headers["ratelimit-reset"].flatMap({ Double($0) }), reset > 0 {
            await pacer.pause(for: min(reset, configuration.retry.maxRateLimitWait))
        }
    }

    static func error(status: Int, body: Data, path: String, attempts: Int) -> PagerDutyError {
        let parsed = try? JSONDecoder().decode(Wire.ErrorBody.self, from: body)
        var message = parsed?.error.message ?? HTTPURLResponse.localizedString(forStatusCode: status)
        if let details = parsed?.error.errors, !details.isEmpty {
            message += ": " + details.joined(separator: "; ")
        }
        switch status {
        case 401: return .unauthorized(message: message)
        case 403: return .forbidden(path: path, message: message)
        case 429, 500..<600: return .unavailable(path: path, status: status, attempts: attempts, message: message)
        default: return .rejected(path: path, status: status, message: message)
        }
    }

    private static func lowercasedHeaders(_ response: HTTPURLResponse) -> [String: String] {
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return headers
    }

    private static func transportMessage(_ error: any Error) -> String {
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut: return "timed out"
            case .cannotConnectToHost: return "connection refused"
            case .cannotFindHost: return "host not found"
            case .networkConnectionLost: return "connection lost"
            default: return "network error \(urlError.code.rawValue)"
            }
        }
        return "\(type(of: error))"
    }

    private static func seconds(_ value: Double) -> String {
        String(format: "%.2fs", value)
    }
}

/// Decodes any list item without looking at it (for `count`).
struct IgnoredItem: Decodable, Sendable {
    init(from decoder: any Decoder) throws {}
}

/// Holds the URLSession task so that a cancellation handler can reach it.
final class TaskBox: Sendable {
    private let task = Mutex<URLSessionDataTask?>(nil)
    private let cancelled = Mutex(false)

    func set(_ value: URLSessionDataTask) {
        task.withLock { $0 = value }
        if cancelled.withLock({ $0 }) { value.cancel() }
    }

    func cancel() {
        cancelled.withLock { $0 = true }
        task.withLock { $0 }?.cancel()
    }
}
