import Foundation
import Logging
import OnCallStore
import ServiceLifecycle
import Synchronization

/// Writes decisions to the `decision` table off the request path: requests append to an in-memory
/// queue; a service flushes it in one transaction every `flushInterval`, and once more on shutdown.
///
/// No approval without its audit record: a reply may approve only after its records are queued. When
/// the store has been unwritable long enough to fill the queue, `append` takes nothing, the webhook
/// approves nothing (`audit_unavailable`) and `/readyz` answers 503, until a flush drains it.
public final class AuditLog: Sendable {
    private let store: any CacheStore
    private let logger: Logger
    private let pending = Mutex<[DecisionRecord]>([])
    private let dropped = Mutex(0)
    private let flushing = Mutex(false)
    let capacity: Int
    let flushInterval: TimeInterval

    public init(store: any CacheStore, logger: Logger, capacity: Int = 100_000, flushInterval: TimeInterval = 0.2) {
        self.store = store
        self.logger = logger
        self.capacity = capacity
        self.flushInterval = flushInterval
    }

    /// Queues all of `records`, or none when they do not all fit; then the caller must not approve
    /// anything they describe. Never blocks.
    func append(_ records: [DecisionRecord]) -> Bool {
        pending.withLock { queue -> Bool in
            guard queue.count + records.count <= capacity else { return false }
            queue.append(contentsOf: records)
            return true
        }
    }

    /// Counts records of replies sent without them (refusals only) because the queue was full.
    func noteDropped(_ count: Int) {
        dropped.withLock { $0 += count }
    }

    /// True when the queue has no room left: approvals stop until a flush drains it.
    public var isFull: Bool { pending.withLock { $0.count >= capacity } }

    /// Records waiting to be written.
    public var pendingCount: Int { pending.withLock { $0.count } }

    /// Records that found the queue full (refusals, since an approval is never sent without its record).
    public var droppedCount: Int { dropped.withLock { $0 } }

    /// Writes what is queued. The records stay in the queue until they are written, so that they
    /// count against its capacity while a write waits for the store; on failure they are simply
    /// tried again at the next flush. One flush at a time: a second one meanwhile does nothing.
    @discardableResult
    public func flush() async -> Int {
        guard flushing.withLock({ busy in
            defer { busy = true }
            return !busy
        }) else { return 0 }
        defer { flushing.withLock { $0 = false } }
        let batch = pending.withLock { Array($0) }
        guard !batch.isEmpty else { return 0 }
        do {
            try await store.appendDecisions(batch)
            // Records appended meanwhile are behind the batch.
            pending.withLock { $0.removeFirst(batch.count) }
            return batch.count
        } catch {
            logger.error("cannot write audit records; will retry", metadata: ["records": "\(batch.count)", "error": "\(error)"])
            return 0
        }
    }
}

/// Flushes the audit queue every `flushInterval`, and on a graceful shutdown until it is empty or
/// `shutdownGrace` has passed (the store may be down at that moment: records are written as soon as
/// it answers again, and what is left after the grace period is logged, with its count).
struct AuditLogWriter: Service {
    let log: AuditLog
    let logger: Logger
    var shutdownGrace: TimeInterval = 10

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: UInt64(log.flushInterval * 1e9))
                await log.flush()
            }
        }
        let deadline = Date().addingTimeInterval(shutdownGrace)
        while log.pendingCount > 0 {
            await log.flush()
            guard log.pendingCount > 0 else { break }
            guard Date() < deadline else {
                logger.error("audit records not written at shutdown: the store did not answer", metadata: ["records": "\(log.pendingCount)"])
                break
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
    }
}
