import Foundation
import Logging
import NIOPosix
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
    private let database: OnCallDatabase
    private let logger: Logger
    private let pending = Mutex<[DecisionRecord]>([])
    private let dropped = Mutex(0)
    private let flushing = Mutex(())
    let capacity: Int
    let flushInterval: TimeInterval

    public init(database: OnCallDatabase, logger: Logger, capacity: Int = 100_000, flushInterval: TimeInterval = 0.2) {
        self.database = database
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
    /// tried again at the next flush. One flush at a time (the writer's, or the last one at shutdown).
    @discardableResult
    public func flush() -> Int {
        flushing.withLock { _ in
            let batch = pending.withLock { Array($0) }
            guard !batch.isEmpty else { return 0 }
            do {
                try database.appendDecisions(batch)
                // Records appended meanwhile are behind the batch.
                pending.withLock { $0.removeFirst(batch.count) }
                return batch.count
            } catch {
                logger.error("cannot write audit records; will retry", metadata: ["records": "\(batch.count)", "error": "\(error)"])
                return 0
            }
        }
    }
}

/// Flushes the audit queue every `flushInterval`. A flush is blocking SQLite work (a commit with
/// `synchronous=FULL` waits for the disk; another process's write lock, for the busy timeout), so it
/// runs on SwiftNIO's blocking-I/O thread pool, never on the threads that answer requests (under
/// `serve`, SwiftNIO's event loops, as few as the cores).
struct AuditLogWriter: Service {
    let log: AuditLog

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: UInt64(log.flushInterval * 1e9))
                await flush()
            }
        }
        await flush()
    }

    private func flush() async {
        let log = log
        _ = try? await NIOThreadPool.singleton.runIfActive { log.flush() }
    }
}
