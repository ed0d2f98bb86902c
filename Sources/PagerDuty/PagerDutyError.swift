import Foundation

/// Why a PagerDuty call failed, in words an operator can act on. Never carries the API key.
public enum PagerDutyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 401: the key is wrong, revoked or missing.
    case unauthorized(message: String)
    /// 403: the key works but may not read this.
    case forbidden(path: String, message: String)
    /// Another 4xx, with PagerDuty's own message.
    case rejected(path: String, status: Int, message: String)
    /// 5xx or 429 until the attempts ran out.
    case unavailable(path: String, status: Int, attempts: Int, message: String)
    /// No reply at all (connection refused, timeout) until the attempts ran out.
    case transport(path: String, attempts: Int, message: String)
    /// A 2xx whose body is not what PagerDuty sends.
    case invalidReply(path: String, detail: String)
    /// The request budget (`--max-requests`) is spent.
    case budgetExhausted(limit: Int)
    /// A list longer than PagerDuty pages through (offset + limit past 10,000).
    case listTooLong(path: String)
    /// A list that changed under every reading of it (items added or deleted between pages).
    case listUnstable(path: String, attempts: Int)

    public var description: String {
        switch self {
        case .unauthorized(let message):
            "PagerDuty refused the API key (401 \(message)); check PAGERDUTY_KEY or --api-key-file"
        case .forbidden(let path, let message):
            "PagerDuty denied access to \(path) (403 \(message)); the key lacks read access"
        case .rejected(let path, let status, let message):
            "PagerDuty rejected \(path) (\(status) \(message))"
        case .unavailable(let path, let status, let attempts, let message):
            "PagerDuty kept failing on \(path): \(status) \(message) after \(attempts) attempts"
        case .transport(let path, let attempts, let message):
            "could not reach PagerDuty for \(path) after \(attempts) attempts: \(message)"
        case .invalidReply(let path, let detail):
            "PagerDuty sent an unreadable reply for \(path): \(detail)"
        case .budgetExhausted(let limit):
            "stopped after the request budget of \(limit) requests (--max-requests) was spent"
        case .listTooLong(let path):
            "\(path) has more than 10,000 entries, past what PagerDuty pages through"
        case .listUnstable(let path, let attempts):
            "\(path) changed while it was read, \(attempts) times in a row (entries added or deleted between pages)"
        }
    }

    /// True when the key itself was refused: callers exit with a distinct code.
    public var isAuthenticationFailure: Bool {
        if case .unauthorized = self { return true }
        return false
    }
}
