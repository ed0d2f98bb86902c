import Foundation
import Logging
import NIOPosix
import OnCallStore
import ServiceLifecycle
import Synchronization

/// Writes decisions to the `decision` table off the request path: requests append to an in-memory
/// queue; a service flushes it in one transaction every `flushInterval`, and once more on shutdown.
public final class AuditLog: Sendable {
    private let database: OnCallDatabase
    private let logger: Logger
    private let pending = Mutex<[DecisionRecord]>([])
    private let dropped = Mutex(0)
    let capacity: Int
    let flushInterval: TimeInterval

    public init(database: OnCallDatabase, logger: Logger, capacity: Int = 100_000, flushInterval: TimeInterval = 0.2) {
        self.database = database
        self.logger = logger
        self.capacity = capacity
        self.flushInterval = flushInterval
    }

    /// Queues records; never blocks. Past `capacity` (the database unwritable for a long time) a
    /// record is dropped and counted, rather than stalling decisions.
    func append(_ records: [DecisionRecord]) -> Int {
        let overflow = pending.withLock { queue -> Int in
            let room = max(0, capacity - queue.count)
            queue.append(contentsOf: records.prefix(room))
            return records.count - min(room, records.count)
        }
        if overflow > 0 { dropped.withLock { $0 += overflow } }
        return overflow
    }

    public var droppedCount: Int { dropped.withLock { $0 } }

    /// Writes what is queued. On failure the records go back to the front of the queue.
    @discardableResult
    public func flush() -> Int {
        let batch = pending.withLock { queue -> [DecisionRecord] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        guard !batch.isEmpty else { return 0 }
        do {
            try database.appendDecisions(batch)
            return batch.count
        } catch {
            logger.error("cannot write audit records; will retry", metadata: ["records": "\(batch.count)", "error": "\(error)"])
            pending.withLock { $0.insert(contentsOf: batch, at: 0) }
            return 0
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
