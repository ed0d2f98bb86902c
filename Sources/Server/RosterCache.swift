import Approval
import Foundation
import Logging
import OnCallStore
import ServiceLifecycle
import Synchronization

/// The current snapshot, indexed and held in memory so that a decision never touches the store. A
/// background service swaps in a newer snapshot whole when the store says one may be current (a
/// notification, or at the latest every `reloadInterval`). While the store cannot be read the held
/// snapshot keeps serving, until it is older than the staleness limit.
public final class RosterCache: Sendable {
    private let store: any CacheStore
    private let policy: ApprovalPolicy
    private let logger: Logger
    private let current = Mutex<OnCallIndex?>(nil)
    private let readError = Mutex<String?>(nil)

    public init(store: any CacheStore, policy: ApprovalPolicy, logger: Logger) {
        self.store = store
        self.policy = policy
        self.logger = logger
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
        let id = try await store.currentSnapshotId()
        guard id != index?.snapshot.id else { return false }
        guard let id, let contents = try await store.snapshot(id: id) else {
            current.withLock { $0 = nil }
            return true
        }
        let next = OnCallIndex(contents, policy: policy)
        current.withLock { $0 = next }
        logger.info("loaded snapshot", metadata: [
            "snapshot": "\(id)", "users": "\(contents.users.count)", "schedules": "\(contents.schedules.count)",
            "allowed_schedules": "\(next.allowedScheduleIds.count)",
        ])
        if !next.unmatchedAllowList.isEmpty {
            logger.warning("AUTO_APPROVAL_PAGERDUTY_SCHEDULES names schedules the snapshot does not have", metadata: ["entries": "\(next.unmatchedAllowList)"])
        }
        return true
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
