import Foundation
import Pacing
import Testing

/// The pieces every rate-limited client shares (PagerDuty's now, the grant targets' next).
@Suite struct PacingTests {
    @Test(arguments: [
        (1, 0.0, 0.5), (1, 0.999, 0.9995), (2, 0.0, 0.5), (2, 1.0, 2.0), (3, 1.0, 4.0), (4, 1.0, 8.0), (5, 1.0, 8.0), (30, 0.5, 4.25),
    ])
    func backoffIsExponentialWithFullJitterUpToItsCeiling(attempt: Int, jitter: Double, expected: Double) {
        #expect(abs(Backoff(baseDelay: 1, maxDelay: 8).delay(attempt: attempt, jitter: jitter) - expected) < 1e-9)
    }

    @Test func retryAfterReadsSecondsAndHTTPDatesAndNothingElse() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(RetryAfter.seconds("30", now: now) == 30)
        #expect(RetryAfter.seconds(" 0 ", now: now) == 0)
        #expect(RetryAfter.seconds("Tue, 14 Nov 2023 22:13:30 GMT", now: now) == 10)
        #expect(RetryAfter.seconds("Tue, 14 Nov 2023 22:13:00 GMT", now: now) == 0, "a date in the past: at once")
        for refused in ["-1", "soon", "", "inf", "nan", "1e400"] {
            #expect(RetryAfter.seconds(refused, now: now) == nil, "\(refused)")
        }
    }

    struct TimedOut: Error, Equatable { var seconds: Double }

    @Test func aTimeoutEndsOnTimeEvenWhenTheWorkIgnoresCancellation() async throws {
        let started = ContinuousClock.now
        await #expect(throws: TimedOut(seconds: 0.2)) {
            try await withTimeout(seconds: 0.2, timedOut: { TimedOut(seconds: $0) }) {
                // Work that does not stop when cancelled, as a stuck request may not: 30 s of it.
                let until = ContinuousClock.now + .seconds(30)
                while ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(20)) }
                return 1
            }
        }
        // Far sooner than the work would end, with room for a loaded machine (6 s seen with the
        // whole suite running beside other builds).
        #expect(ContinuousClock.now - started < .seconds(15))
        #expect(try await withTimeout(seconds: 5, timedOut: { TimedOut(seconds: $0) }) { 42 } == 42)
    }

    @Test func theSemaphoreAdmitsAtMostItsLimit() async {
        let semaphore = AsyncSemaphore(limit: 3)
        let counter = Counter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await semaphore.wait()
                    await counter.enter()
                    try? await Task.sleep(for: .milliseconds(5))
                    await counter.leave()
                    await semaphore.signal()
                }
            }
        }
        #expect(await counter.most == 3)
    }

    actor Counter {
        var now = 0
        var most = 0
        func enter() { now += 1; most = max(most, now) }
        func leave() { now -= 1 }
    }
}
