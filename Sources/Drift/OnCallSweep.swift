import Foundation

/// Who is on call when, for one schedule in both snapshots, found by one sweep over the start and end
/// times of both sides' shifts inside a window. O(k log k) in the number of shifts k.
struct OnCallSweep {
    /// A stretch [start, end) of the window with the same people on call on each side (user IDs, sorted).
    struct Stretch {
        var start: Date
        var end: Date
        var before: [String]
        var after: [String]
    }

    /// Consecutive stretches covering the whole window, in time order.
    private(set) var stretches: [Stretch] = []

    init(before: [(userId: String, start: Date, end: Date)], after: [(userId: String, start: Date, end: Date)], window: DriftReport.Interval) {
        struct Event {
            var time: Date
            var isAfter: Bool
            var userId: String
            var delta: Int
        }
        var events: [Event] = []
        events.reserveCapacity(2 * (before.count + after.count))
        for (side, shifts) in [(false, before), (true, after)] {
            for shift in shifts {
                let start = max(shift.start, window.start)
                let end = min(shift.end, window.end)
                guard start < end else { continue }
                events.append(Event(time: start, isAfter: side, userId: shift.userId, delta: 1))
                events.append(Event(time: end, isAfter: side, userId: shift.userId, delta: -1))
            }
        }
        events.sort { $0.time < $1.time }

        var countsBefore: [String: Int] = [:]
        var countsAfter: [String: Int] = [:]
        var cursor = window.start
        var index = 0
        while cursor < window.end {
            while index < events.count, events[index].time <= cursor {
                let event = events[index]
                if event.isAfter {
                    countsAfter[event.userId, default: 0] += event.delta
                    if countsAfter[event.userId] == 0 { countsAfter[event.userId] = nil }
                } else {
                    countsBefore[event.userId, default: 0] += event.delta
                    if countsBefore[event.userId] == 0 { countsBefore[event.userId] = nil }
                }
                index += 1
            }
            let next = index < events.count ? events[index].time : window.end
            stretches.append(Stretch(start: cursor, end: next, before: countsBefore.keys.sorted(), after: countsAfter.keys.sorted()))
            cursor = next
        }
    }

    /// Maximal periods where the two sides differ; adjacent periods with the same before and after are
    /// one period.
    var changes: [Stretch] {
        Self.coalesce(stretches.filter { $0.before != $0.after }) { $0.before == $1.before && $0.after == $1.after }
    }

    /// Periods with nobody on call after but somebody before.
    var gapsOpened: [DriftReport.Interval] {
        Self.coalesce(stretches.filter { !$0.before.isEmpty && $0.after.isEmpty }) { _, _ in true }
            .map { DriftReport.Interval(start: $0.start, end: $0.end) }
    }

    /// Periods with nobody on call before but somebody after.
    var gapsClosed: [DriftReport.Interval] {
        Self.coalesce(stretches.filter { $0.before.isEmpty && !$0.after.isEmpty }) { _, _ in true }
            .map { DriftReport.Interval(start: $0.start, end: $0.end) }
    }

    /// One side's roster: stretches with the same people, coalesced, with the empty ones left out.
    func roster(after: Bool) -> [(start: Date, end: Date, userIds: [String])] {
        let side = stretches.map { (start: $0.start, end: $0.end, userIds: after ? $0.after : $0.before) }
        var result: [(start: Date, end: Date, userIds: [String])] = []
        for stretch in side {
            if let last = result.last, last.end == stretch.start, last.userIds == stretch.userIds {
                result[result.count - 1].end = stretch.end
            } else {
                result.append(stretch)
            }
        }
        return result.filter { !$0.userIds.isEmpty }
    }

    /// Joins stretches that touch and that `same` says belong together; the first one's sides are kept.
    private static func coalesce(_ stretches: [Stretch], same: (Stretch, Stretch) -> Bool) -> [Stretch] {
        var result: [Stretch] = []
        for stretch in stretches {
            if let last = result.last, last.end == stretch.start, same(last, stretch) {
                result[result.count - 1].end = stretch.end
            } else {
                result.append(stretch)
            }
        }
        return result
    }
}
