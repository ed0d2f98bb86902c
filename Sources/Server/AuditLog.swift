import Foundation
import Logging
import OnCallStore
import ServiceLifecycle
import Synchronization

/// The audit log: every decision goes into the `decision` table, by one of two paths.
///
/// **Approvals are durable before their reply** (`appendDurably`): the caller waits until its
/// records are committed to the cache (SQLite's WAL synced, PostgreSQL's commit), or, when the
/// cache cannot be written, appended and `fsync`ed to the spool (`AuditSpool`). With neither, the
/// call answers false and the caller approves nothing. Callers waiting at the same time share one
/// transaction (group commit, `GroupCommit`): the first becomes the leader and writes what has
/// queued, the others wait for its result, and whoever queued meanwhile goes in the next
/// transaction. The leader is also the only one that moves the spool into the cache, in the same
/// transaction as the new records, so the spool's records keep their order and come before newer
/// ones.
///
/// **Refusals are queued** (`append`): nothing was granted, so they are written by the writer
/// service every `flushInterval`; a crash can lose the last of them. When the cache has been
/// unwritable long enough to fill the queue, `/readyz` answers 503 and nothing is approved until
/// it drains.
public final class AuditLog: Sendable {
    private let store: any CacheStore
    private let logger: Logger
    private let pending = Mutex<[DecisionRecord]>([])
    private let dropped = Mutex(0)
    private let flushing = Mutex(false)
    let capacity: Int
    let flushInterval: TimeInterval
    /// The spool, nil when there is none (a PostgreSQL cache without `--audit-spool`) or it could
    /// not be opened (`spoolError` says why).
    public let spool: AuditSpool?
    /// How long a durable write to the cache may take before its records go to the spool instead.
    let writeTimeout: TimeInterval

    /// The durable path's batches (see `GroupCommit`).
    private let batches: GroupCommit<DurableDecision>

    private struct Counts {
        /// Transactions committed to the cache, and spool appends (for the benchmarks and /metrics).
        var commits = 0
        var spoolAppends = 0
    }

    private struct Health {
        /// Why the cache's audit table could not be written, while that lasts.
        var storeError: String?
        var spoolError: String?
    }

    private let counts = Mutex(Counts())
    private let health: Mutex<Health>

    public init(store: any CacheStore, logger: Logger, capacity: Int = 100_000, flushInterval: TimeInterval = 0.2,
                spool: AuditSpool? = nil, spoolError: String? = nil, writeTimeout: TimeInterval = 2) {
        self.store = store
        self.logger = logger
        self.capacity = capacity
        self.flushInterval = flushInterval
        self.spool = spool
        self.writeTimeout = writeTimeout
        health = Mutex(Health(storeError: nil, spoolError: spoolError))
        let box = WeakBox()
        batches = GroupCommit { records, retry in await box.log?.write(records, retry: retry) ?? false }
        box.log = self
    }

    // MARK: Health

    /// Why the cache cannot take audit records now (nil: it can).
    public var storeError: String? { health.withLock { $0.storeError } }

    /// Why there is no usable spool (nil: there is one, or none was configured).
    public var spoolError: String? { health.withLock { $0.spoolError } }

    /// Whether an approval's record can be made durable now: the cache takes writes, or the spool
    /// does. False: nothing is approved and `/readyz` answers 503.
    public var canApprove: Bool {
        health.withLock { $0.storeError == nil || (spool != nil && $0.spoolError == nil) }
    }

    /// Records waiting in the spool for the cache.
    public var spooledCount: Int { spool?.count ?? 0 }

    /// Transactions the durable path has committed to the cache, and batches it appended to the spool.
    public var durableWrites: (commits: Int, spoolAppends: Int) { counts.withLock { ($0.commits, $0.spoolAppends) } }

    /// Checks once that the cache takes audit records (at start: a read-only file, a missing
    /// privilege); while it does not, approvals go to the spool or, without one, stop.
    public func checkWritable() async {
        do {
            try await store.checkAuditWritable(deadline: nil)
        } catch {
            markStoreFailing("\(error)")
        }
    }

    private func markStoreFailing(_ reason: String) {
        let first = health.withLock { health -> Bool in
            defer { health.storeError = reason }
            return health.storeError == nil
        }
        guard first else { return }
        // Once per outage, not once per batch.
        if let spool, spoolError == nil {
            logger.error("cannot write audit records to the cache; approvals are spooled until it can be written", metadata: [
                "error": "\(reason)", "spool": "\(spool.path)",
            ])
        } else {
            logger.error("cannot write audit records to the cache and there is no spool; approving nothing until it can be written", metadata: [
                "error": "\(reason)", "spool_error": "\(spoolError ?? "none configured (--audit-spool)")",
            ])
        }
    }

    private func markStoreWritable(moved: Int) {
        let was = health.withLock { health -> String? in
            defer { health.storeError = nil }
            return health.storeError
        }
        if was != nil || moved > 0 {
            logger.notice("audit records are written to the cache again", metadata: ["moved_from_spool": "\(moved)"])
        }
    }

    // MARK: Durable path (approvals)

    /// Makes `records` durable (the cache, else the spool), sharing the transaction with whoever
    /// waits at the same time. True when they are; false when neither could take them: the caller
    /// must then approve nothing they describe.
    public func appendDurably(_ records: [DecisionRecord]) async -> Bool {
        await batches.append(records.map { DurableDecision(record: $0) })
    }

    /// Asks for the cache to be tried again (and the spool moved into it) by the next leader, and
    /// becomes the leader if there is none. Returns when that attempt is done.
    @discardableResult
    public func retryStore() async -> Bool {
        await batches.retry()
    }

    /// One batch: into the cache (with the spool's records first) unless the cache is failing and
    /// the spool can take it; else into the spool.
    fileprivate func write(_ records: [DurableDecision], retry: Bool) async -> Bool {
        let usableSpool = spoolError == nil ? spool : nil
        let failing = storeError != nil
        if !failing || retry || usableSpool == nil {
            do {
                // A retry waits only briefly for another process's lock: approvals queue behind it.
                let moved = try await commit(records, lockDeadline: retry && failing ? Date().addingTimeInterval(0.05) : nil)
                if !records.isEmpty || moved > 0 { counts.withLock { $0.commits += 1 } }
                markStoreWritable(moved: moved)
                return true
            } catch {
                markStoreFailing("\(error)")
            }
        }
        guard let usableSpool else { return false }
        if records.isEmpty { return true }
        do {
            try usableSpool.append(records)
            counts.withLock { $0.spoolAppends += 1 }
            return true
        } catch {
            health.withLock { $0.spoolError = error.description }
            logger.error("cannot write the audit spool; approving nothing while the cache cannot be written either", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Commits `records` to the cache, after the spool's, in one transaction; empties the spool when
    /// that committed. Returns how many records came from the spool. Gives up after `writeTimeout`
    /// (a write still running then may commit later: its records also go to the spool, and their
    /// keys keep them in the table once).
    /// `lockDeadline` bounds the wait for another process's write lock (SQLite; nil: the store's
    /// default for audit writes).
    private func commit(_ records: [DurableDecision], lockDeadline: Date?) async throws -> Int {
        let deadline = Date().addingTimeInterval(writeTimeout)
        let store = store
        guard let spool, spool.count > 0 else {
            if records.isEmpty { try await withTimeout(deadline) { try await store.checkAuditWritable(deadline: lockDeadline) } } else {
                try await withTimeout(deadline) { try await store.appendDurableDecisions(records, deadline: lockDeadline) }
            }
            return 0
        }
        let (moved, skipped) = try await spool.drain { spooled in
            try await withTimeout(deadline) { try await store.appendDurableDecisions(spooled + records, deadline: lockDeadline) }
        }
        if skipped > 0 {
            logger.error("audit spool lines that could not be read were skipped", metadata: ["spool": "\(spool.path)", "lines": "\(skipped)"])
        }
        if moved == 0, !records.isEmpty {
            try await withTimeout(deadline) { try await store.appendDurableDecisions(records, deadline: lockDeadline) }
        }
        return moved
    }

    // MARK: Queued path (refusals)

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
            // The durable path says so once per outage; this one retries quietly.
            markStoreFailing("\(error)")
            return 0
        }
    }

    /// The store's housekeeping, off the request path (SQLite: a WAL checkpoint).
    func maintainStore() async {
        await store.maintain()
    }

    /// At shutdown: what is still queued goes the durable way (the cache, else the spool), so that
    /// a cache that cannot be written loses no refusal either when the spool can take them.
    func spoolQueued() async -> Int {
        let batch = pending.withLock { Array($0) }
        guard !batch.isEmpty, await appendDurably(batch) else { return 0 }
        pending.withLock { $0.removeFirst(batch.count) }
        return batch.count
    }
}

/// The audit log as its batches' writer sees it: weakly, so that the two do not keep each other.
private final class WeakBox: @unchecked Sendable {
    // Set once, in AuditLog's initialiser, before any batch can be written.
    weak var log: AuditLog?
}

/// Runs `work` until `deadline`; past it, throws while `work` goes on unobserved (a blocking write
/// cannot be called back).
func withTimeout<T: Sendable>(_ deadline: Date, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { continuation in
        once.set(continuation)
        Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            once.resume(with: result)
        }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, deadline.timeIntervalSinceNow) * 1e9))
            once.resume(with: .failure(AuditTimeout()))
        }
    }
}

/// A continuation resumed by whichever comes first.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let slot = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        slot.withLock { $0 = continuation }
    }

    func resume(with result: Result<T, any Error>) {
        slot.withLock { $0.take() }?.resume(with: result)
    }
}

struct AuditTimeout: Error, CustomStringConvertible {
    var description: String { "the cache did not commit the audit records in time" }
}

/// Flushes the audit queue every `flushInterval`; while the cache cannot be written (or the spool
/// holds records), tries it again at most every `retryInterval`, moving the spool into it once it
/// can be. On a graceful shutdown, flushes until the queue is empty or `shutdownGrace` has passed
/// (the store may be down at that moment: records are written as soon as it answers again); what
/// is left then goes to the spool if there is one, and is otherwise logged with its count.
struct AuditLogWriter: Service {
    let log: AuditLog
    let logger: Logger
    var shutdownGrace: TimeInterval = 10
    var retryInterval: TimeInterval = 1
    /// How often the store's housekeeping runs (SQLite: a passive WAL checkpoint).
    var maintenanceInterval: TimeInterval = 0.2

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var lastRetry = Date.distantPast
            var lastMaintenance = Date()
            while !Task.isCancelled {
                try await Task.sleep(nanoseconds: UInt64(log.flushInterval * 1e9))
                if log.storeError != nil || log.spooledCount > 0, Date().timeIntervalSince(lastRetry) >= retryInterval {
                    lastRetry = Date()
                    await log.retryStore()
                }
                if log.storeError == nil { await log.flush() }
                if Date().timeIntervalSince(lastMaintenance) >= maintenanceInterval {
                    lastMaintenance = Date()
                    await log.maintainStore()
                }
            }
        }
        let deadline = Date().addingTimeInterval(shutdownGrace)
        while log.pendingCount > 0 {
            await log.flush()
            guard log.pendingCount > 0 else { break }
            // A cache known to be failing is not waited for when the spool can take the records.
            guard Date() < deadline, log.storeError == nil || !log.canApprove || log.spool == nil else {
                let spooled = await log.spoolQueued()
                if log.pendingCount > 0 {
                    logger.error("audit records not written at shutdown: the store did not answer", metadata: ["records": "\(log.pendingCount)"])
                } else {
                    logger.notice("audit records spooled at shutdown: the store did not answer", metadata: ["records": "\(spooled)"])
                }
                break
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
    }
}
