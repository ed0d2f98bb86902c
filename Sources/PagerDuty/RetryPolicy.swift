import Foundation
import Pacing

/// What to do with one HTTP reply from PagerDuty. A pure function of status, headers and attempt
/// number, so the rules can be tested against a table.
public enum ReplyDisposition: Sendable, Equatable {
    /// 2xx: use the body.
    case accept
    /// Try again after `delay` seconds. `rateLimited` marks a 429, whose wait comes from the headers.
    case retry(delay: Double, rateLimited: Bool)
    /// Give up: not worth retrying, or out of attempts.
    case fail
}

/// How the client retries: 429 after the wait PagerDuty asks for (capped), 5xx and transport errors
/// with exponential backoff and full jitter, within `maxAttempts`; other 4xx never.
public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// The longest a 429's `Retry-After` / `ratelimit-reset` may make the client wait.
    public var maxRateLimitWait: Double

    public init(maxAttempts: Int = 6, baseDelay: Double = 0.5, maxDelay: Double = 20, maxRateLimitWait: Double = 65) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRateLimitWait = maxRateLimitWait
    }

    /// - Parameters:
    ///   - attempt: the attempt that produced this reply, counting from 1.
    ///   - jitter: a number in [0, 1) (random in production, fixed in tests).
    public func disposition(status: Int, headers: [String: String], attempt: Int, jitter: Double) -> ReplyDisposition {
        switch status {
        case 200..<300:
            return .accept
        case 429:
            guard attempt < maxAttempts else { return .fail }
            let asked = Self.rateLimitWait(headers: headers) ?? backoff(attempt: attempt, jitter: jitter)
            // A little spread so that concurrent workers do not all return in the same instant.
            return .retry(delay: min(maxRateLimitWait, asked + jitter * 0.25), rateLimited: true)
        case 500..<600:
            guard attempt < maxAttempts else { return .fail }
            return .retry(delay: backoff(attempt: attempt, jitter: jitter), rateLimited: false)
        default:
            return .fail
        }
    }

    /// Backoff for transport errors and timeouts, where there is no reply at all.
    public func transportRetryDelay(attempt: Int, jitter: Double) -> Double? {
        attempt < maxAttempts ? backoff(attempt: attempt, jitter: jitter) : nil
    }

    /// Exponential backoff with full jitter (`Pacing.Backoff`, shared with every other client).
    func backoff(attempt: Int, jitter: Double) -> Double {
        Backoff(baseDelay: baseDelay, maxDelay: maxDelay).delay(attempt: attempt, jitter: jitter)
    }

    /// Seconds to wait as the reply asks: `Retry-After` (seconds or an HTTP date) first, then
    /// PagerDuty's own `ratelimit-reset` (seconds until the window resets). Header names are lowercase.
    public static func rateLimitWait(headers: [String: String], now: Date = Date()) -> Double? {
        if let value = headers["retry-after"], let seconds = RetryAfter.seconds(value, now: now) { return seconds }
        if let value = headers["ratelimit-reset"], let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return seconds
        }
        return nil
    }
}
