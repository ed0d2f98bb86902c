import Foundation

/// Client-side pacing for any API with a rate limit (PagerDuty's, and each grant target's own):
/// spaces requests out to `requestsPerMinute` (a GCRA token bucket with a small burst), and lets a
/// 429 or an exhausted budget hold every worker of that client until the window resets. Reservations
/// are made before sleeping, so concurrent callers never share a slot. One pacer per API, so one
/// API's backoff never delays another's calls.
public actor Pacer {
    private let interval: Double
    private let burst: Double
    private var theoreticalArrival: Double = 0
    private var pausedUntil: Double = 0

    public init(requestsPerMinute: Int, burst: Int = 4) {
        self.interval = 60.0 / Double(max(1, requestsPerMinute))
        self.burst = Double(max(1, burst))
    }

    private static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Waits for this request's slot.
    public func acquire() async throws {
        let now = Self.now()
        let start = max(theoreticalArrival, now, pausedUntil)
        theoreticalArrival = start + interval
        let wait = max(start - (burst - 1) * interval, pausedUntil) - now
        if wait > 0 {
            try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
        }
    }

    /// Holds every later request for `seconds` (a 429, or the window's budget spent).
    public func pause(for seconds: Double) {
        pausedUntil = max(pausedUntil, Self.now() + seconds)
    }
}

/// At most `limit` operations at once.
public actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) {
        available = max(1, limit)
    }

    public func wait() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func signal() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
