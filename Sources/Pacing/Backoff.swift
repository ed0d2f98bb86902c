import Foundation

/// Exponential backoff with "full jitter", for any retried call: attempt n waits uniformly in
/// [base/2, min(max, base·2^(n-1))]. Pure, so the waits can be tested against a table.
public struct Backoff: Sendable, Equatable {
    public var baseDelay: Double
    public var maxDelay: Double

    public init(baseDelay: Double, maxDelay: Double) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// - Parameters:
    ///   - attempt: the attempt that failed, counting from 1.
    ///   - jitter: a number in [0, 1) (random in production, fixed in tests).
    public func delay(attempt: Int, jitter: Double) -> Double {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return baseDelay / 2 + (ceiling - baseDelay / 2) * jitter
    }
}

/// HTTP's `Retry-After` (RFC 9110 §10.2.3): seconds, or an HTTP date.
public enum RetryAfter {
    /// Seconds to wait as `value` asks, never negative; nil for a value that is neither form.
    public static func seconds(_ value: String, now: Date = Date()) -> Double? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 { return seconds }
        if let date = httpDate(trimmed) { return max(0, date.timeIntervalSince(now)) }
        return nil
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
