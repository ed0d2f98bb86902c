import Foundation
import OnCallStore

/// Hand-built snapshots. Times are counted in days (and hours) from Monday 2026-11-23 00:00 UTC.
enum Fixture {
    static let monday = Date(timeIntervalSince1970: 1_795_392_000)

    static func at(day: Double, hour: Double = 0) -> Date {
        monday.addingTimeInterval((day * 24 + hour) * 3600)
    }

    static let ada = User(id: "PADA", name: "Ada Lovelace", email: "ada@example.com", timeZone: "Europe/London")
    static let bob = User(id: "PBOB", name: "Bob Baker", email: "bob@example.com", timeZone: "America/New_York")
    static let cat = User(id: "PCAT", name: "Cat Chen", email: "cat@example.com", timeZone: "America/Los_Angeles")
    static let dan = User(id: "PDAN", name: "Dan Diaz", email: "dan@example.com", timeZone: "UTC")
    static let users = [ada, bob, cat, dan]

    static let payments = Schedule(id: "PSPAY", name: "Payments Primary", timeZone: "America/New_York")
    static let search = Schedule(id: "PSSEARCH", name: "Search", timeZone: "Europe/Berlin")
    static let webOps = EscalationPolicy(id: "PPWEB", name: "Web Ops")

    /// Daily shifts handing over at 14:00 UTC (09:00 in New York), Ada, Bob, Cat in turn, covering
    /// `days` days from `firstDay` (starting the afternoon before, so the window's first morning is covered).
    static func rotation(_ schedule: Schedule, firstDay: Int = 0, days: Int = 7, people: [User] = [ada, bob, cat]) -> [Shift] {
        (firstDay - 1..<firstDay + days).map { day in
            Shift(
                scheduleId: schedule.id, userId: people[(day + people.count * 10) % people.count].id,
                start: at(day: Double(day), hour: 14), end: at(day: Double(day + 1), hour: 14))
        }
    }

    static func info(id: Int64, firstDay: Double = 0, days: Double = 7) -> SnapshotInfo {
        SnapshotInfo(
            id: id, startedAt: at(day: firstDay), finishedAt: at(day: firstDay, hour: 0.05),
            windowStart: at(day: firstDay), windowEnd: at(day: firstDay + days))
    }

    /// Two schedules with full daily rotations, one policy (level 1 the Payments schedule, level 2 Dan).
    static func base(id: Int64 = 1, firstDay: Int = 0, days: Int = 7) -> SnapshotContents {
        SnapshotContents(
            info: info(id: id, firstDay: Double(firstDay), days: Double(days)),
            users: users,
            schedules: [payments, search],
            members: [ada, bob, cat].map { ScheduleMember(scheduleId: payments.id, userId: $0.id) }
                + [bob, dan].map { ScheduleMember(scheduleId: search.id, userId: $0.id) },
            shifts: rotation(payments, firstDay: firstDay, days: days)
                + rotation(search, firstDay: firstDay, days: days, people: [bob, dan]),
            overrides: [],
            policies: [webOps],
            targets: [
                EscalationTarget(policyId: webOps.id, level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: payments.id),
                EscalationTarget(policyId: webOps.id, level: 2, ruleId: "R2", delayMinutes: 15, kind: .user, targetId: dan.id),
            ])
    }

    /// Replaces whoever is on `schedule` in the shift starting at 14:00 UTC on `day`.
    static func reassign(_ contents: inout SnapshotContents, _ schedule: Schedule, day: Int, to user: User) {
        let start = at(day: Double(day), hour: 14)
        for index in contents.shifts.indices where contents.shifts[index].scheduleId == schedule.id && contents.shifts[index].start == start {
            contents.shifts[index].userId = user.id
        }
    }

    /// Deletes the shift of `schedule` starting at 14:00 UTC on `day`.
    static func removeShift(_ contents: inout SnapshotContents, _ schedule: Schedule, day: Int) {
        let start = at(day: Double(day), hour: 14)
        contents.shifts.removeAll { $0.scheduleId == schedule.id && $0.start == start }
    }
}
