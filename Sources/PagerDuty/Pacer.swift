import Foundation

/// Client-side pacing: spaces requests out to `requestsPerMinute` (a GCRA token bucket with a small
/// burst), and lets a 429 or an exhausted `ratelimit-remaining` hold every worker until the window
/// resets. Reservations are made before sleeping, so concurrent callers never share a slot.
actor Pacer {
    private let interval: Double
    private let burst: Double
    private var theoreticalArrival: Double = 0
    private var pausedUntil: Double = 0

    init(requestsPerMinute: Int, burst: Int = 4) {
        self.interval = 60.0 / Double(max(1, requestsPerMinute))
        self.burst = Double(max(1, burst))
    }

    private static func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// Waits for this request's slot.
    func acquire() async throws {
        let now = Self.now()
        let start = max(theoreticalArrival, now, pausedUntil)
        theoreticalArrival = start + interval
        let wait = max(start - (burst - 1) * interval, pausedUntil) - now
        if wait > 0 {
            try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
        }
    }

    /// Holds every later request for `seconds` (a 429, or the window's budget spent).
    func pause(for seconds: Double) {
        pausedUntil = max(pausedUntil, Self.now() + seconds)
    }

}

/// At most `limit` operations at once.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) {
        available = max(1, limit)
    }

    func wait() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func signal() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
