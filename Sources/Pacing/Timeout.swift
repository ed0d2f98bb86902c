import Synchronization

/// Runs `work`, or throws `timedOut(seconds)` when `seconds` pass first, cancelling the work: a
/// time budget for a whole sync, or for one call to an API that may hang.
///
/// The work runs in a task of its own and is not waited for once the time is up: a task group
/// would wait for it to end, and a request stuck inside FoundationNetworking does not always end
/// at once when cancelled (seen under load: a 1 s budget ended after the 10 s a stalled reply
/// took). So `work` must be safe to abandon: a read, or a call whose outcome is settled another way.
public func withTimeout<T: Sendable>(seconds: Double, timedOut: @escaping @Sendable (Double) -> any Error,
                                     _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = Outcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.wait(continuation)
            let worker = Task {
                do { outcome.finish(.success(try await work())) } catch { outcome.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
                outcome.finish(.failure(timedOut(seconds)))
            }
            outcome.whenFinished {
                worker.cancel()
                timer.cancel()
            }
        }
    } onCancel: {
        outcome.finish(.failure(CancellationError()))
    }
}

/// The first result of a race, handed to one waiting continuation; later results are dropped.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func whenFinished(_ cleanup: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { state -> Bool in
            guard state.result == nil else { return true }
            state.cleanup = cleanup
            return false
        }
        if runNow { cleanup() }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, cleanup) = state.withLock { state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard state.result == nil else { return (nil, nil) }
            state.result = result
            defer { state.continuation = nil; state.cleanup = nil }
            return (state.continuation, state.cleanup)
        }
        continuation?.resume(with: result)
        cleanup?()
    }
}
