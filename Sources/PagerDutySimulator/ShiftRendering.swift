import Foundation

/// One stretch of a shift-based schedule's final schedule, as `GET /v3/schedules/{id}` shows it in
/// `final_schedule.computed_shift_assignments`: a person (or an explicit empty slot) and where the
/// time comes from. Several assignments may cover the same time: each rotation and each custom shift
/// is on call at once with the others.
public struct SimulatedAssignment: Sendable, Hashable {
    /// PagerDuty's `source`: the rotation or custom shift the time belongs to, or the override that
    /// replaced that source's member for part of it.
    public enum Source: Hashable, Sendable {
        case rotation(String)
        case customShift(String)
        case rotationOverride(rotationId: String, overrideId: String)
        case customShiftOverride(shiftId: String, overrideId: String)

        /// The rotation underneath, overridden or not.
        public var rotationId: String? {
            switch self {
            case .rotation(let id), .rotationOverride(let id, _): return id
            case .customShift, .customShiftOverride: return nil
            }
        }

        /// The custom shift underneath, overridden or not.
        public var customShiftId: String? {
            switch self {
            case .customShift(let id), .customShiftOverride(let id, _): return id
            case .rotation, .rotationOverride: return nil
            }
        }

        /// An override put this member here (PagerDuty's `…_override` source types).
        public var isOverride: Bool { overrideId != nil }

        /// The override that put this member here, if one did.
        public var overrideId: String? {
            switch self {
            case .rotationOverride(_, let id), .customShiftOverride(_, let id): return id
            case .rotation, .customShift: return nil
            }
        }
    }

    /// nil: an explicit empty slot (PagerDuty's `empty_member`).
    public var userId: String?
    public var start: Date
    public var end: Date
    public var source: Source

    public init(userId: String?, start: Date, end: Date, source: Source) {
        self.userId = userId
        self.start = start
        self.end = end
        self.source = source
    }
}

/// Something with a start and an end that `paint` can lay over others and cut.
protocol TimeStretch {
    var start: Date { get set }
    var end: Date { get set }
}

extension SimulatedEntry: TimeStretch {}
extension SimulatedAssignment: TimeStretch {}

extension SimulatedSchedule {
    /// The final schedule of a shift-based schedule for [since, until), as PagerDuty's
    /// `computed_shift_assignments`: every rotation's and every custom shift's assignments, each
    /// override applied to its own source only, empty slots included (`userId` nil).
    ///
    /// - Rotations with events: each event's shifts, on the schedule zone's wall clock (a 09:00
    ///   handoff stays at 09:00 across daylight-saving changes), only on its `weekdays`, until its
    ///   `effectiveUntil`; a rotating event gives each shift to one member, an every-member event
    ///   gives it to all of them at once.
    /// - Rotations upgraded from layers: exactly their layer's entries; a later upgraded layer covers
    ///   an earlier one, as in the layer-based schedule it came from. Other rotations and custom
    ///   shifts are on call at once with everything.
    /// - Overrides, in list order: inside its window, an override gives its `userId` the parts of
    ///   its rotation's (or custom shift's) assignments whose member is `overriddenUserId` (as they
    ///   are after the overrides before it). With `overriddenUserId` nil it fills that source's empty
    ///   slots and, for a rotation, the times the rotation has nobody at all (an upgraded layer's
    ///   gaps). Other sources are untouched.
    /// - Adjacent assignments of the same member from the same source are merged. Sorted by start,
    ///   then by source (rotations in order, then custom shifts), then member.
    ///
    /// The window works as in `render(since:until:overflow:)`: entries crossing the bounds are cut at
    /// them unless `overflow`; `since == until` asks for that instant. `variants` selects PagerDuty's
    /// unverified behaviour (`finalScheduleKeepsOverriddenMembers`, `v3OverflowFalseDropsCrossingEntries`).
    /// A layer-based schedule has no shifts: the result is empty.
    public func renderShifts(since: Date, until: Date, overflow: Bool = false, variants: PagerDutyVariants = .init()) -> [SimulatedAssignment] {
        guard kind == .shiftBased else { return [] }
        let assignments = shiftAssignments(around: since, until, keepingOverriddenMembers: variants.finalScheduleKeepsOverriddenMembers)
        var selected = Self.select(assignments, since: since, until: until, overflow: overflow, dropCrossing: variants.v3OverflowFalseDropsCrossingEntries)
        if !overflow, !variants.v3OverflowFalseDropsCrossingEntries {
            // Cutting at `since` gives entries that began earlier a new start.
            sortInSourceOrder(&selected)
        }
        return selected
    }

    /// Who is on call, for both kinds: the final schedule's entries of people (never empty slots).
    /// Layer-based: one person at a time. Shift-based: one entry per person and stretch, so several
    /// at once when rotations, every-member events or custom shifts run concurrently; one person's
    /// overlapping or adjacent time from several sources is one entry. Sorted by start, then user.
    public func onCallEntries(since: Date, until: Date, overflow: Bool = false) -> [SimulatedEntry] {
        render(since: since, until: until, overflow: overflow).final
    }

    /// `renderShifts`' coverage: the share of [since, until) with at least one person on call, in
    /// percent with two decimals, as `rendered_coverage_percentage`.
    public static func coveragePercentage(of assignments: [SimulatedAssignment], since: Date, until: Date) -> Double {
        let window = until.timeIntervalSince(since)
        guard window > 0 else { return 0 }
        var stretches = assignments.compactMap { assignment -> (Date, Date)? in
            guard assignment.userId != nil else { return nil }
            let start = max(assignment.start, since)
            let end = min(assignment.end, until)
            return end > start ? (start, end) : nil
        }
        stretches.sort { $0.0 < $1.0 }
        var covered = 0.0
        var current: (Date, Date)?
        for stretch in stretches {
            if let open = current, stretch.0 <= open.1 {
                current = (open.0, max(open.1, stretch.1))
            } else {
                if let open = current { covered += open.1.timeIntervalSince(open.0) }
                current = stretch
            }
        }
        if let open = current { covered += open.1.timeIntervalSince(open.0) }
        return (covered / window * 10_000).rounded() / 100
    }

    // MARK: Internals

    /// The rendering margin around a window: one period of the longest rotation (at least a day, at
    /// most 35 days), as `render` uses for layers.
    var shiftMargin: TimeInterval {
        var longest = 0.0
        for rotation in rotations {
            if let layer = rotation.upgradedLayer {
                longest = max(longest, Double(layer.rotationTurnLengthSeconds))
            } else {
                for event in rotation.events {
                    longest = max(longest, Double(max(event.repeatSeconds, event.shiftSeconds)))
                }
            }
        }
        return min(max(longest, 86_400), 35 * 86_400)
    }

    /// The assignments around [since, until) with their real extents: rendered over the window plus
    /// the margin, plus the whole of any override or custom shift that touches the window.
    func shiftAssignments(around since: Date, _ until: Date, keepingOverriddenMembers: Bool = false) -> [SimulatedAssignment] {
        let margin = shiftMargin
        var from = since.addingTimeInterval(-margin)
        var to = until.addingTimeInterval(margin)
        for override in overrides where Self.overlaps(start: override.start, end: override.end, since: since, until: until) {
            from = min(from, override.start)
            to = max(to, override.end)
        }
        for shift in customShifts where Self.overlaps(start: shift.start, end: shift.end, since: since, until: until) {
            from = min(from, shift.start)
            to = max(to, shift.end)
        }
        return shiftAssignments(from: from, to: to, keepingOverriddenMembers: keepingOverriddenMembers)
    }

    /// The assignments within [from, to), sorted and merged (see `renderShifts`).
    func shiftAssignments(from: Date, to: Date, keepingOverriddenMembers: Bool = false) -> [SimulatedAssignment] {
        guard from < to else { return [] }
        let calendar = ZoneCache.calendar(for: timeZone)
        let clock = WallClock(zone: calendar.timeZone)

        // One list per source: rotations in order, then custom shifts. Each sorted by start.
        var bySource: [[SimulatedAssignment]] = []
        bySource.reserveCapacity(rotations.count + customShifts.count)
        var painted: [SimulatedAssignment] = []
        var upgradedPositions: [String: Int] = [:]
        for (position, rotation) in rotations.enumerated() {
            if let layer = rotation.upgradedLayer {
                let source = SimulatedAssignment.Source.rotation(rotation.id)
                let entries = Self.renderLayer(layer, from: from, to: to, calendar: calendar).map {
                    SimulatedAssignment(userId: $0.userId, start: $0.start, end: $0.end, source: source)
                }
                painted = Self.paint(entries, over: painted)
                upgradedPositions[rotation.id] = position
                bySource.append([])
            } else {
                var assignments: [SimulatedAssignment] = []
                for event in rotation.events {
                    Self.renderEvent(event, rotationId: rotation.id, from: from, to: to, clock: clock, into: &assignments)
                }
                if rotation.events.count > 1 { assignments.sort { $0.start < $1.start } }
                bySource.append(assignments)
            }
        }
        // What is left of each upgraded layer once later ones have covered it.
        for assignment in painted {
            if let id = assignment.source.rotationId, let position = upgradedPositions[id] {
                bySource[position].append(assignment)
            }
        }
        for shift in customShifts {
            let overlapping = shift.start < shift.end && shift.end > from && shift.start < to
            bySource.append(overlapping ? [SimulatedAssignment(userId: shift.userId, start: shift.start, end: shift.end, source: .customShift(shift.id))] : [])
        }

        var replaced: [SimulatedAssignment] = []
        if !overrides.isEmpty {
            var rotationPositions: [String: Int] = [:]
            for (position, rotation) in rotations.enumerated() where rotationPositions[rotation.id] == nil {
                rotationPositions[rotation.id] = position
            }
            var shiftPositions: [String: Int] = [:]
            for (position, shift) in customShifts.enumerated() where shiftPositions[shift.id] == nil {
                shiftPositions[shift.id] = rotations.count + position
            }
            for override in overrides where override.start < override.end && override.end > from && override.start < to {
                let position: Int
                let source: SimulatedAssignment.Source
                if let rotationId = override.rotationId, let found = rotationPositions[rotationId] {
                    position = found
                    source = .rotationOverride(rotationId: rotationId, overrideId: override.id)
                } else if let shiftId = override.customShiftId, let found = shiftPositions[shiftId] {
                    position = found
                    source = .customShiftOverride(shiftId: shiftId, overrideId: override.id)
                } else {
                    continue
                }
                bySource[position] = Self.apply(
                    override, source: source, fillsGaps: override.rotationId != nil, to: bySource[position],
                    from: max(override.start, from), to: min(override.end, to),
                    keepingReplaced: keepingOverriddenMembers, replaced: &replaced
                )
            }
        }

        var assignments = bySource.flatMap { $0 } + replaced
        sortInSourceOrder(&assignments)
        return Self.mergeAdjacent(assignments)
    }

    /// Sorts by start, then source (rotations in order, then custom shifts), then member (empty
    /// slots first), then end.
    func sortInSourceOrder(_ assignments: inout [SimulatedAssignment]) {
        var rotationRanks: [String: Int] = [:]
        for (rank, rotation) in rotations.enumerated() where rotationRanks[rotation.id] == nil {
            rotationRanks[rotation.id] = rank
        }
        var shiftRanks: [String: Int] = [:]
        for (rank, shift) in customShifts.enumerated() where shiftRanks[shift.id] == nil {
            shiftRanks[shift.id] = rotations.count + rank
        }
        func rank(_ source: SimulatedAssignment.Source) -> Int {
            if let id = source.rotationId { return rotationRanks[id] ?? Int.max }
            return source.customShiftId.flatMap { shiftRanks[$0] } ?? Int.max
        }
        var ranked = assignments.map { (rank: rank($0.source), assignment: $0) }
        ranked.sort { left, right in
            if left.assignment.start != right.assignment.start { return left.assignment.start < right.assignment.start }
            if left.rank != right.rank { return left.rank < right.rank }
            let leftUser = left.assignment.userId ?? "", rightUser = right.assignment.userId ?? ""
            if leftUser != rightUser { return leftUser < rightUser }
            return left.assignment.end < right.assignment.end
        }
        assignments = ranked.map(\.assignment)
    }

    /// One event's shifts within [from, to), real extents (cut only at `effectiveUntil`).
    static func renderEvent(
        _ event: SimulatedRotationEvent, rotationId: String, from: Date, to: Date, clock: WallClock, into output: inout [SimulatedAssignment]
    ) {
        guard event.shiftSeconds > 0, !event.members.isEmpty else { return }
        let high = min(to, event.effectiveUntil ?? .distantFuture)
        guard event.start < high else { return }
        let source = SimulatedAssignment.Source.rotation(rotationId)
        let firstWall = clock.wallSeconds(event.start)
        let shift = Double(event.shiftSeconds)
        let period = Double(event.repeatSeconds)
        let recurs = event.repeatSeconds > 0
        let weekdays = Set(event.weekdays)
        let pattern = ShiftPattern(firstWall: firstWall, repeatSeconds: event.repeatSeconds, weekdays: weekdays)
        let perMember = max(event.shiftsPerMember, 1)

        // Shifts that could reach `from`: one more early, as wall time runs back an hour at a
        // fall-back change.
        var index = 0
        if recurs {
            index = max(0, Int(((clock.wallSeconds(from) - shift - firstWall) / period).rounded(.down)) - 1)
        }
        var happened = pattern.count(before: index)
        while true {
            let wallStart = firstWall + Double(index) * period
            let start = clock.instant(wallSeconds: wallStart)
            if start >= high { break }
            if pattern.happens(index) {
                let end = min(clock.instant(wallSeconds: wallStart + shift), event.effectiveUntil ?? .distantFuture)
                if end > start, end > from {
                    switch event.assignment {
                    case .rotating:
                        let member = event.members[(happened / perMember) % event.members.count]
                        output.append(SimulatedAssignment(userId: member, start: start, end: end, source: source))
                    case .everyMember:
                        for member in event.members {
                            output.append(SimulatedAssignment(userId: member, start: start, end: end, source: source))
                        }
                    }
                }
                happened += 1
            }
            guard recurs else { break }
            index += 1
        }
    }

    /// `override` applied to one source's assignments within [from, to) (see `renderShifts`). The
    /// parts it replaces are added to `replaced` when `keepingReplaced`.
    static func apply(
        _ override: SimulatedOverride, source: SimulatedAssignment.Source, fillsGaps: Bool, to assignments: [SimulatedAssignment],
        from: Date, to: Date, keepingReplaced: Bool, replaced: inout [SimulatedAssignment]
    ) -> [SimulatedAssignment] {
        guard from < to else { return assignments }
        var result: [SimulatedAssignment] = []
        result.reserveCapacity(assignments.count + 2)
        var changed = false
        for assignment in assignments {
            guard assignment.userId == override.overriddenUserId, assignment.end > from, assignment.start < to else {
                result.append(assignment)
                continue
            }
            changed = true
            if assignment.start < from {
                var before = assignment
                before.end = from
                result.append(before)
            }
            let inside = (max(assignment.start, from), min(assignment.end, to))
            result.append(SimulatedAssignment(userId: override.userId, start: inside.0, end: inside.1, source: source))
            if keepingReplaced {
                var original = assignment
                original.start = inside.0
                original.end = inside.1
                replaced.append(original)
            }
            if assignment.end > to {
                var after = assignment
                after.start = to
                result.append(after)
            }
        }
        if fillsGaps, override.overriddenUserId == nil {
            // The times within [from, to) the source has nobody at all, in order.
            var cursor = from
            for assignment in assignments where assignment.end > from && assignment.start < to {
                if assignment.start > cursor {
                    result.append(SimulatedAssignment(userId: override.userId, start: cursor, end: assignment.start, source: source))
                    changed = true
                }
                cursor = max(cursor, assignment.end)
            }
            if cursor < to {
                result.append(SimulatedAssignment(userId: override.userId, start: cursor, end: to, source: source))
                changed = true
            }
        }
        if changed { result.sort { $0.start < $1.start } }
        return result
    }

    /// Adjacent assignments of the same member and source become one. Input sorted by start; so is
    /// the output (merging only moves ends).
    static func mergeAdjacent(_ assignments: [SimulatedAssignment]) -> [SimulatedAssignment] {
        struct Key: Hashable {
            var userId: String?
            var source: SimulatedAssignment.Source
        }
        var merged: [SimulatedAssignment] = []
        merged.reserveCapacity(assignments.count)
        var lastByKey: [Key: Int] = [:]
        for assignment in assignments {
            let key = Key(userId: assignment.userId, source: assignment.source)
            if let last = lastByKey[key], merged[last].end == assignment.start {
                merged[last].end = assignment.end
            } else {
                lastByKey[key] = merged.count
                merged.append(assignment)
            }
        }
        return merged
    }

    /// The assignments that overlap [since, until): cut at the bounds, kept whole with `overflow`, or
    /// left out when they cross a bound and `dropCrossing`.
    static func select(_ assignments: [SimulatedAssignment], since: Date, until: Date, overflow: Bool, dropCrossing: Bool) -> [SimulatedAssignment] {
        assignments.compactMap { assignment in
            guard overlaps(start: assignment.start, end: assignment.end, since: since, until: until) else { return nil }
            if overflow { return assignment }
            if dropCrossing { return assignment.start >= since && assignment.end <= until ? assignment : nil }
            var cut = assignment
            cut.start = max(assignment.start, since)
            cut.end = min(assignment.end, until)
            return cut
        }
    }

    /// Each person's time in `assignments` as entries: overlapping or adjacent stretches of one person
    /// (from several sources) joined, empty slots left out. Sorted by start, then user.
    static func peopleOnCall(_ assignments: [SimulatedAssignment]) -> [SimulatedEntry] {
        var byUser: [String: [SimulatedEntry]] = [:]
        for assignment in assignments {
            guard let userId = assignment.userId else { continue }
            if let last = byUser[userId]?.last, assignment.start <= last.end {
                byUser[userId]![byUser[userId]!.count - 1].end = max(last.end, assignment.end)
            } else {
                byUser[userId, default: []].append(SimulatedEntry(userId: userId, start: assignment.start, end: assignment.end))
            }
        }
        var entries = byUser.values.flatMap { $0 }
        entries.sort { ($0.start, $0.userId) < ($1.start, $1.userId) }
        return entries
    }
}

/// Which of an event's shifts happen (those starting on its weekdays) and how many happened before
/// shift n, without walking from the event's start: the local weekday of shift n repeats with
/// period 604,800 / gcd(repeat, 604,800) shifts.
struct ShiftPattern {
    private let everyShift: Bool
    private let firstWall: Double
    private let repeatSeconds: Int
    private let weekdays: Set<Int>
    /// happens(i) for one period, and the count of happenings before each i in it; empty when the
    /// period is too long to tabulate (seconds-odd repeats), then counting walks.
    private let period: Int
    private let before: [Int]

    init(firstWall: Double, repeatSeconds: Int, weekdays: Set<Int>) {
        self.firstWall = firstWall
        self.repeatSeconds = repeatSeconds
        self.weekdays = weekdays
        everyShift = weekdays.isEmpty
        guard !everyShift else {
            period = 0
            before = []
            return
        }
        // A shift that does not recur (repeat 0) is a period of one.
        let week = 7 * 86_400
        period = week / Self.gcd(max(repeatSeconds, 0), week)
        guard period <= 10_080 else {
            before = []
            return
        }
        var counts = [0]
        counts.reserveCapacity(period + 1)
        for index in 0..<period {
            counts.append(counts[index] + (Self.weekdayMatches(firstWall + Double(index) * Double(repeatSeconds), weekdays) ? 1 : 0))
        }
        before = counts
    }

    func happens(_ index: Int) -> Bool {
        everyShift || Self.weekdayMatches(firstWall + Double(index) * Double(repeatSeconds), weekdays)
    }

    /// How many of shifts 0..<index happen.
    func count(before index: Int) -> Int {
        if everyShift { return index }
        if !before.isEmpty {
            return (index / period) * before[period] + before[index % period]
        }
        var count = 0
        for shift in 0..<index where happens(shift) { count += 1 }
        return count
    }

    /// The ISO weekday (1 = Monday … 7 = Sunday) of a wall time is in `weekdays`. Wall seconds count
    /// from 2001-01-01 00:00 local, a Monday.
    static func weekdayMatches(_ wall: Double, _ weekdays: Set<Int>) -> Bool {
        let days = Int((wall / 86_400).rounded(.down))
        return weekdays.contains(((days % 7) + 7) % 7 + 1)
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int {
        var (a, b) = (abs(a), abs(b))
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
