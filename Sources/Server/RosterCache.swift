import Approval
import Foundation
import Logging
import NIOPosix
import OnCallStore
import ServiceLifecycle
import Synchronization

/// The current snapshot, indexed and held in memory so that a decision never touches SQLite. A
/// background service looks for a newer snapshot every `reloadInterval` and swaps it in whole.
public final class RosterCache: Sendable {
    private let database: OnCallDatabase
    private let policy: ApprovalPolicy
    private let logger: Logger
    private let current = Mutex<OnCallIndex?>(nil)

    public init(database: OnCallDatabase, policy: ApprovalPolicy, logger: Logger) {
        self.database = database
        self.policy = policy
        self.logger = logger
    }

    public var index: OnCallIndex? { current.withLock { $0 } }

    /// Loads the current snapshot if it is not the one held. Returns true when it swapped.
    @discardableResult
    public func reload() throws -> Bool {
        let id = try database.currentSnapshotId()
        guard id != index?.snapshot.id else { return false }
        guard let id, let contents = try database.snapshot(id: id) else {
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

/// Polls for new snapshots while the server runs. Reading one (~90 ms for 10,000 users) is blocking
/// SQLite work, so it runs on SwiftNIO's blocking-I/O thread pool, off the threads that answer requests.
struct RosterReloader: Service {
    let cache: RosterCache
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let cache = cache
                    _ = try await NIOThreadPool.singleton.runIfActive { try cache.reload() }
                } catch {
                    logger.error("cannot read the cache; keeping the snapshot held", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            }
        }
    }
}
