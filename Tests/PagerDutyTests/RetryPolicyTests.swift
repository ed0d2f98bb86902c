import Foundation
import Testing
@testable import PagerDuty

/// Rate-limit and retry detection is a pure function: checked against a table.
@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 4, baseDelay: 1, maxDelay: 8, maxRateLimitWait: 30)

    @Test(arguments: [
        (200, [String: String](), 1, ReplyDisposition.accept),
        (204, [:], 1, .accept),
        (429, ["ratelimit-reset": "7"], 1, .retry(delay: 7, rateLimited: true)),
        (429, ["retry-after": "3", "ratelimit-reset": "7"], 1, .retry(delay: 3, rateLimited: true)),
        (429, ["ratelimit-reset": "600"], 1, .retry(delay: 30, rateLimited: true)),
        (429, [:], 4, .fail),
        (500, [:], 1, .retry(delay: 0.5, rateLimited: false)),
        (503, [:], 3, .retry(delay: 0.5, rateLimited: false)),
        (502, [:], 4, .fail),
        (400, [:], 1, .fail),
        (401, [:], 1, .fail),
        (403, [:], 1, .fail),
        (404, [:], 1, .fail),
    ])
    func disposition(status: Int, headers: [String: String], attempt: Int, expected: ReplyDisposition) {
        #expect(policy.disposition(status: status, headers: headers, attempt: attempt, jitter: 0) == expected)
    }

    @Test func backoffGrowsAndIsCapped() {
        #expect(policy.backoff(attempt: 1, jitter: 1) == 1)
        #expect(policy.backoff(attempt: 2, jitter: 1) == 2)
        #expect(policy.backoff(attempt: 3, jitter: 1) == 4)
        #expect(policy.backoff(attempt: 9, jitter: 1) == 8)
        #expect(policy.backoff(attempt: 9, jitter: 0) == 0.5)
        #expect(policy.transportRetryDelay(attempt: 4, jitter: 0.5) == nil)
    }

    @Test func retryAfterAsAnHTTPDate() {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let later = RetryPolicy.rateLimitWait(headers: ["retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"], now: now)
        #expect(later == 10)
    }
}
