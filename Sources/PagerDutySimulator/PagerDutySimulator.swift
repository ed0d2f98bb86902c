import Foundation
import Synchronization

/// A stand-in for one PagerDuty account: the account itself, the faults in force, per-key rate
/// limits and request statistics. Thread-safe; serve it with `buildSimulatorApplication(_:)` or
/// `RunningSimulator.start(_:)`, and change it while it serves (tests move people around, inject
/// faults and read the statistics between requests).
public final class PagerDutySimulator: Sendable {
    /// The options it was made with; `faults` there is only the starting point (see `faults`).
    public let options: SimulatorOptions
    private let state: Mutex<State>

    private struct State {
        var index: AccountIndex
        var faults: SimulatorFaults
        var stats = SimulatorStats()
        var buckets: [String: RateBucket] = [:]
    }

    private struct RateBucket {
        var windowStart: ContinuousClock.Instant
        var count: Int
    }

    public init(account: SimulatedAccount, options: SimulatorOptions = .init()) {
        self.options = options
        self.state = Mutex(State(index: AccountIndex(account), faults: options.faults))
    }

    /// The account as it is now.
    public var account: SimulatedAccount {
        state.withLock { $0.index.account }
    }

    /// Changes the account in place; requests see either the old account or the new one.
    public func updateAccount(_ change: (inout SimulatedAccount) -> Void) {
        state.withLock { state in
            var account = state.index.account
            change(&account)
            state.index = AccountIndex(account)
        }
    }

    /// Replaces the whole account (what `PUT /_simulator/account` does).
    public func replaceAccount(_ account: SimulatedAccount) {
        let index = AccountIndex(account)
        state.withLock { $0.index = index }
    }

    /// The faults in force, with their counters (`failuresRemaining`, `revokeKeyAfterRequests`)
    /// as far as they have counted down.
    public var faults: SimulatorFaults {
        state.withLock { $0.faults }
    }

    /// Replaces the faults in force; counters start again from the values given.
    public func setFaults(_ faults: SimulatorFaults) {
        state.withLock { $0.faults = faults }
    }

    public var stats: SimulatorStats {
        state.withLock { $0.stats }
    }

    /// Zeroes the statistics (rate-limit windows are left as they are).
    public func resetStats() {
        state.withLock { $0.stats = SimulatorStats() }
    }

    /// Upgrades a layer-based schedule to shift-based in place, as PagerDuty's upgrade does: the same
    /// id, and the same people on call at every instant (`SimulatedSchedule.upgradedToShiftBased()`).
    /// From then on v2 answers 400 for it and v3 answers; escalation policies and `/oncalls` name it
    /// with `schedule_v3_reference`. Returns the upgraded schedule.
    @discardableResult
    public func upgradeSchedule(id: String) throws(ScheduleUpgradeError) -> SimulatedSchedule {
        try state.withLock { (state) throws(ScheduleUpgradeError) -> SimulatedSchedule in
            var account = state.index.account
            guard let position = account.schedules.firstIndex(where: { $0.id == id }) else { throw .noSuchSchedule(id) }
            guard account.schedules[position].kind == .layerBased else { throw .alreadyShiftBased(id) }
            let upgraded = account.schedules[position].upgradedToShiftBased()
            account.schedules[position] = upgraded
            state.index = AccountIndex(account)
            return upgraded
        }
    }

    /// "Now" by the simulator's clock.
    var now: Date { options.clock() }

    var index: AccountIndex {
        state.withLock { $0.index }
    }

    // MARK: Admission of one PagerDuty request

    /// What the gate decided for one request, in the order PagerDuty would: rate limit, then the
    /// key, then injected trouble.
    struct Admission: Sendable {
        enum Verdict: Sendable, Equatable {
            case proceed
            case rateLimited
            case unauthorized(String)
            case injectedStatus(Int)
            case truncated
            case malformed
        }

        var verdict: Verdict
        var rateLimit: (limit: Int, remaining: Int, resetSeconds: Int)
        var delay: Duration
        /// The body edits whose prefix matches, for a 200 answer.
        var bodyEdits: [BodyEdit] = []
    }

    /// Counts the request, charges its key's rate-limit window and decides how to answer.
    /// `credential` is the key from the Authorization header ("" when there is none).
    func admit(path: String, route: String, credential: String) -> Admission {
        let instant = ContinuousClock.now
        let window = Duration.milliseconds(Int64((max(options.rateLimitWindowSeconds, 0.001) * 1000).rounded()))
        let limit = options.rateLimitPerWindow
        let keys = options.apiKeys
        return state.withLock { state in
            state.stats.requests += 1
            state.stats.requestsByPath[route, default: 0] += 1

            var bucket = state.buckets[credential] ?? RateBucket(windowStart: instant, count: 0)
            if instant - bucket.windowStart >= window {
                bucket = RateBucket(windowStart: instant, count: 0)
            }
            let remainingWindow = window - (instant - bucket.windowStart)
            let resetSeconds = Int((Double(remainingWindow.components.seconds) + Double(remainingWindow.components.attoseconds) / 1e18).rounded(.up))
            let delay = Duration.milliseconds(max(state.faults.latencyMilliseconds, 0))
                + .seconds(Self.longestPrefixMatch(path, in: state.faults.stallPaths).map { max($0, 0) } ?? 0)
            let edits = state.faults.bodyEdits.filter { path.hasPrefix($0.pathPrefix) && !$0.find.isEmpty }

            if bucket.count >= limit {
                state.buckets[credential] = bucket
                state.stats.rateLimited += 1
                return Admission(verdict: .rateLimited, rateLimit: (limit, 0, resetSeconds), delay: delay)
            }
            bucket.count += 1
            state.buckets[credential] = bucket
            let rateLimit = (limit, max(limit - bucket.count, 0), resetSeconds)

            var verdict = Admission.Verdict.proceed
            if let countdown = state.faults.revokeKeyAfterRequests {
                if countdown <= 0 {
                    verdict = .unauthorized("The API key has been revoked.")
                } else {
                    state.faults.revokeKeyAfterRequests = countdown - 1
                }
            }
            if verdict == .proceed, !keys.contains(credential) {
                verdict = .unauthorized(credential.isEmpty ? "No API key was given." : "The API key is not valid.")
            }
            if verdict == .proceed, let injected = Self.injectedFault(for: path, faults: state.faults) {
                if let remaining = state.faults.failuresRemaining {
                    if remaining > 0 {
                        state.faults.failuresRemaining = remaining - 1
                        verdict = injected
                    }
                } else {
                    verdict = injected
                }
            }
            return Admission(verdict: verdict, rateLimit: rateLimit, delay: delay, bodyEdits: edits)
        }
    }

    /// Records how a PagerDuty request was answered.
    func recordAnswer(status: Int, injected: Bool) {
        if injected || status >= 400 {
            state.withLock { $0.stats.failures += 1 }
        }
    }

    private static func injectedFault(for path: String, faults: SimulatorFaults) -> Admission.Verdict? {
        if let status = longestPrefixMatch(path, in: faults.failingPaths) {
            return .injectedStatus(status)
        }
        if faults.truncatedPaths.contains(where: { path.hasPrefix($0) }) {
            return .truncated
        }
        if faults.malformedPaths.contains(where: { path.hasPrefix($0) }) {
            return .malformed
        }
        return nil
    }

    private static func longestPrefixMatch(_ path: String, in table: [String: Int]) -> Int? {
        table.filter { path.hasPrefix($0.key) }.max { $0.key.count < $1.key.count }?.value
    }
}

/// Why `PagerDutySimulator.upgradeSchedule(id:)` could not upgrade a schedule.
public enum ScheduleUpgradeError: Error, Equatable, CustomStringConvertible {
    case noSuchSchedule(String)
    case alreadyShiftBased(String)

    public var description: String {
        switch self {
        case .noSuchSchedule(let id): return "Schedule \(id) not found."
        case .alreadyShiftBased(let id): return "Schedule \(id) is already shift-based."
        }
    }
}

/// The account with the look-ups requests need, built once per change so requests never search.
/// Lists are in PagerDuty's stable order, by id.
final class AccountIndex: Sendable {
    let account: SimulatedAccount
    let users: [SimulatedUser]
    /// All schedules, then each kind alone (`GET /schedules` lists only layer-based ones,
    /// `GET /v3/schedules` only shift-based ones).
    let schedules: [SimulatedSchedule]
    let layerBasedSchedules: [SimulatedSchedule]
    let shiftBasedSchedules: [SimulatedSchedule]
    let escalationPolicies: [SimulatedEscalationPolicy]
    let teams: [SimulatedTeam]
    let usersById: [String: SimulatedUser]
    let schedulesById: [String: SimulatedSchedule]
    let teamsById: [String: SimulatedTeam]
    let policiesById: [String: SimulatedEscalationPolicy]
    /// Schedule id → ids of the policies that target it, sorted.
    let policyIdsBySchedule: [String: [String]]
    /// `/oncalls` answers by query, so that paging through one costs one computation. It lives and
    /// dies with this version of the account.
    let onCallCache = Mutex<[SimulatedOnCallQuery: [SimulatedOnCall]]>([:])
    static let onCallCacheSize = 32

    init(_ account: SimulatedAccount) {
        self.account = account
        users = account.users.sorted { $0.id < $1.id }
        schedules = account.schedules.sorted { $0.id < $1.id }
        layerBasedSchedules = schedules.filter { $0.kind == .layerBased }
        shiftBasedSchedules = schedules.filter { $0.kind == .shiftBased }
        escalationPolicies = account.escalationPolicies.sorted { $0.id < $1.id }
        teams = account.teams.sorted { $0.id < $1.id }
        usersById = Dictionary(account.users.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        schedulesById = Dictionary(account.schedules.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        teamsById = Dictionary(account.teams.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        policiesById = Dictionary(account.escalationPolicies.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var policyIds: [String: Set<String>] = [:]
        for policy in account.escalationPolicies {
            for rule in policy.rules {
                for target in rule.targets where target.type == .schedule {
                    policyIds[target.id, default: []].insert(policy.id)
                }
            }
        }
        policyIdsBySchedule = policyIds.mapValues { $0.sorted() }
    }
}
