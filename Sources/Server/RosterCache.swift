import Approval
import Foundation
import Logging
import OnCallStore
import ServiceLifecycle
import UnixSignals
import Synchronization

/// The current snapshot, indexed and held in memory so that a decision never touches the store. A
/// background service swaps in a newer snapshot whole when the store says one may be current (a
/// notification, or at the latest every `reloadInterval`). While the store cannot be read the held
/// snapshot keeps serving, until it is older than the staleness limit.
public final class RosterCache: Sendable {
    private let store: any CacheStore
    private let logger: Logger
    private let current = Mutex<OnCallIndex?>(nil)
    /// The snapshot held, so that new rules (SIGHUP) are applied to it without reading the store.
    private let contents = Mutex<SnapshotContents?>(nil)
    private let ruleSet: Mutex<RuleSet>
    /// Held while a new index is built and installed, so that a snapshot swap and a rules swap
    /// (SIGHUP) cannot interleave and leave an index of the old rules or the old snapshot in place.
    /// Decisions never take it: they read `current`.
    private let installing = Mutex(())
    private let readError = Mutex<String?>(nil)

    /// - Parameter rules: a rules file's rules; nil for the AUTO_APPROVAL_* variables as one rule.
    public init(store: any CacheStore, policy: ApprovalPolicy, rules: RuleSet? = nil, logger: Logger) {
        self.store = store
        ruleSet = Mutex(rules ?? RuleSet(policy: policy))
        self.logger = logger
    }

    /// The rules decisions follow now.
    public var rules: RuleSet { ruleSet.withLock { $0 } }

    /// Swaps in new rules whole and re-indexes the held snapshot with them: the next decision uses
    /// the new rules, never a mix.
    public func replaceRules(_ rules: RuleSet) {
        if let next = install(rules: rules) { warnUnmatched(next) }
    }

    /// Installs new contents and/or new rules and indexes what is then held with what is then in
    /// force; nil contents with `clearing` drops the snapshot.
    private func install(contents newContents: SnapshotContents? = nil, clearing: Bool = false, rules newRules: RuleSet? = nil) -> OnCallIndex? {
        installing.withLock { _ in
            if let newRules { ruleSet.withLock { $0 = newRules } }
            if let newContents { contents.withLock { $0 = newContents } }
            if clearing { contents.withLock { $0 = nil } }
            guard let held = contents.withLock({ $0 }) else {
                current.withLock { $0 = nil }
                return nil
            }
            let next = OnCallIndex(held, rules: rules)
            current.withLock { $0 = next }
            return next
        }
    }

    public var index: OnCallIndex? { current.withLock { $0 } }

    /// Why the last look at the store failed, while it keeps failing (for `/readyz`).
    public var storeError: String? { readError.withLock { $0 } }

    /// Loads the current snapshot if it is not the one held. Returns true when it swapped; on a
    /// failure to read, keeps the held snapshot, remembers why and throws.
    @discardableResult
    public func reload() async throws -> Bool {
        do {
            let swapped = try await swapIfNewer()
            readError.withLock { $0 = nil }
            return swapped
        } catch {
            readError.withLock { $0 = "\(error)" }
            throw error
        }
    }

    private func swapIfNewer() async throws -> Bool {
        // The id alone is not enough: a cache file replaced by a new one (a new sync into a fresh
        // file) numbers its snapshots from 1 again. The current snapshot's times tell them apart.
        let current = try await store.currentSnapshotInfo()
        let id = current?.id
        if let held = index?.snapshot, let current, current.id == held.id, current.startedAt == held.startedAt,
           current.finishedAt == held.finishedAt {
            return false
        }
        if current == nil, index == nil { return false }
        guard let id, let contents = try await store.snapshot(id: id) else {
            _ = install(clearing: true)
            return true
        }
        guard let next = install(contents: contents) else { return true }
        logger.info("loaded snapshot", metadata: [
            "snapshot": "\(id)", "users": "\(contents.users.count)", "schedules": "\(contents.schedules.count)",
            "allowed_schedules": "\(next.allowedScheduleIds.count)",
        ])
        warnUnmatched(next)
        return true
    }

    private func warnUnmatched(_ index: OnCallIndex) {
        guard !index.unmatchedAllowList.isEmpty else { return }
        if let file = index.rules.source {
            logger.warning("the rules name schedules the snapshot does not have", metadata: [
                "file": "\(file)",
                "entries": "\(index.unmatchedRuleSchedules.map { "\($0.location.map { "\(file):\($0)" } ?? file) \($0.rule): \($0.entry)" })",
            ])
        } else {
            logger.warning("AUTO_APPROVAL_PAGERDUTY_SCHEDULES names schedules the snapshot does not have", metadata: ["entries": "\(index.unmatchedAllowList)"])
        }
    }

    /// The index to decide with, or why there is none (fail closed).
    public func state(now: Date, maxStaleness: TimeInterval) -> RosterState {
        guard let index else { return .unavailable(.noSnapshot) }
        let age = now.timeIntervalSince(index.snapshot.finishedAt)
        if age > maxStaleness { return .unavailable(.stale(age: age, limit: maxStaleness)) }
        return .ready(index)
    }
}

/// Follows the store's current snapshot while the server runs: reloads whenever the store says a new
/// one may be current (a notification), and at the latest every `interval`. The store does its own
/// blocking work off the threads that answer requests.
struct RosterReloader: Service {
    let cache: RosterCache
    let store: any CacheStore
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await cache.reload()
                    if failing { logger.notice("the cache can be read again") }
                    failing = false
                } catch is CancellationError {
                    // Shutting down (a server that could not start, or SIGTERM): nothing to report.
                    return
                } catch {
                    // Logged once per outage, not once a second.
                    if !failing { logger.error("cannot read the cache; keeping the snapshot held", metadata: ["error": "\(error)"]) }
                    failing = true
                }
                await store.waitForChange(timeout: interval)
            }
        }
    }
}

/// Reads the rules file again on SIGHUP. A file that cannot be used is logged with its
/// `FILE:LINE:COLUMN` problems and the rules in use stay; a good one replaces them whole.
struct RulesReloader: Service {
    let cache: RosterCache
    let policy: ApprovalPolicy
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        try? await cancelWhenGracefulShutdown {
            for await _ in signals {
                reload()
            }
        }
    }

    func reload() {
        guard let file = cache.rules.source else {
            logger.notice("SIGHUP: no rules file to read again (the AUTO_APPROVAL_* variables are read at start only)")
            return
        }
        do {
            let rules = try RulesFile.load(path: file, defaults: policy)
            cache.replaceRules(rules)
            logger.notice("rules reloaded", metadata: ["file": "\(file)", "rules": "\(rules.rules.count)"])
        } catch {
            logger.error("rules file invalid; keeping the rules in use", metadata: [
                "file": "\(file)", "rules_in_use": "\(cache.rules.rules.count)", "problems": "\(error.description)",
            ])
        }
    }
}
