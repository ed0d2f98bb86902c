import Approval
import Foundation

/// Everything `serve` needs to know. The webhook secret is held here and nowhere else; the type's
/// description leaves it out.
public struct ServerConfiguration: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Older snapshots are not used: the webhook approves nothing and `/readyz` answers 503.
    public var maxStaleness: TimeInterval
    /// How far `X-Indent-Timestamp` may be from the server's clock (replay protection).
    public var maxClockSkew: TimeInterval
    public var webhookSecret: String
    public var policy: ApprovalPolicy
    /// The rules file's rules, or nil for the AUTO_APPROVAL_* variables as one rule. A file's rules are
    /// read again from `rules.source` on SIGHUP.
    public var rules: RuleSet?
    /// Bearer tokens for `POST /v1/decisions` and `GET /v1/oncall` (several, for rotation). None: the
    /// decision API is off (404) and `/v1/oncall` is open, as before.
    public var apiTokens: [String]
    /// How often the server looks for a newer snapshot.
    public var reloadInterval: TimeInterval
    public var maxBodyBytes: Int
    /// Connections idle longer than this are closed.
    public var idleTimeout: TimeInterval
    /// A request's head must arrive within this of the connection opening (or the previous reply),
    /// and its body within this of the head: slow senders are cut off.
    public var requestTimeout: TimeInterval
    /// Audit records held in memory while the store cannot be written; when they fill it, nothing
    /// is approved until it drains.
    public var auditCapacity: Int
    /// The audit spool's file: where approvals' records go, fsynced, while the cache cannot be
    /// written. Nil: no spool (then nothing is approved while the cache cannot be written).
    public var auditSpool: String?
    /// How long an approval's durable audit write to the cache may take before its records go to
    /// the spool instead.
    public var auditWriteTimeout: TimeInterval

    public init(host: String = "127.0.0.1", port: Int = 8080, maxStaleness: TimeInterval = 900, maxClockSkew: TimeInterval = 300,
                webhookSecret: String, policy: ApprovalPolicy = ApprovalPolicy(), reloadInterval: TimeInterval = 1,
                maxBodyBytes: Int = 1 << 20, idleTimeout: TimeInterval = 15, requestTimeout: TimeInterval = 10,
                auditCapacity: Int = 100_000, rules: RuleSet? = nil, apiTokens: [String] = [],
                auditSpool: String? = nil, auditWriteTimeout: TimeInterval = 2) {
        self.host = host
        self.port = port
        self.maxStaleness = maxStaleness
        self.maxClockSkew = maxClockSkew
        self.webhookSecret = webhookSecret
        self.policy = policy
        self.reloadInterval = reloadInterval
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.auditCapacity = auditCapacity
        self.rules = rules
        self.apiTokens = apiTokens
        self.auditSpool = auditSpool
        self.auditWriteTimeout = auditWriteTimeout
    }

    public var description: String {
        "serve(\(host):\(port), max staleness \(Int(maxStaleness))s, max clock skew \(Int(maxClockSkew))s, secret <redacted>, \(apiTokens.count) API token(s) <redacted>, rules \(rules?.source ?? "AUTO_APPROVAL_*"))"
    }
}
