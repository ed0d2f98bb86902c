import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Wakes `waitForChange` callers when a sync commits a snapshot, through PostgreSQL's
/// LISTEN/NOTIFY: `writeSnapshot` sends `NOTIFY shiftgate_snapshot, '<id>'` inside its transaction,
/// which the server delivers at commit to every session listening.
///
/// One dedicated connection listens, opened on the first wait (the sync and the one-shot commands
/// never wait, so they never open it). Notifications are hints, never the truth: the caller reads
/// `currentSnapshotId` when woken or when its timeout passes, so a lost notification costs at most
/// one timeout. When the connection cannot be opened or is lost, waits simply run to their timeout
/// (the caller then polls as it would without notifications) and the listener tries again after
/// `retryDelay`. A change noticed while nobody waits, and every (re)start of listening (a change
/// may have been missed meanwhile), makes the next wait return at once: a spurious wake costs one
/// cheap read, a missed one a whole timeout.
final class SnapshotListener: Sendable {
    static let channel = "shiftgate_snapshot"

    private struct State {
        var task: Task<Void, Never>?
        var connection: PostgresConnection?
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var pending = false
        var closed = false
    }

    private let state = Mutex(State())
    private let connect: @Sendable () async throws -> PostgresConnection
    /// The driver's error in an operator's words, for the log.
    private let describe: @Sendable (any Error) -> any Error
    private let retryDelay: Duration
    private let logger: Logger

    init(
        retryDelay: Duration = .seconds(5), logger: Logger, describe: @escaping @Sendable (any Error) -> any Error,
        connect: @escaping @Sendable () async throws -> PostgresConnection
    ) {
        self.connect = connect
        self.describe = describe
        self.retryDelay = retryDelay
        self.logger = logger
    }

    /// Returns on a notification (or a pending one), or after `timeout`.
    func wait(timeout: TimeInterval) async {
        let consumedPending = state.withLock { state -> Bool in
            if state.task == nil, !state.closed {
                state.task = Task { [self] in await listen() }
            }
            defer { state.pending = false }
            return state.pending
        }
        if consumedPending { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForNotification() }
            group.addTask { try? await Task.sleep(for: .seconds(max(0, timeout))) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Stops listening and wakes every waiter.
    func close() async {
        let (task, connection, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.task = nil
                state.connection = nil
                state.waiters = [:]
            }
            return (state.task, state.connection, state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
        task?.cancel()
        try? await connection?.close()
        await task?.value
    }

    private func waitForNotification() async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || state.closed || state.pending {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Wakes every waiter, or, when nobody waits, leaves the news for the next wait.
    private func signal() {
        let waiters = state.withLock { state in
            if state.waiters.isEmpty { state.pending = true }
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Listens until closed. A session that ends after listening is replaced at once; a
    /// connection that cannot be opened is tried again after `retryDelay`.
    private func listen() async {
        while !Task.isCancelled {
            var listened = false
            var opened: PostgresConnection?
            do {
                let connection = try await connect()
                opened = connection
                let keep = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.connection = connection
                    return true
                }
                guard keep else {
                    try? await connection.close()
                    return
                }
                try await connection.listen(on: Self.channel) { notifications in
                    listened = true
                    logger.debug("listening for new snapshots")
                    signal()
                    for try await _ in notifications { signal() }
                }
            } catch where !(error is CancellationError) && !Task.isCancelled {
                logger.warning("not listening for new snapshots; waits poll instead until it works again", metadata: [
                    "reason": "\(describe(error))", "retry_in": "\(listened ? .zero : retryDelay)",
                ])
            } catch {}
            // Closed on every path: PostgresNIO requires it, even of a connection the server ended.
            state.withLock { $0.connection = nil }
            try? await opened?.close()
            if !listened { try? await Task.sleep(for: retryDelay) }
        }
    }
}
