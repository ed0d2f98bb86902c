import Foundation
import Synchronization

/// Group commit for anything that must be durable before its caller goes on: the audit log's
/// approvals now, a grants ledger's intents later. Callers that wait at the same time share one
/// write: the first becomes the leader and writes everything queued so far, the others wait for its
/// result, and whatever is queued meanwhile goes in the leader's next write. One write at a time,
/// so `write` never runs concurrently with itself and may keep order (a spool drained first, say).
public final class GroupCommit<Item: Sendable>: Sendable {
    /// Writes a batch (possibly empty when `retry` asks for a retry alone); true when it is durable.
    public typealias Write = @Sendable (_ items: [Item], _ retry: Bool) async -> Bool

    private struct Waiter {
        var items: [Item]
        var done: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var waiting: [Waiter] = []
        var leading = false
        var retry = false
        var writes = 0
    }

    private let state = Mutex(State())
    private let write: Write

    public init(write: @escaping Write) {
        self.write = write
    }

    /// Writes made so far (each one shared by everyone who waited for it).
    public var writes: Int { state.withLock { $0.writes } }

    /// Returns once `items` are durable (true) or could not be made so (false), sharing the write
    /// with whoever waits at the same time.
    public func append(_ items: [Item]) async -> Bool {
        await withCheckedContinuation { continuation in
            let lead = state.withLock { state -> Bool in
                state.waiting.append(Waiter(items: items, done: continuation))
                defer { state.leading = true }
                return !state.leading
            }
            if lead { Task { await self.lead() } }
        }
    }

    /// Has the next write called with `retry` (the writer tries what it had given up on), becoming
    /// the leader if there is none; returns that write's result.
    @discardableResult
    public func retry() async -> Bool {
        state.withLock { $0.retry = true }
        return await append([])
    }

    private func lead() async {
        while true {
            let (batch, retry) = state.withLock { state -> ([Waiter], Bool) in
                let taken = (state.waiting, state.retry)
                state.waiting = []
                state.retry = false
                if taken.0.isEmpty { state.leading = false } else { state.writes += 1 }
                return taken
            }
            guard !batch.isEmpty else { return }
            let durable = await write(batch.flatMap(\.items), retry)
            for waiter in batch { waiter.done.resume(returning: durable) }
        }
    }
}
