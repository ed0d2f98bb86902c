import Foundation
import Synchronization

/// One stretch of on-call time in a rendered schedule.
public struct SimulatedEntry: Sendable, Hashable {
    public var userId: String
    public var start: Date
    public var end: Date

    public init(userId: String, start: Date, end: Date) {
        self.userId = userId
        self.start = start
        self.end = end
    }
}

/// A schedule rendered for a window, as `GET /schedules/{id}` shows it. For a shift-based schedule
/// `layers` and `overrides` are empty and `final` holds who is on call (see `onCallEntries`); its
/// own final schedule is `renderShifts(since:until:overflow:variants:)`.
public struct SimulatedRendering: Sendable, Hashable {
    /// The window asked for.
    public var since: Date
    public var until: Date
    /// Each layer's own entries, in the schedule's layer order (before later layers and overrides).
    public var layers: [[SimulatedEntry]]
    /// The overrides alone (where overrides overlap, the later one in the list wins).
    public var overrides: [SimulatedEntry]
    /// What PagerDuty calls the final schedule: later layers over earlier ones, overrides over all,
    /// adjacent entries of the same user merged.
    public var final: [SimulatedEntry]

    /// Share of the window the entries cover, in percent with two decimals, as PagerDuty reports it.
    public func coveragePercentage(of entries: [SimulatedEntry]) -> Double {
        let window = until.timeIntervalSince(since)
        guard window > 0 else { return 0 }
        var covered = 0.0
        for entry in entries {
            let start = max(entry.start, since)
            let end = min(entry.end, until)
            if end > start { covered += end.timeIntervalSince(start) }
        }
        return (covered / window * 10_000).rounded() / 100
    }
}

extension SimulatedSchedule {
    /// Renders the schedule for [since, until) the way PagerDuty does.
    ///
    /// Entries that cross the window's bounds are cut at the bounds, unless `overflow` is true: then
    /// they keep their real start and end (a daily turn asked for 10:00–14:00 gives 00:00–24:00).
    /// When `since == until` the window is that instant: the entries covering it are returned.
    ///
    /// Real extents are found by rendering a margin of one turn (at least a day, at most 35 days)
    /// around the window, plus the full length of any override that overlaps it; with `overflow`, an
    /// entry merged from turns of the same person reaching past that margin makes it grow, up to 35
    /// days (past that the entry is cut there).
    ///
    /// A shift-based schedule gives its people on call as `final` (several at once where its
    /// rotations and custom shifts overlap; see `onCallEntries`), so that everything that asks "who
    /// is on call" (`/schedules/{id}/users`, `/oncalls`) works for both kinds.
    public func render(since: Date, until: Date, overflow: Bool = false) -> SimulatedRendering {
        if kind == .shiftBased {
            var people = Self.select(Self.peopleOnCall(shiftAssignments(around: since, until)), since: since, until: until, overflow: overflow)
            if !overflow {
                people.sort { ($0.start, $0.userId) < ($1.start, $1.userId) }
            }
            return SimulatedRendering(since: since, until: until, layers: [], overrides: [], final: people)
        }
        let calendar = ZoneCache.calendar(for: timeZone)
        let longestTurn = layers.map { Double($0.rotationTurnLengthSeconds) }.max() ?? 0
        let widest = 35.0 * 86_400
        var margin = min(max(longestTurn, 86_400), widest)
        var layerEntries: [[SimulatedEntry]] = []
        var overrideEntries: [SimulatedEntry] = []
        var final: [SimulatedEntry] = []
        while true {
            var from = since.addingTimeInterval(-margin)
            var to = until.addingTimeInterval(margin)
            let touchingOverrides = overrides.filter { Self.overlaps(start: $0.start, end: $0.end, since: since, until: until) }
            for override in touchingOverrides {
                from = min(from, override.start)
                to = max(to, override.end)
            }

            layerEntries = layers.map { Self.renderLayer($0, from: from, to: to, calendar: calendar) }
            overrideEntries = []
            for override in overrides where override.end > from && override.start < to && override.start < override.end {
                let entry = SimulatedEntry(userId: override.userId, start: max(override.start, from), end: min(override.end, to))
                overrideEntries = Self.paint([entry], over: overrideEntries)
            }
            final = []
            for entries in layerEntries {
                final = Self.paint(entries, over: final)
            }
            final = Self.mergeAdjacent(Self.paint(overrideEntries, over: final))
            // An entry merged from turns of the same person (over several layers) can reach past
            // the margin; with `overflow` its real extent is wanted, so the margin grows (up to 35
            // days) until no entry that overlaps the window is cut by it.
            let cut = overflow && final.contains { entry in
                Self.overlaps(start: entry.start, end: entry.end, since: since, until: until) && (entry.start <= from || entry.end >= to)
            }
            guard cut, margin < widest else { break }
            margin = min(margin * 2, widest)
        }

        func select(_ entries: [SimulatedEntry]) -> [SimulatedEntry] {
            Self.select(entries, since: since, until: until, overflow: overflow)
        }
        return SimulatedRendering(
            since: since, until: until, layers: layerEntries.map(select), overrides: select(overrideEntries), final: select(final)
        )
    }

    /// The entries that overlap [since, until), cut at the bounds unless `overflow`.
    static func select(_ entries: [SimulatedEntry], since: Date, until: Date, overflow: Bool) -> [SimulatedEntry] {
        entries.compactMap { entry in
            guard overlaps(start: entry.start, end: entry.end, since: since, until: until) else { return nil }
            guard !overflow else { return entry }
            return SimulatedEntry(userId: entry.userId, start: max(entry.start, since), end: min(entry.end, until))
        }
    }

    /// Every user who appears in some layer, in order of first appearance.
    var memberIds: [String] {
        var seen = Set<String>()
        var ids: [String] = []
        for layer in layers {
            for id in layer.userIds where seen.insert(id).inserted {
                ids.append(id)
            }
        }
        return ids
    }

    /// [start, end) overlaps [since, until); a zero-length window is an instant, covered when
    /// start <= instant < end.
    static func overlaps(start: Date, end: Date, since: Date, until: Date) -> Bool {
        if since == until {
            return start <= since && end > since
        }
        return start < until && end > since
    }

    /// One layer's entries within [from, to): turns intersected with the layer's own bounds and with
    /// its restrictions.
    static func renderLayer(_ layer: SimulatedLayer, from: Date, to: Date, calendar: Calendar) -> [SimulatedEntry] {
        let turnLength = Double(layer.rotationTurnLengthSeconds)
        let userCount = layer.userIds.count
        guard turnLength > 0, userCount > 0 else { return [] }
        let low = max(from, layer.start)
        let high = min(to, layer.end ?? .distantFuture)
        guard low < high else { return [] }
        let onDuty = layer.restrictions.isEmpty
            ? [(low, high)]
            : restrictionWindows(layer.restrictions, from: low, to: high, calendar: calendar)
        guard !onDuty.isEmpty else { return [] }

        // Turns hand off at the same local time of day across daylight-saving changes, as
        // PagerDuty's do: turn k starts at the virtual start's local wall time + k turns, so the
        // turn spanning a change is an hour shorter or longer.
        let clock = WallClock(zone: calendar.timeZone)
        let virtualStart = clock.wallSeconds(layer.rotationVirtualStart)
        // One turn early: wall time runs back an hour at a fall-back change.
        var turn = Int(((clock.wallSeconds(low) - virtualStart) / turnLength).rounded(.down)) - 1
        var entries: [SimulatedEntry] = []
        var windowIndex = 0
        while true {
            let turnStart = clock.instant(wallSeconds: virtualStart + Double(turn) * turnLength)
            if turnStart >= high { break }
            let turnEnd = clock.instant(wallSeconds: virtualStart + Double(turn + 1) * turnLength)
            defer { turn += 1 }
            guard turnEnd > low, turnEnd > turnStart else { continue }
            let clippedStart = max(turnStart, low)
            let clippedEnd = min(turnEnd, high)
            let userId = layer.userIds[((turn % userCount) + userCount) % userCount]
            while windowIndex < onDuty.count, onDuty[windowIndex].1 <= clippedStart {
                windowIndex += 1
            }
            var index = windowIndex
            while index < onDuty.count, onDuty[index].0 < clippedEnd {
                let start = max(onDuty[index].0, clippedStart)
                let end = min(onDuty[index].1, clippedEnd)
                if start < end {
                    if let last = entries.last, last.userId == userId, last.end == start {
                        entries[entries.count - 1].end = end
                    } else {
                        entries.append(SimulatedEntry(userId: userId, start: start, end: end))
                    }
                }
                index += 1
            }
        }
        return entries
    }

    /// The times restrictions allow within [from, to), sorted and merged. Daily restrictions recur
    /// every local day; weekly ones on their day of the week (1 = Monday … 7 = Sunday). Local times
    /// go through `Calendar`, so a 08:00 start stays 08:00 across daylight-saving changes.
    static func restrictionWindows(_ restrictions: [SimulatedRestriction], from: Date, to: Date, calendar: Calendar) -> [(Date, Date)] {
        var windows: [(Date, Date)] = []
        for restriction in restrictions {
            guard restriction.durationSeconds > 0, let time = parseTimeOfDay(restriction.startTimeOfDay) else { continue }
            let durationDays = Int((Double(restriction.durationSeconds) / 86_400).rounded(.up))
            let lookBackDays: Int
            let weekday: Int?
            switch restriction.type {
            case .daily:
                lookBackDays = durationDays + 1
                weekday = nil
            case .weekly:
                guard let day = restriction.startDayOfWeek, (1...7).contains(day) else { continue }
                lookBackDays = durationDays + 8
                weekday = day
            }
            let first = from.addingTimeInterval(-Double(lookBackDays) * 86_400)
            let day = calendar.dateComponents([.year, .month, .day, .weekday], from: first)
            guard let year = day.year, let month = day.month, let dayOfMonth = day.day, let firstWeekday = day.weekday else { continue }
            var offset = 0
            while true {
                guard let start = calendar.date(from: DateComponents(
                    year: year, month: month, day: dayOfMonth + offset, hour: time.hour, minute: time.minute, second: time.second
                )) else { break }
                if start >= to { break }
                // Calendar's weekday: 1 = Sunday … 7 = Saturday; PagerDuty's: 1 = Monday … 7 = Sunday.
                let gregorianWeekday = (firstWeekday - 1 + offset) % 7 + 1
                let isoWeekday = (gregorianWeekday + 5) % 7 + 1
                if weekday == nil || weekday == isoWeekday {
                    let end = start.addingTimeInterval(Double(restriction.durationSeconds))
                    if end > from {
                        windows.append((max(start, from), min(end, to)))
                    }
                }
                offset += 1
            }
        }
        windows.sort { $0.0 < $1.0 }
        var merged: [(Date, Date)] = []
        for window in windows {
            if let last = merged.last, window.0 <= last.1 {
                merged[merged.count - 1].1 = max(last.1, window.1)
            } else {
                merged.append(window)
            }
        }
        return merged
    }

    /// "HH:mm:ss" (or "HH:mm").
    static func parseTimeOfDay(_ text: String) -> (hour: Int, minute: Int, second: Int)? {
        let parts = text.split(separator: ":").map { Int($0) }
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ $0 != nil }) else { return nil }
        let hour = parts[0]!, minute = parts[1]!, second = parts.count == 3 ? parts[2]! : 0
        guard (0..<24).contains(hour), (0..<60).contains(minute), (0..<60).contains(second) else { return nil }
        return (hour, minute, second)
    }

    /// Lays `top` over `base`: wherever a top entry covers time it replaces what base had there.
    /// Both inputs sorted and free of overlaps; so is the result. Generic so that a shift-based
    /// schedule's upgraded layers keep their rotation while they are laid over each other.
    static func paint<Stretch: TimeStretch>(_ top: [Stretch], over base: [Stretch]) -> [Stretch] {
        guard !top.isEmpty else { return base }
        guard !base.isEmpty else { return top }
        var uncovered: [Stretch] = []
        var topIndex = 0
        for entry in base {
            while topIndex < top.count, top[topIndex].end <= entry.start {
                topIndex += 1
            }
            var cursor = entry.start
            var index = topIndex
            while index < top.count, top[index].start < entry.end {
                if top[index].start > cursor {
                    var piece = entry
                    piece.start = cursor
                    piece.end = top[index].start
                    uncovered.append(piece)
                }
                cursor = max(cursor, top[index].end)
                index += 1
            }
            if cursor < entry.end {
                var piece = entry
                piece.start = cursor
                uncovered.append(piece)
            }
        }
        var result: [Stretch] = []
        result.reserveCapacity(uncovered.count + top.count)
        var left = 0, right = 0
        while left < uncovered.count || right < top.count {
            if right == top.count || (left < uncovered.count && uncovered[left].start < top[right].start) {
                result.append(uncovered[left])
                left += 1
            } else {
                result.append(top[right])
                right += 1
            }
        }
        return result
    }

    static func mergeAdjacent(_ entries: [SimulatedEntry]) -> [SimulatedEntry] {
        var merged: [SimulatedEntry] = []
        merged.reserveCapacity(entries.count)
        for entry in entries {
            if let last = merged.last, last.userId == entry.userId, last.end == entry.start {
                merged[merged.count - 1].end = entry.end
            } else {
                merged.append(entry)
            }
        }
        return merged
    }
}

/// Local wall-clock time in a zone as seconds (since the reference date, as if the zone were UTC),
/// and back.
struct WallClock {
    let zone: TimeZone

    func wallSeconds(_ instant: Date) -> Double {
        instant.timeIntervalSinceReferenceDate + Double(zone.secondsFromGMT(for: instant))
    }

    /// The instant showing this wall time. A time repeated at a fall-back change gives one of its
    /// two occurrences; a time skipped at a spring-forward change gives the instant just after the gap
    /// plus the time into it (02:30 → 03:30), as `Calendar` does.
    func instant(wallSeconds wall: Double) -> Date {
        let guess = wall - Double(zone.secondsFromGMT(for: Date(timeIntervalSinceReferenceDate: wall)))
        let guessOffset = zone.secondsFromGMT(for: Date(timeIntervalSinceReferenceDate: guess))
        let refined = wall - Double(guessOffset)
        if zone.secondsFromGMT(for: Date(timeIntervalSinceReferenceDate: refined)) == guessOffset {
            return Date(timeIntervalSinceReferenceDate: refined)
        }
        return Date(timeIntervalSinceReferenceDate: max(guess, refined))
    }
}

/// `TimeZone(identifier:)` and `Calendar` set-up are not free; requests ask for the same few zones
/// over and over.
enum ZoneCache {
    private static let calendars = Mutex<[String: Calendar]>([:])
    private static let utc = TimeZone(identifier: "UTC")!

    /// The zone for an identifier, or nil if there is no such zone.
    static func knownZone(_ identifier: String) -> TimeZone? {
        if let calendar = calendars.withLock({ $0[identifier] }) {
            return calendar.timeZone
        }
        return TimeZone(identifier: identifier)
    }

    /// A Gregorian calendar in the zone; unknown identifiers fall back to UTC.
    static func calendar(for identifier: String) -> Calendar {
        if let calendar = calendars.withLock({ $0[identifier] }) {
            return calendar
        }
        var calendar = Calendar(identifier: .gregorian)
        if let zone = TimeZone(identifier: identifier) {
            calendar.timeZone = zone
            calendars.withLock { $0[identifier] = calendar }
        } else {
            calendar.timeZone = utc
        }
        return calendar
    }

    static func zone(_ identifier: String) -> TimeZone {
        calendar(for: identifier).timeZone
    }
}
