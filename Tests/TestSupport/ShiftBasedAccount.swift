import Foundation
import PagerDutySimulator

/// The ids of `mixedAccount(now:)`, for tests to name.
public enum MixedAccountIDs {
    public static let alice = "PALICE1"
    public static let bob = "PBOB001"
    public static let cat = "PCAT001"
    public static let dan = "PDAN001"
    public static let eve = "PEVE001"
    public static let finn = "PFINN01"
    /// "Platform v3", shift-based.
    public static let platform = "PV3PLAT"
    /// "Support v3", shift-based.
    public static let support = "PV3SUPP"
    /// "Legacy", layer-based.
    public static let legacy = "PLEGACY"
    public static let policy = "PPOLV3A"
    public static let rotation = "R1PLATFORM"
    public static let customShift = "C1CAT"
    public static let override = "O1DAN"
}

/// A hand-made account mixing both kinds of schedule, with `H` = `now` rounded down to the hour (UTC):
///
/// - "Platform v3" (shift-based, UTC):
///   - rotation `R1PLATFORM` of 24-hour shifts, Alice then Bob: Alice H−6h…H+18h;
///   - custom shift `C1CAT`: Cat H−1h…H+2h, on call *with* Alice;
///   - override `O1DAN` of that rotation: Dan replaces Alice H+4h…H+8h.
///   So Alice is on call H−6h…H+4h and H+8h…H+18h, Cat H−1h…H+2h, Dan H+4h…H+8h.
/// - "Support v3" (shift-based, UTC): one rotation of 8-hour shifts over Eve, an empty slot, Finn:
///   Eve H−4h…H+4h, nobody H+4h…H+12h (an explicit `empty_member`), Finn H+12h…H+20h.
/// - "Legacy" (layer-based, UTC): Bob, every day.
/// - Policy "Platform": level 1 Platform v3, level 2 Legacy, level 3 Support v3.
public func mixedAccount(now: Date) -> SimulatedAccount {
    typealias IDs = MixedAccountIDs
    let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
    func at(_ hours: Double) -> Date { hour.addingTimeInterval(hours * 3600) }
    let users = [
        SimulatedUser(id: IDs.alice, name: "Alice Archer", email: "Alice.Archer@Example.com"),
        SimulatedUser(id: IDs.bob, name: "Bob Brandt", email: "bob.brandt@example.com"),
        SimulatedUser(id: IDs.cat, name: "Cat Castillo", email: "CAT@example.com"),
        SimulatedUser(id: IDs.dan, name: "Dan Dorsey", email: "dan@example.com"),
        SimulatedUser(id: IDs.eve, name: "Eve Ekwueme", email: "eve@example.com"),
        SimulatedUser(id: IDs.finn, name: "Finn Falk", email: "finn@example.com"),
    ]
    let platform = SimulatedSchedule(
        id: IDs.platform, name: "Platform v3", timeZone: "UTC", description: "Shift-based",
        overrides: [SimulatedOverride(id: IDs.override, start: at(4), end: at(8), userId: IDs.dan, rotationId: IDs.rotation, overriddenUserId: IDs.alice)],
        kind: .shiftBased,
        rotations: [SimulatedRotation(id: IDs.rotation, events: [SimulatedRotationEvent(
            id: "E1PLATFORM", name: "Daily", start: at(-6 - 30 * 24), shiftSeconds: 86_400, members: [IDs.alice, IDs.bob])])],
        customShifts: [SimulatedCustomShift(id: IDs.customShift, start: at(-1), end: at(2), userId: IDs.cat)]
    )
    let support = SimulatedSchedule(
        id: IDs.support, name: "Support v3", timeZone: "UTC", kind: .shiftBased,
        rotations: [SimulatedRotation(id: "R3SUPPORT", events: [SimulatedRotationEvent(
            id: "E3SUPPORT", name: "Thirds", start: at(-4 - 8 * 30), shiftSeconds: 8 * 3600, members: [IDs.eve, nil, IDs.finn])])]
    )
    let legacyStart = at(-6 - 30 * 24)
    let legacy = SimulatedSchedule(
        id: IDs.legacy, name: "Legacy", timeZone: "UTC",
        layers: [SimulatedLayer(id: "PLAYERL", name: "Bob", start: legacyStart, rotationVirtualStart: legacyStart,
                                rotationTurnLengthSeconds: 86_400, userIds: [IDs.bob])]
    )
    let policy = SimulatedEscalationPolicy(id: IDs.policy, name: "Platform", rules: [
        SimulatedEscalationRule(id: "PRULEA1", targets: [.init(type: .schedule, id: IDs.platform)]),
        SimulatedEscalationRule(id: "PRULEA2", targets: [.init(type: .schedule, id: IDs.legacy)]),
        SimulatedEscalationRule(id: "PRULEA3", targets: [.init(type: .schedule, id: IDs.support)]),
    ])
    return SimulatedAccount(timeZone: "UTC", users: users, schedules: [platform, support, legacy], escalationPolicies: [policy])
}
