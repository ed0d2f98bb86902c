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
    let auditSpooled: Gauge
    let auditCommits: Gauge
    let auditSpoolAppends: Gauge
    /// Counters by their label values, made once: making one looks it up in the registry under its lock.
    private let counters = Mutex<[[String]: Counter]>([:])

    /// A metric's name, in parts as swift-prometheus takes them, and its `# HELP` text (one text
    /// per name, as the registry requires).
    struct Family: Sendable {
        let name: String
        let metric: String
        let unit: String
        let help: String

        init(_ metric: String, _ unit: String, _ help: String) {
            name = "shiftgate_\(metric)_\(unit)"
            self.metric = metric
            self.unit = unit
            self.help = help
        }

        var descriptor: MetricNameDescriptor {
            MetricNameDescriptor(namespace: "shiftgate", metricName: metric, unitName: unit, helpText: help)
        }
    }

    static let httpRequests = Family("http_requests", "total", "HTTP requests answered, by route and outcome.")
    static let decisions = Family("decisions", "total", "Access decisions made (webhook events and the decision API), by outcome.")
    static let decisionDuration = Family("decision_duration", "seconds", "Time from a verified request body to its reply.")
    static let cacheAgeSeconds = Family("cache_age", "seconds", "Age of the snapshot decisions use, in seconds (-1: none).")
    static let cacheSnapshot = Family("cache_snapshot", "id", "Id of the snapshot decisions use (0: none).")
    static let auditPendingRecords = Family("audit_pending", "records", "Decision records queued for the audit log, not yet written.")
    static let auditDroppedRecords = Family("audit_dropped", "records", "Refusals that found the audit queue full and were not recorded.")
    static let auditSpooledRecords = Family("audit_spooled", "records", "Approvals' audit records waiting in the spool for the cache to take them.")
    static let auditCommitsSinceStart = Family("audit", "commits", "Transactions of the durable audit path since start (approvals over commits is the grouping).")
    static let auditSpoolAppendsSinceStart = Family("audit_spool", "appends", "Appends to the audit spool since start (each fsynced).")

    public init() {
        registry = PrometheusCollectorRegistry()
        // Decisions take microseconds: the default buckets (5 ms and up) would hide everything.
        decisionTimer = registry.makeDurationHistogram(
            descriptor: Self.decisionDuration.descriptor,
            buckets: [
                .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
                .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(50), .milliseconds(250), .seconds(1),
            ])
        cacheAge = registry.makeGauge(descriptor: Self.cacheAgeSeconds.descriptor)
        cacheSnapshotId = registry.makeGauge(descriptor: Self.cacheSnapshot.descriptor)
        auditPending = registry.makeGauge(descriptor: Self.auditPendingRecords.descriptor)
        auditDropped = registry.makeGauge(descriptor: Self.auditDroppedRecords.descriptor)
        auditSpooled = registry.makeGauge(descriptor: Self.auditSpooledRecords.descriptor)
        auditCommits = registry.makeGauge(descriptor: Self.auditCommitsSinceStart.descriptor)
        auditSpoolAppends = registry.makeGauge(descriptor: Self.auditSpoolAppendsSinceStart.descriptor)
    }

    private func counter(_ family: Family, _ labels: [(String, String)]) -> Counter {
        let key = [family.name] + labels.map(\.1)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(descriptor: family.descriptor, labels: labels)
            counters[key] = counter
            return counter
        }
    }

    /// `shiftgate_http_requests_total{route, outcome}`.
    func request(route: String, outcome: String) {
        counter(Self.httpRequests, [("route", route), ("outcome", outcome)]).increment()
    }

    /// `shiftgate_decisions_total{outcome}`.
    func decision(outcome: String) {
        counter(Self.decisions, [("outcome", outcome)]).increment()
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

    /// `shiftgate_audit_spooled_records` (approvals' records waiting in the spool for the cache),
    /// `shiftgate_audit_commits` and `shiftgate_audit_spool_appends` (the durable path's
    /// transactions and spool writes since start: approvals over commits is the grouping), set at
    /// scrape time.
    func auditDurable(spooled: Int, writes: (commits: Int, spoolAppends: Int)) {
        auditSpooled.set(Double(spooled))
        auditCommits.set(Double(writes.commits))
        auditSpoolAppends.set(Double(writes.spoolAppends))
    }

    public func render() -> String {
        registry.emitToString()
    }
}
