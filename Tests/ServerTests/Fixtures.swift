import Foundation
import OnCallStore
import TestSupport

/// A roster with known shifts around `baseTime`:
/// - Jane (PJANE01): Primary [T−1h, T+1h), then Secondary [T+1h, T+3h) — back to back.
/// - Raj (PRAJ001): Primary [T+4m59s, T+8h) — starts inside the after-window.
/// - Omar (POMAR01): Primary [T+5m, T+8h) — starts exactly at the window's far edge.
/// - Lee (PLEE001): Primary [T−2h, T−30s) — ended inside the before-window.
/// - Kim (PKIM001): Primary [T−2h, T−60s) — ended exactly at the window's near edge.
/// - Sam (PSAM001): no shift.
/// Policy PPOL: level 1 → Primary, level 2 → Secondary.
func roster(finishedAt: Date = baseTime) -> SnapshotContents {
    let T = baseTime
    let people = [("PJANE01", "Jane Engineer", "Jane@Example.com"), ("PRAJ001", "Raj Patel", "raj@example.com"),
                  ("POMAR01", "Omar Haddad", "omar@example.com"), ("PLEE001", "Lee Park", "lee@example.com"),
                  ("PKIM001", "Kim Novak", "kim@example.com"), ("PSAM001", "Sam Idle", "sam@example.com")]
    func shift(_ schedule: String, _ user: String, _ from: TimeInterval, _ to: TimeInterval) -> Shift {
        Shift(scheduleId: schedule, userId: user, start: T.addingTimeInterval(from), end: T.addingTimeInterval(to))
    }
    return SnapshotContents(
        info: SnapshotInfo(startedAt: finishedAt, finishedAt: finishedAt, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(7 * 86_400)),
        users: people.map { User(id: $0.0, name: $0.1, email: $0.2, timeZone: "UTC") },
        schedules: [Schedule(id: "PPRIMAR", name: "Primary", timeZone: "America/New_York"),
                    Schedule(id: "PSECOND", name: "Secondary", timeZone: "Asia/Kolkata")],
        shifts: [
            shift("PPRIMAR", "PJANE01", -3600, 3600), shift("PSECOND", "PJANE01", 3600, 3 * 3600),
            shift("PPRIMAR", "PRAJ001", 299, 8 * 3600), shift("PPRIMAR", "POMAR01", 300, 8 * 3600),
            shift("PPRIMAR", "PLEE001", -7200, -30), shift("PPRIMAR", "PKIM001", -7200, -60),
        ],
        policies: [EscalationPolicy(id: "PPOL", name: "Platform")],
        targets: [EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMAR"),
                  EscalationTarget(policyId: "PPOL", level: 2, ruleId: "R2", delayMinutes: 30, kind: .schedule, targetId: "PSECOND")])
}
