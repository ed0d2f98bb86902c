import Foundation
import Metrics
import Prometheus
import Synchronization

/// The webhook's metrics, on a registry of its own (so tests can build many apps in one process),
/// recorded through swift-metrics and rendered by swift-prometheus.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let decisionTimer: Metrics.Timer
    /// Counters by their label values, made once: making one looks it up in the registry under its lock.
    private let counters = Mutex<[[String]: Metrics.Counter]>([:])

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Decisions take microseconds: the default buckets (5 ms and up) would hide everything.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(50), .milliseconds(250), .seconds(1),
        ]
        self.factory = factory
        decisionTimer = Metrics.Timer(label: "shiftgate_decision_duration_seconds", factory: factory)
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Metrics.Counter {
        let key = [label] + dimensions.map(\.1)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Metrics.Counter(label: label, dimensions: dimensions, factory: factory)
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
        Gauge(label: "shiftgate_cache_age_seconds", factory: factory).record(age ?? -1)
        Gauge(label: "shiftgate_cache_snapshot_id", factory: factory).record(Double(snapshotId ?? 0))
    }

    /// `shiftgate_audit_pending_records` (waiting to be written) and `shiftgate_audit_dropped_records`
    /// (refusals that found the queue full), set at scrape time.
    func audit(pending: Int, dropped: Int) {
        Gauge(label: "shiftgate_audit_pending_records", factory: factory).record(Double(pending))
        Gauge(label: "shiftgate_audit_dropped_records", factory: factory).record(Double(dropped))
    }

    /// `shiftgate_audit_spooled_records` (approvals' records waiting in the spool for the cache),
    /// `shiftgate_audit_commits` and `shiftgate_audit_spool_appends` (the durable path's
    /// transactions and spool writes since start: approvals over commits is the grouping), set at
    /// scrape time.
    func auditDurable(spooled: Int, writes: (commits: Int, spoolAppends: Int)) {
        Gauge(label: "shiftgate_audit_spooled_records", factory: factory).record(Double(spooled))
        Gauge(label: "shiftgate_audit_commits", factory: factory).record(Double(writes.commits))
        Gauge(label: "shiftgate_audit_spool_appends", factory: factory).record(Double(writes.spoolAppends))
    }

    public func render() -> String {
        registry.emitToString()
    }
}
