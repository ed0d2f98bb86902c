import Foundation

extension SimulatedAccount {
    /// A realistic account, the same for the same arguments.
    ///
    /// - Schedules mix daily and weekly turns; some have a business-hours layer (a daily restriction)
    ///   over an around-the-clock layer, some split weekdays and weekends (weekly restrictions).
    /// - Handoffs are at local midnight or 09:00 in the schedule's zone; zones come from
    ///   America/New_York, Europe/Berlin, Asia/Kolkata (+05:30), UTC, America/Los_Angeles.
    /// - Members overlap from one schedule to the next, so many users are on several schedules.
    /// - Every fourth schedule has an override running at `now` and another the next day.
    /// - One escalation policy per four schedules: level 1 = one or two schedules, level 2 =
    ///   one or two others, level 3 = a user directly; targets of both kinds.
    /// - Emails are mixed case ("Alice.Nguyen@Example.com"); ids look like PagerDuty's (P + 6).
    ///
    /// `v3Share` (0…1) of the schedules are shift-based, spread evenly: schedule i is when
    /// ⌊(i+1)·share⌋ > ⌊i·share⌋. Their members are chosen as for layer-based ones, and the n-th
    /// shift-based schedule follows pattern n mod 4, so that every pattern appears whatever the share:
    /// 0. a daily rotating rotation, plus a custom shift adding another member from now−1h to now+5h;
    /// 1. a weekly rotating rotation whose members include an empty slot (explicit empty windows);
    /// 2. a weekly around-the-clock rotation and a weekday business-hours one (09:00–17:00 local,
    ///    daily rotating), two people at once in business hours;
    /// 3. an every-member weekly event (the first two members together), with an override at now
    ///    (starting 1 to 3 hours before, for 6 hours) and another tomorrow 18:00 for 12 hours, each
    ///    replacing one of the pair.
    /// The random numbers that shape layer-based schedules are drawn exactly as with no share (the
    /// shift-based ones' own come from a second generator), so `v3Share: 0` gives the same account
    /// as before shift-based schedules existed, and a layer-based schedule is the same at any share.
    public static func generate(
        users userCount: Int, schedules scheduleCount: Int, seed: UInt64 = 1, now: Date = Date(), v3Share: Double = 0
    ) -> SimulatedAccount {
        var random = SplitMix64(seed: seed)
        var ids = IdentifierMaker()
        let userCount = max(userCount, 0)
        let scheduleCount = max(scheduleCount, 0)
        let zones = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC", "America/Los_Angeles"]
        // Whole hours keep every generated time readable and the account stable within an hour.
        let hour = (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600
        let anchor = Date(timeIntervalSince1970: hour)

        let teamNames = ["Platform", "Payments", "Data", "Identity", "Mobile", "Infrastructure", "Search", "Growth"]
        let teamCount = min(teamNames.count, max(1, (scheduleCount + 4) / 5))
        let teams = (0..<teamCount).map { index in
            SimulatedTeam(id: ids.make(&random), name: teamNames[index], description: "The \(teamNames[index]) team")
        }

        let domains = ["Example.com", "example.COM", "Shiftgate.example", "EXAMPLE.org"]
        var seenNames: [String: Int] = [:]
        let users: [SimulatedUser] = (0..<userCount).map { index in
            let first = firstNames[Int(random.next(below: UInt64(firstNames.count)))]
            let last = lastNames[Int(random.next(below: UInt64(lastNames.count)))]
            let name = "\(first) \(last)"
            let repeats = seenNames[name, default: 0]
            seenNames[name] = repeats + 1
            let local = repeats == 0 ? "\(first).\(last)" : "\(first).\(last)\(repeats + 1)"
            let domain = domains[index % domains.count]
            let teamIds = teams.isEmpty ? [] : [teams[index % teams.count].id]
            return SimulatedUser(
                id: ids.make(&random), name: repeats == 0 ? name : "\(name) \(repeats + 1)", email: "\(local)@\(domain)",
                timeZone: zones[Int(random.next(below: UInt64(zones.count)))], role: index == 0 ? "admin" : "user", teamIds: teamIds
            )
        }

        let share = min(max(v3Share.isNaN ? 0 : v3Share, 0), 1)
        var shiftBasedMade = 0
        var schedules: [SimulatedSchedule] = []
        for index in 0..<scheduleCount {
            let zone = zones[index % zones.count]
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            let id = ids.make(&random)
            // Members: a window sliding three users per schedule, so neighbours share people, plus one
            // drawn at random.
            var memberIds: [String] = []
            if !users.isEmpty {
                let size = min(users.count, 4 + Int(random.next(below: 3)))
                for offset in 0..<size {
                    let user = users[(index * 3 + offset) % users.count]
                    if !memberIds.contains(user.id) { memberIds.append(user.id) }
                }
                let extra = users[Int(random.next(below: UInt64(users.count)))]
                if !memberIds.contains(extra.id) { memberIds.append(extra.id) }
            }
            let daysBack = 14 + Int(random.next(below: 60))
            let midnight = calendar.startOfDay(for: anchor.addingTimeInterval(-Double(daysBack) * 86_400))
            let nine = calendar.date(byAdding: .hour, value: 9, to: midnight)!
            let half = max(1, memberIds.count / 2)
            var layers: [SimulatedLayer] = []
            let kind = index % 4
            switch kind {
            case 0:
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Daily rotation", start: midnight, rotationVirtualStart: midnight,
                    rotationTurnLengthSeconds: 86_400, userIds: memberIds
                ))
            case 1:
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Weekly rotation", start: nine, rotationVirtualStart: nine,
                    rotationTurnLengthSeconds: 7 * 86_400, userIds: memberIds
                ))
            case 2:
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Around the clock", start: midnight, rotationVirtualStart: midnight,
                    rotationTurnLengthSeconds: 7 * 86_400, userIds: Array(memberIds.prefix(half))
                ))
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Business hours", start: midnight, rotationVirtualStart: midnight,
                    rotationTurnLengthSeconds: 86_400, userIds: Array(memberIds.dropFirst(half).isEmpty ? memberIds[...] : memberIds.dropFirst(half)),
                    restrictions: [SimulatedRestriction(type: .daily, startTimeOfDay: "09:00:00", durationSeconds: 8 * 3600)]
                ))
            default:
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Weekdays", start: midnight, rotationVirtualStart: midnight,
                    rotationTurnLengthSeconds: 86_400, userIds: Array(memberIds.prefix(half)),
                    restrictions: [SimulatedRestriction(type: .weekly, startTimeOfDay: "00:00:00", durationSeconds: 5 * 86_400, startDayOfWeek: 1)]
                ))
                layers.append(SimulatedLayer(
                    id: ids.make(&random), name: "Weekends", start: midnight, rotationVirtualStart: midnight,
                    rotationTurnLengthSeconds: 7 * 86_400, userIds: Array(memberIds.dropFirst(half).isEmpty ? memberIds[...] : memberIds.dropFirst(half)),
                    restrictions: [SimulatedRestriction(type: .weekly, startTimeOfDay: "00:00:00", durationSeconds: 2 * 86_400, startDayOfWeek: 6)]
                ))
            }
            if memberIds.isEmpty { layers = [] }
            var overrides: [SimulatedOverride] = []
            if index % 4 == 3 || index == 0, !users.isEmpty {
                let stand = users[Int(random.next(below: UInt64(users.count)))]
                let start = anchor.addingTimeInterval(-Double(1 + random.next(below: 3)) * 3600)
                overrides.append(SimulatedOverride(id: ids.make(&random), start: start, end: start.addingTimeInterval(6 * 3600), userId: stand.id))
                let tomorrow = calendar.date(byAdding: .hour, value: 18, to: calendar.startOfDay(for: anchor.addingTimeInterval(86_400)))!
                overrides.append(SimulatedOverride(id: ids.make(&random), start: tomorrow, end: tomorrow.addingTimeInterval(12 * 3600), userId: memberIds.first ?? stand.id))
            }
            let teamName = teams.isEmpty ? "On-call" : teams[index % teams.count].name
            let teamIds = teams.isEmpty ? [] : [teams[index % teams.count].id]
            if (Double(index + 1) * share).rounded(.down) > (Double(index) * share).rounded(.down) {
                let pattern = shiftBasedMade % 4
                shiftBasedMade += 1
                var side = SplitMix64(seed: seed ^ (0x5348_4946_5442_4153 &+ UInt64(index)))
                var schedule = SimulatedSchedule(
                    id: id, name: "\(teamName) \(["Daily plus a shift", "Weekly with a gap", "Around the clock and business hours", "Pairs"][pattern]) \(index + 1)",
                    timeZone: zone, description: "Generated shift-based schedule \(index + 1)", teamIds: teamIds, kind: .shiftBased
                )
                if !memberIds.isEmpty {
                    Self.addShifts(
                        pattern: pattern, to: &schedule, members: memberIds, users: users, calendar: calendar, midnight: midnight, anchor: anchor,
                        random: &side, ids: &ids
                    )
                }
                schedules.append(schedule)
                continue
            }
            schedules.append(SimulatedSchedule(
                id: id, name: "\(teamName) \(["Daily", "Weekly", "Business hours", "Weekdays and weekends"][kind]) \(index + 1)",
                timeZone: zone, description: "Generated schedule \(index + 1)",
                teamIds: teamIds, layers: layers, overrides: overrides
            ))
        }

        var policies: [SimulatedEscalationPolicy] = []
        for group in stride(from: 0, to: scheduleCount, by: 4) {
            let first = schedules[group]
            var level1 = [SimulatedEscalationRule.Target(type: .schedule, id: first.id)]
            if group + 2 < scheduleCount { level1.append(.init(type: .schedule, id: schedules[group + 2].id)) }
            var rules = [SimulatedEscalationRule(id: ids.make(&random), escalationDelayInMinutes: 15, targets: level1)]
            if scheduleCount > 1 {
                var level2 = [SimulatedEscalationRule.Target(type: .schedule, id: schedules[(group + 1) % scheduleCount].id)]
                if group + 3 < scheduleCount { level2.append(.init(type: .schedule, id: schedules[group + 3].id)) }
                rules.append(SimulatedEscalationRule(id: ids.make(&random), escalationDelayInMinutes: 30, targets: level2))
            }
            if !users.isEmpty {
                let manager = users[Int(random.next(below: UInt64(users.count)))]
                rules.append(SimulatedEscalationRule(id: ids.make(&random), escalationDelayInMinutes: 30, targets: [.init(type: .user, id: manager.id)]))
            }
            policies.append(SimulatedEscalationPolicy(
                id: ids.make(&random), name: "\(first.name) escalation", numLoops: Int(random.next(below: 3)), teamIds: first.teamIds, rules: rules
            ))
        }

        return SimulatedAccount(timeZone: "America/New_York", users: users, teams: teams, schedules: schedules, escalationPolicies: policies)
    }

    /// A shift-based schedule's rotations, custom shifts and overrides after `pattern` (see
    /// `generate`); `midnight` is a local midnight some weeks back, `anchor` now's hour.
    private static func addShifts(
        pattern: Int, to schedule: inout SimulatedSchedule, members: [String], users: [SimulatedUser], calendar: Calendar,
        midnight: Date, anchor: Date, random: inout SplitMix64, ids: inout IdentifierMaker
    ) {
        let day = 86_400
        let week = 7 * day
        let nine = calendar.date(byAdding: .hour, value: 9, to: midnight)!
        let half = max(1, members.count / 2)
        let secondHalf = members.dropFirst(half).isEmpty ? members : Array(members.dropFirst(half))
        func rotation(_ name: String, start: Date, shift: Int, repeat period: Int? = nil, weekdays: [Int] = [],
                      assignment: SimulatedRotationEvent.Assignment = .rotating, members: [String?]) -> SimulatedRotation {
            SimulatedRotation(id: ids.make(&random), events: [SimulatedRotationEvent(
                id: ids.make(&random), name: name, start: start, shiftSeconds: shift, repeatSeconds: period, weekdays: weekdays,
                assignment: assignment, members: members
            )])
        }
        switch pattern {
        case 0:
            let rotating = members.count >= 2 ? Array(members.dropLast()) : members
            schedule.rotations = [rotation("Daily", start: midnight, shift: day, members: rotating)]
            schedule.customShifts = [SimulatedCustomShift(
                id: ids.make(&random), start: anchor.addingTimeInterval(-3600), end: anchor.addingTimeInterval(5 * 3600), userId: members.last
            )]
        case 1:
            var slots: [String?] = members
            slots.insert(nil, at: min(1, slots.count))
            schedule.rotations = [rotation("Weekly", start: nine, shift: week, members: slots)]
        case 2:
            schedule.rotations = [
                rotation("Around the clock", start: midnight, shift: week, members: Array(members.prefix(half))),
                rotation("Business hours", start: nine, shift: 8 * 3600, repeat: day, weekdays: [1, 2, 3, 4, 5], members: secondHalf),
            ]
        default:
            let pair = Array(members.prefix(2))
            let pairRotation = rotation("Pairs", start: midnight, shift: week, assignment: .everyMember, members: pair)
            schedule.rotations = [pairRotation]
            // Someone outside the pair stands in, when there is anyone.
            let first = Int(random.next(below: UInt64(users.count)))
            let stand = (0..<users.count).lazy.map { users[(first + $0) % users.count].id }.first { !pair.contains($0) } ?? users[first].id
            let start = anchor.addingTimeInterval(-Double(1 + random.next(below: 3)) * 3600)
            let tomorrow = calendar.date(byAdding: .hour, value: 18, to: calendar.startOfDay(for: anchor.addingTimeInterval(86_400)))!
            schedule.overrides = [
                SimulatedOverride(
                    id: ids.make(&random), start: start, end: start.addingTimeInterval(6 * 3600), userId: stand, rotationId: pairRotation.id,
                    overriddenUserId: pair.last
                ),
                SimulatedOverride(
                    id: ids.make(&random), start: tomorrow, end: tomorrow.addingTimeInterval(12 * 3600), userId: stand,
                    rotationId: pairRotation.id, overriddenUserId: pair.first
                ),
            ]
        }
    }

    /// A tiny hand-made account for unit tests. With `H` = `now` rounded down to the hour (UTC):
    ///
    /// Users: Alice Nguyen `PALICE1` (America/New_York), Bob Okafor `PBOB001` (Europe/Berlin),
    /// Chandra Iyer `PCHAND1` (Asia/Kolkata), Dana Schmidt `PDANA01` (UTC); team Platform `PTEAM01`.
    ///
    /// - "Primary" `PSCHED1` (UTC, so no daylight-saving change ever moves its handoffs), one layer `PLAYER1` of 24-hour turns,
    ///   Alice then Bob: Alice H−6h…H+18h, Bob H+18h…H+42h, Alice H+42h…, and so on both ways.
    ///   Override `POVER01`: Dana H+2h…H+4h. So the final schedule is Alice …H+2h, Dana H+2h…H+4h,
    ///   Alice H+4h…H+18h, Bob H+18h…H+42h.
    /// - "Secondary" `PSCHED2` (Asia/Kolkata), one layer `PLAYER2` of weekly turns, Chandra then
    ///   Bob: Chandra H−3d…H+4d, Bob H+4d…H+11d.
    /// - Policy "Platform" `PPOLCY1`: level 1 Primary, level 2 Secondary, level 3 Bob directly.
    ///
    /// So at `now`: Alice (level 1), Chandra (level 2), Bob (level 3, always).
    public static func small(now: Date = Date()) -> SimulatedAccount {
        let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        let h: TimeInterval = 3600
        let day: TimeInterval = 86_400
        let team = SimulatedTeam(id: SmallAccountIDs.team, name: "Platform", description: "Runs the platform")
        let users = [
            SimulatedUser(id: SmallAccountIDs.alice, name: "Alice Nguyen", email: "Alice.Nguyen@Example.com", timeZone: "America/New_York", role: "admin", teamIds: [team.id]),
            SimulatedUser(id: SmallAccountIDs.bob, name: "Bob Okafor", email: "bob.OKAFOR@example.com", timeZone: "Europe/Berlin", teamIds: [team.id]),
            SimulatedUser(id: SmallAccountIDs.chandra, name: "Chandra Iyer", email: "Chandra.Iyer@Example.COM", timeZone: "Asia/Kolkata", teamIds: [team.id]),
            SimulatedUser(id: SmallAccountIDs.dana, name: "Dana Schmidt", email: "dana.schmidt@example.com", timeZone: "UTC", teamIds: [team.id]),
        ]
        // 30 whole turns before H−6h, so Alice's turn is the one running at H.
        let primaryStart = hour.addingTimeInterval(-6 * h - 30 * day)
        let primary = SimulatedSchedule(
            id: SmallAccountIDs.primary, name: "Primary", timeZone: "UTC", description: "First responders",
            teamIds: [team.id],
            layers: [SimulatedLayer(
                id: "PLAYER1", name: "Layer 1", start: primaryStart, rotationVirtualStart: primaryStart,
                rotationTurnLengthSeconds: 86_400, userIds: [SmallAccountIDs.alice, SmallAccountIDs.bob]
            )],
            overrides: [SimulatedOverride(id: "POVER01", start: hour.addingTimeInterval(2 * h), end: hour.addingTimeInterval(4 * h), userId: SmallAccountIDs.dana)]
        )
        let secondaryStart = hour.addingTimeInterval(-3 * day)
        let secondary = SimulatedSchedule(
            id: SmallAccountIDs.secondary, name: "Secondary", timeZone: "Asia/Kolkata", description: "Backup",
            teamIds: [team.id],
            layers: [SimulatedLayer(
                id: "PLAYER2", name: "Layer 1", start: secondaryStart, rotationVirtualStart: secondaryStart,
                rotationTurnLengthSeconds: 7 * 86_400, userIds: [SmallAccountIDs.chandra, SmallAccountIDs.bob]
            )]
        )
        let policy = SimulatedEscalationPolicy(
            id: SmallAccountIDs.policy, name: "Platform", numLoops: 1, teamIds: [team.id],
            rules: [
                SimulatedEscalationRule(id: "PRULE01", escalationDelayInMinutes: 15, targets: [.init(type: .schedule, id: primary.id)]),
                SimulatedEscalationRule(id: "PRULE02", escalationDelayInMinutes: 30, targets: [.init(type: .schedule, id: secondary.id)]),
                SimulatedEscalationRule(id: "PRULE03", escalationDelayInMinutes: 30, targets: [.init(type: .user, id: SmallAccountIDs.bob)]),
            ]
        )
        return SimulatedAccount(
            timeZone: "America/New_York", users: users, teams: [team], schedules: [primary, secondary], escalationPolicies: [policy]
        )
    }
}

extension SimulatedAccount {
    /// `small(now:)` plus a shift-based schedule and a policy over both kinds, for tests of v3. With
    /// `H` = `now` rounded down to the hour (UTC), and handoffs on New York's wall clock (so near a
    /// daylight-saving change they move by an hour against H):
    ///
    /// User Emeka Adeyemi `PEMEKA1` (Africa/Lagos) joins the four.
    ///
    /// - "Shifts" `PSHIFT1` (America/New_York), shift-based:
    ///   - Rotation `PROT001`, event `PEVT001`: daily 24-hour shifts, rotating Alice, an empty slot,
    ///     Bob: Alice H−10h…H+14h, empty H+14h…H+38h, Bob H+38h…H+62h, and so on both ways.
    ///   - Rotation `PROT002`, event `PEVT002`: every day 8 hours, Chandra and Dana together:
    ///     H−1h…H+7h, H+23h…H+31h, ….
    ///   - Custom shift `PCUST01`: Emeka H+1h…H+3h, on top of the rotations.
    ///   - Override `PORV001`: on `PROT002`, Bob instead of Dana H+4h…H+6h (Chandra stays).
    ///   - Override `PORV002`: on `PCUST01`, Bob instead of Emeka H+2h…H+3h.
    /// - Policy "Shifts" `PPOLCY2`: level 1 Shifts and Secondary (`PSCHED2`), level 2 Dana directly.
    ///
    /// So at `now`: Alice, Chandra and Dana through Shifts (Chandra also through Secondary); nobody
    /// through Shifts H+14h…H+23h.
    public static func smallWithShifts(now: Date = Date()) -> SimulatedAccount {
        var account = small(now: now)
        let hour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        let h: TimeInterval = 3600
        let day: TimeInterval = 86_400
        account.users.append(SimulatedUser(
            id: SmallAccountIDs.emeka, name: "Emeka Adeyemi", email: "Emeka.Adeyemi@Example.com", timeZone: "Africa/Lagos",
            teamIds: [SmallAccountIDs.team]
        ))
        let shifts = SimulatedSchedule(
            id: SmallAccountIDs.shifts, name: "Shifts", timeZone: "America/New_York", description: "Shift-based on-call",
            teamIds: [SmallAccountIDs.team],
            overrides: [
                SimulatedOverride(
                    id: SmallAccountIDs.rotationOverride, start: hour.addingTimeInterval(4 * h), end: hour.addingTimeInterval(6 * h),
                    userId: SmallAccountIDs.bob, rotationId: SmallAccountIDs.pairRotation, overriddenUserId: SmallAccountIDs.dana
                ),
                SimulatedOverride(
                    id: SmallAccountIDs.customShiftOverride, start: hour.addingTimeInterval(2 * h), end: hour.addingTimeInterval(3 * h),
                    userId: SmallAccountIDs.bob, customShiftId: SmallAccountIDs.customShift, overriddenUserId: SmallAccountIDs.emeka
                ),
            ],
            kind: .shiftBased,
            rotations: [
                SimulatedRotation(id: SmallAccountIDs.dailyRotation, events: [SimulatedRotationEvent(
                    id: "PEVT001", name: "Daily", start: hour.addingTimeInterval(-10 * h - 9 * day), shiftSeconds: 86_400,
                    members: [SmallAccountIDs.alice, nil, SmallAccountIDs.bob]
                )]),
                SimulatedRotation(id: SmallAccountIDs.pairRotation, events: [SimulatedRotationEvent(
                    id: "PEVT002", name: "Pairs", start: hour.addingTimeInterval(-1 * h - 9 * day), shiftSeconds: 8 * 3600,
                    repeatSeconds: 86_400, assignment: .everyMember, members: [SmallAccountIDs.chandra, SmallAccountIDs.dana]
                )]),
            ],
            customShifts: [SimulatedCustomShift(
                id: SmallAccountIDs.customShift, start: hour.addingTimeInterval(1 * h), end: hour.addingTimeInterval(3 * h), userId: SmallAccountIDs.emeka
            )]
        )
        account.schedules.append(shifts)
        account.escalationPolicies.append(SimulatedEscalationPolicy(
            id: SmallAccountIDs.shiftsPolicy, name: "Shifts", numLoops: 0, teamIds: [SmallAccountIDs.team],
            rules: [
                SimulatedEscalationRule(id: "PRULE04", escalationDelayInMinutes: 15, targets: [
                    .init(type: .schedule, id: SmallAccountIDs.shifts), .init(type: .schedule, id: SmallAccountIDs.secondary),
                ]),
                SimulatedEscalationRule(id: "PRULE05", escalationDelayInMinutes: 30, targets: [.init(type: .user, id: SmallAccountIDs.dana)]),
            ]
        ))
        return account
    }
}

/// The ids in `SimulatedAccount.small(now:)` and `smallWithShifts(now:)`, for tests to name.
public enum SmallAccountIDs {
    public static let alice = "PALICE1"
    public static let bob = "PBOB001"
    public static let chandra = "PCHAND1"
    public static let dana = "PDANA01"
    public static let team = "PTEAM01"
    public static let primary = "PSCHED1"
    public static let secondary = "PSCHED2"
    public static let policy = "PPOLCY1"
    /// `smallWithShifts(now:)` only.
    public static let emeka = "PEMEKA1"
    public static let shifts = "PSHIFT1"
    public static let dailyRotation = "PROT001"
    public static let pairRotation = "PROT002"
    public static let customShift = "PCUST01"
    public static let rotationOverride = "PORV001"
    public static let customShiftOverride = "PORV002"
    public static let shiftsPolicy = "PPOLCY2"
}

/// Unique PagerDuty-looking ids: "P" and six of 0-9, A-Z.
struct IdentifierMaker {
    private var issued = Set<String>()
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

    mutating func make(_ random: inout SplitMix64) -> String {
        while true {
            var id = "P"
            for _ in 0..<6 {
                id.append(Self.alphabet[Int(random.next(below: UInt64(Self.alphabet.count)))])
            }
            if issued.insert(id).inserted { return id }
        }
    }
}

/// A small seeded generator (SplitMix64), so generated accounts are the same on every platform and
/// run; `SystemRandomNumberGenerator` cannot be seeded.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// Uniform enough in 0..<bound for test data (modulo bias is negligible for small bounds).
    mutating func next(below bound: UInt64) -> UInt64 {
        next() % max(bound, 1)
    }
}

private let firstNames = [
    "Alice", "Bob", "Chandra", "Dana", "Emeka", "Fatima", "Giulia", "Hiro", "Ines", "Jonas", "Kavya", "Liam", "Mei",
    "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tanvi", "Umar", "Valentina", "Wen", "Ximena", "Yusuf", "Zoe",
]

private let lastNames = [
    "Nguyen", "Okafor", "Iyer", "Schmidt", "Adeyemi", "Haddad", "Rossi", "Tanaka", "Moreau", "Becker", "Reddy",
    "Murphy", "Chen", "Karimi", "Lindqvist", "Sharma", "Dubois", "Garcia", "Johansson", "Mehta", "Farouk", "Costa",
    "Zhang", "Lopez", "Demir", "Williams",
]
