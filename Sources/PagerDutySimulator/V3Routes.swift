import Foundation
import JSON
import Hummingbird

/// PagerDuty's shift-based ("v3") schedules API, read-only: the list, the detail with its final
/// schedule, and a schedule's overrides and custom shifts (API-v3.md §2).
extension PagerDutyRoutes {
    func addV3(to router: Router<BasicRequestContext>) {
        router.get("v3/schedules") { request, _ in try self.listV3Schedules(request) }
        router.get("v3/schedules/:id") { request, context in try self.v3Schedule(request, id: context.parameters.require("id")) }
        router.get("v3/schedules/:id/overrides") { request, context in
            try self.v3Overrides(request, id: context.parameters.require("id"))
        }
        router.get("v3/schedules/:id/custom_shifts") { request, context in
            try self.v3CustomShifts(request, id: context.parameters.require("id"))
        }
    }

    /// The schedule, which must be shift-based: a layer-based one is PagerDuty's 400, an unknown id 404.
    private func shiftBasedSchedule(_ id: String, in index: AccountIndex) throws -> SimulatedSchedule {
        guard let schedule = index.schedulesById[id] else { throw APIError.notFound("Schedule \(id) not found.") }
        guard schedule.kind == .shiftBased else { throw APIError.layerBasedOnV3 }
        return schedule
    }

    /// References only, sorted by id; `team_ids[]` filters. `query` is ignored: PagerDuty's guide says
    /// v3 has none and its schema says it has one (UNVERIFIED), so a client must filter itself.
    func listV3Schedules(_ request: Request) throws -> Response {
        let context = try context(request)
        let page = try V3Pagination(context.query, defaultLimit: 100, maximumLimit: 1000)
        let teamIds = Set(try context.query.values("team_ids"))
        let schedules = context.index.shiftBasedSchedules.filter { teamIds.isEmpty || !teamIds.isDisjoint(with: $0.teamIds) }
        return jsonResponse(page.reply("schedules", schedules) { context.wire.v3ScheduleListItem($0) })
    }

    /// The schedule's settings; with `include[]=final_schedule` and both `since` and `until`, its
    /// final schedule for that window. Times in the schedule's zone unless `time_zone` is given.
    func v3Schedule(_ request: Request, id: String) throws -> Response {
        let context = try context(request)
        let schedule = try shiftBasedSchedule(id, in: context.index)
        let since = try context.query.date("since")
        let until = try context.query.date("until")
        if let since, let until, since > until { throw APIError.invalid("since must not be after until") }
        let zone = try context.query.timeZone(fallback: schedule.timeZone)
        let overflow = try context.query.flag("overflow")
        var final: (assignments: [SimulatedAssignment], coverage: Double)?
        if try context.query.values("include").contains("final_schedule"), let since, let until {
            let assignments = schedule.renderShifts(since: since, until: until, overflow: overflow, variants: simulator.options.variants)
            final = (assignments, SimulatedSchedule.coveragePercentage(of: assignments, since: since, until: until))
        }
        return jsonResponse(.object([("schedule", context.wire.v3ScheduleDetail(schedule, final: final, zone: zone))]))
    }

    /// Overrides overlapping [since, until) (both required), cut at the window unless `overflow`;
    /// paginated (25, at most 100), without `total`.
    func v3Overrides(_ request: Request, id: String) throws -> Response {
        try windowedList(request, id: id, key: "overrides", items: \.overrides, start: \.start, end: \.end, itemId: \.id) {
            $0.wire.v3Override($1, scheduleId: $2, start: $3.start, end: $3.end, zone: $4)
        }
    }

    /// Custom shifts overlapping [since, until), as for overrides.
    func v3CustomShifts(_ request: Request, id: String) throws -> Response {
        try windowedList(request, id: id, key: "custom_shifts", items: \.customShifts, start: \.start, end: \.end, itemId: \.id) {
            $0.wire.customShift($1, scheduleId: $2, start: $3.start, end: $3.end, zone: $4)
        }
    }

    /// A shift-based schedule's items overlapping the required window, in start order, shown as
    /// `V3Window` says and paginated without `total`.
    private func windowedList<Item>(
        _ request: Request, id: String, key: String, items: KeyPath<SimulatedSchedule, [Item]>, start: KeyPath<Item, Date>,
        end: KeyPath<Item, Date>, itemId: KeyPath<Item, String>,
        render: (Context, Item, String, (start: Date, end: Date), TimeZone) -> JSONValue
    ) throws -> Response {
        let context = try context(request)
        let schedule = try shiftBasedSchedule(id, in: context.index)
        let window = try V3Window(context.query, variants: simulator.options.variants)
        let page = try V3Pagination(context.query, defaultLimit: 25, maximumLimit: 100)
        let zone = try context.query.timeZone(fallback: schedule.timeZone)
        let shown = schedule[keyPath: items]
            .compactMap { item in window.shown(start: item[keyPath: start], end: item[keyPath: end]).map { (item, $0) } }
            .sorted { ($0.0[keyPath: start], $0.0[keyPath: itemId]) < ($1.0[keyPath: start], $1.0[keyPath: itemId]) }
        return jsonResponse(page.reply(key, shown) { item, times in render(context, item, schedule.id, times, zone) })
    }
}

/// The required window of v3's overrides and custom shifts, and how an item crossing it is shown.
struct V3Window {
    let since: Date
    let until: Date
    let overflow: Bool
    let dropsCrossing: Bool

    init(_ query: QueryParameters, variants: PagerDutyVariants) throws(APIError) {
        guard let since = try query.date("since"), let until = try query.date("until") else {
            throw .invalid("since and until are required")
        }
        guard since <= until else { throw .invalid("since must not be after until") }
        self.since = since
        self.until = until
        overflow = try query.flag("overflow")
        dropsCrossing = variants.v3OverflowFalseDropsCrossingEntries
    }

    /// The stretch to show for an item over [start, end), or nil if it is not shown.
    func shown(start: Date, end: Date) -> (start: Date, end: Date)? {
        guard start < end, SimulatedSchedule.overlaps(start: start, end: end, since: since, until: until) else { return nil }
        if overflow { return (start, end) }
        if dropsCrossing { return start >= since && end <= until ? (start, end) : nil }
        return (max(start, since), min(end, until))
    }
}

/// v3's offset paging: `limit` (clamped to the endpoint's maximum), `offset`, `more`, and never a
/// `total` (API-v3.md §3; `total=true` is accepted and ignored). v2's offset + limit ≤ 10,000 rule
/// is not applied: nothing says v3 has it (UNVERIFIED).
struct V3Pagination: Sendable {
    let limit: Int
    let offset: Int

    init(_ query: QueryParameters, defaultLimit: Int, maximumLimit: Int) throws(APIError) {
        let asked = try query.integer("limit") ?? defaultLimit
        guard asked >= 1 else { throw .invalid("limit must be at least 1") }
        limit = min(asked, maximumLimit)
        offset = try query.integer("offset") ?? 0
        guard offset >= 0 else { throw .invalid("offset must not be negative") }
        _ = try query.flag("total")
    }

    /// `{key: [items], limit, offset, more}`.
    func reply<Item>(_ key: String, _ items: [Item], render: (Item) -> JSONValue) -> JSONValue {
        let start = min(offset, items.count)
        let end = min(offset.addingReportingOverflow(limit).overflow ? items.count : offset + limit, items.count)
        return .object([
            (key, .array(items[start..<end].map(render))),
            ("limit", .int(limit)),
            ("offset", .int(offset)),
            ("more", .bool(end < items.count)),
        ])
    }
}
