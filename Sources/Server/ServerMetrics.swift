import Foundation
import Prometheus
import Synchronization

/// The webhook's metrics, on a registry of its own (so tests can build many apps in one process),
/// made on swift-prometheus's registry directly so each carries a `# HELP` line.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let decisionTimer: DurationHistogram
    let cacheAge: Gauge
    let cacheSnapshotId: Gauge
    let auditPending: Gauge
    let auditDropped: Gauge
    /// Counters by their label values, made once: making one looks it up in the registry under its lock.
    private let counters = Mutex<[[String]: Counter]>([:])

    /// Each metric's `# HELP` text, by name (one text per name, as the registry requires).
    static let help: [String: String] = [
        "shiftgate_http_requests_total": "HTTP requests answered, by route and outcome.",
        "shiftgate_decisions_total": "Access decisions made (webhook events and the decision API), by outcome.",
        "shiftgate_decision_duration_seconds": "Time from a verified request body to its reply.",
        "shiftgate_cache_age_seconds": "Age of the snapshot decisions use, in seconds (-1: none).",
        "shiftgate_cache_snapshot_id": "Id of the snapshot decisions use (0: none).",
        "shiftgate_audit_pending_records": "Decision records queued for the audit log, not yet written.",
        "shiftgate_audit_dropped_records": "Refusals that found the audit queue full and were not recorded.",
    ]

    public init() {
        registry = PrometheusCollectorRegistry()
        // Decisions take microseconds: the default buckets (5 ms and up) would hide everything.
        decisionTimer = registry.makeDurationHistogram(
            name: "shiftgate_decision_duration_seconds",
            buckets: [
                .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
                .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(50), .milliseconds(250), .seconds(1),
            ],
            help: Self.help["shiftgate_decision_duration_seconds"]!)
        cacheAge = registry.makeGauge(name: "shiftgate_cache_age_seconds", help: Self.help["shiftgate_cache_age_seconds"]!)
        cacheSnapshotId = registry.makeGauge(name: "shiftgate_cache_snapshot_id", help: Self.help["shiftgate_cache_snapshot_id"]!)
        auditPending = registry.makeGauge(name: "shiftgate_audit_pending_records", help: Self.help["shiftgate_audit_pending_records"]!)
        auditDropped = registry.makeGauge(name: "shiftgate_audit_dropped_records", help: Self.help["shiftgate_audit_dropped_records"]!)
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
        let key = [name] + labels.map(\.1)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(name: name, labels: labels, help: Self.help[name] ?? "")
            counters[key] = counter
            return counter
        }
    }

    /// `shiftgate_http_requests_total{route, outcome}`.
    func request(route: String, outcome: String) {
        counter("shiftgate_http_requests_total", [("route", route), ("outcome", outcome)]).increment()
    }

    /// `shiftgate_decisions_total{outcome}`.
    func decision(outcome: String) {
        counter("shiftgate_decisions_total", [("outcome", outcome)]).increment()
    }

    /// `shiftgate_decision_duration_seconds` histogram: from a verified body to the reply.
    func decisionDuration(nanoseconds: UInt64) {
        decisionTimer.recordNanoseconds(Int64(nanoseconds))
    }

    /// `shiftgate_cache_age_seconds` and `shiftgate_cache_snapshot_id`, set at scrape time.
    func cache(age: Double?, snapshotId: Int64?) {
        cacheAge.set(age ?? -1)
        cacheSnapshotId.set(Double(snapshotId ?? 0))
    }

    /// `shiftgate_audit_pending_records` (waiting to be written) and `shiftgate_audit_dropped_records`
    /// (refusals that found the queue full), set at scrape time.
    func audit(pending: Int, dropped: Int) {
        auditPending.set(Double(pending))
        auditDropped.set(Double(dropped))
    }

    public func render() -> String {
        registry.emitToString()
    }
}
