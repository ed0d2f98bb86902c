import Foundation
import Logging
import OnCallStore
import PostgresNIO
import Synchronization

/// The cache in PostgreSQL, so that several `serve` replicas and one `sync` share one cache and one
/// audit log. It keeps `CacheStore`'s promises as the SQLite store does, with PostgreSQL's means:
///
/// - A snapshot is one transaction (rows inserted with `UNNEST` of array binds, one statement per
///   table), which also makes it current, prunes and notifies; readers of a whole snapshot read in
///   one REPEATABLE READ transaction, so they see the old roster or the new one, never part of
///   either, and never a snapshot half pruned.
/// - Writers queue on `sync_state`'s one row, taken first in each write transaction, as SQLite's
///   writers queue on its write lock; `deadline` becomes the transaction's `lock_timeout`.
/// - One sync at a time across hosts: a session advisory lock (`takeSyncLock`), which the server
///   drops with the session if the holder dies.
/// - `waitForChange` is woken by LISTEN/NOTIFY (see `SnapshotListener`).
/// - Work runs on SwiftNIO's event loops through PostgresNIO, which never blocks a thread.
///
/// Queries run on connections from a `ConnectionCache` (see there why not PostgresNIO's pool). The
/// sync lock and the listener each hold a dedicated connection, because both live as long as the
/// session does. Every connection names itself (`application_name`) so that `pg_stat_activity`
/// shows which is which.
public final class PostgresCacheStore: CacheStore {
    public let address: PostgresAddress
    public var location: String { address.description }

    /// The key of the sync's advisory lock: "SHIFTG" in ASCII, then 1 (the migration lock is 2).
    static let syncLockKey: Int64 = 0x5348_4946_5447_0001
    /// How long a write waits for another writer when given no deadline: SQLite's busy timeout.
    static let defaultLockTimeout: TimeInterval = 10
    /// Idle connections kept for the next query: `serve` polls the current id, reads a snapshot now
    /// and then and appends audit batches, rarely more than two at once.
    static let maximumIdleConnections = 2

    private let connections: ConnectionCache
    private let connectionConfiguration: PostgresConnection.Configuration
    private let listener: SnapshotListener
    private let logger: Logger

    private init(address: PostgresAddress, connectionConfiguration: PostgresConnection.Configuration, logger: Logger) {
        self.address = address
        self.connectionConfiguration = connectionConfiguration
        self.logger = logger
        connections = ConnectionCache(maximumIdle: Self.maximumIdleConnections) {
            try await Self.connect(connectionConfiguration, logger: logger)
        }
        var listening = connectionConfiguration
        listening.options.additionalStartupParameters = [("application_name", "shiftgate listener")]
        let listenerConfiguration = listening
        listener = SnapshotListener(logger: logger, describe: { PostgresStoreError.describing($0, at: address) }) {
            try await Self.connect(listenerConfiguration, logger: logger)
        }
    }

    /// Opens the cache at `address`. The first connection is made here, so a wrong host, user,
    /// password, database or TLS setting fails now, with an error naming it. `createIfNeeded` (the
    /// commands that write: sync, serve) creates or migrates the schema; without it an empty
    /// database is refused as SQLite's store refuses a missing file, while an outdated schema is
    /// migrated either way, as SQLite's store does.
    public static func open(_ address: PostgresAddress, password: String?, createIfNeeded: Bool, logger: Logger) async throws -> PostgresCacheStore {
        do {
            var connectionConfiguration = try connectionConfiguration(address, password: password)
            connectionConfiguration.options.additionalStartupParameters = [("application_name", "shiftgate")]
            let connection = try await connect(connectionConfiguration, logger: logger)
            do {
                let applied = try await PostgresSchema.appliedVersions(connection, logger: logger)
                if !PostgresSchema.isReady(applied) {
                    guard createIfNeeded || !applied.isEmpty else { throw PostgresStoreError.missing(address) }
                    try await PostgresSchema.migrate(connection, logger: logger)
                }
                try? await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }

            return PostgresCacheStore(address: address, connectionConfiguration: connectionConfiguration, logger: logger)
        } catch {
            throw PostgresStoreError.describing(error, at: address)
        }
    }

    // MARK: Connections and TLS

    /// TLS as `sslmode` asks: none; TLS without checking the certificate; or TLS checked against the
    /// system's roots and the host name (PostgresNIO sends and checks the host name unless it is an
    /// IP address).
    private static func tlsConfiguration(_ mode: PostgresAddress.TLSMode) -> TLSConfiguration? {
        switch mode {
        case .disable:
            return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            return .makeClientConfiguration()
        }
    }

    private static func connectionConfiguration(_ address: PostgresAddress, password: String?) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = tlsConfiguration(address.tls) {
            do {
                tls = .require(try NIOSSLContext(configuration: configuration))
            } catch {
                throw PostgresStoreError(.tls, "cannot set up TLS for \(address) (sslmode=\(address.tls.rawValue)): \(error)")
            }
        } else {
            tls = .disable
        }
        return PostgresConnection.Configuration(
            host: address.host, port: address.port, username: address.user, password: password, database: address.database, tls: tls)
    }

    private static let connectionIDs = Atomic<Int>(0)

    /// A new connection: for queries (through `connections`), the schema at opening, the sync lock
    /// and the listener.
    private static func connect(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration: configuration, id: connectionIDs.add(1, ordering: .relaxed).newValue, logger: logger)
    }

    /// Runs `body` on a connection of the cache's; errors come out in an operator's words.
    @discardableResult
    private func run<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await connections.withConnection(body)
        } catch {
            throw PostgresStoreError.describing(error, at: address)
        }
    }

    /// Runs `body` in a REPEATABLE READ, READ ONLY transaction: every query in it sees the database
    /// as of its first, whatever commits meanwhile.
    private func readConsistently<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        return try await run { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.perform("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                return try await body(connection)
            }
        }
    }

    /// Runs `body` in a write transaction whose lock waits end at `deadline` (or after the default),
    /// after taking `sync_state`'s row: writers go one at a time, and a second one waits here,
    /// before it has written anything.
    @discardableResult
    private func write<T: Sendable>(deadline: Date?, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        let wait = deadline.map { $0.timeIntervalSinceNow } ?? Self.defaultLockTimeout
        // 0 would mean no limit at all; a deadline already past still gets one try.
        let lockTimeout = "\(max(1, Int((wait * 1000).rounded(.up))))ms"
        return try await run { connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.perform("SELECT set_config('lock_timeout', \(lockTimeout), true)", logger: logger)
                try await connection.perform("SELECT id FROM sync_state WHERE id = 1 FOR UPDATE", logger: logger)
                return try await body(connection)
            }
        }
    }

    // MARK: Writes

    @discardableResult
    public func writeSnapshot(_ contents: SnapshotContents, keep: Int, deadline: Date?) async throws -> SnapshotInfo {
        var info = contents.info
        info.userCount = contents.users.count
        info.scheduleCount = contents.schedules.count
        info.shiftBasedScheduleCount = contents.schedules.count { $0.kind == .shiftBased }
        info.shiftCount = contents.shifts.count
        info.policyCount = contents.policies.count
        info.onCallCount = contents.onCalls.count
        let counted = info
        let logger = logger
        return try await write(deadline: deadline) { connection in
            var info = counted
            info.id = try await SnapshotRows.insertSnapshot(info, on: connection, logger: logger)
            try await SnapshotRows.insertRows(of: contents, snapshot: info.id, on: connection, logger: logger)
            try await connection.perform("""
                UPDATE sync_state SET current_snapshot_id = \(info.id),
                    last_success_at = \(UnixTime.seconds(info.finishedAt)), last_attempt_at = \(UnixTime.seconds(info.startedAt))
                WHERE id = 1
                """, logger: logger)
            // Deleting a snapshot deletes its rows in every roster table (ON DELETE CASCADE). The
            // newest full read stays too: the refreshes after it build on it.
            try await connection.perform("""
                DELETE FROM snapshot WHERE id NOT IN (SELECT id FROM snapshot ORDER BY id DESC LIMIT \(max(1, keep)))
                    AND id NOT IN (SELECT id FROM snapshot WHERE read_kind = 'full' ORDER BY id DESC LIMIT 1)
                """, logger: logger)
            // Delivered at commit, and only if the transaction commits.
            try await connection.perform("SELECT pg_notify(\(SnapshotListener.channel), \(String(info.id)))", logger: logger)
            return info
        }
    }

    public func recordFailure(at date: Date, reason: String, deadline: Date?) async throws {
        let logger = logger
        try await write(deadline: deadline) { connection in
            try await connection.perform("""
                UPDATE sync_state SET last_failure_at = \(UnixTime.seconds(date)), last_failure_reason = \(reason),
                    last_attempt_at = \(UnixTime.seconds(date))
                WHERE id = 1
                """, logger: logger)
        }
    }

    /// Appends audit records with one multi-row insert. Audit appends do not queue behind a
    /// snapshot write: they touch no row a sync touches.
    public func appendDecisions(_ records: [DecisionRecord]) async throws {
        guard !records.isEmpty else { return }
        let logger = logger
        try await run { connection in
            try await connection.perform("""
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds)
                SELECT decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds
                FROM UNNEST(\(records.map { UnixTime.seconds($0.decidedAt) })::bigint[], \(records.map(\.requestId))::text[],
                            \(records.map(\.requester))::text[], \(records.map(\.resources))::text[], \(records.map(\.outcome))::text[],
                            \(records.map(\.reason))::text[], \(NullableArray(records.map(\.snapshotId)))::bigint[],
                            \(NullableArray(records.map(\.scheduleId)))::text[],
                            \(NullableArray(records.map { $0.grantedSeconds.map(Int64.init) }))::bigint[])
                     WITH ORDINALITY AS d(decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id,
                                          granted_seconds, position)
                ORDER BY position
                """, logger: logger)
        }
    }

    /// Appends keyed audit records with one multi-row insert that skips keys already present. The
    /// commit is durable when it returns, unless the server runs with `synchronous_commit = off`.
    /// `deadline` is not a lock wait here (audit appends queue behind nothing): the durable audit
    /// path bounds the whole call itself.
    public func appendDurableDecisions(_ records: [DurableDecision], deadline: Date?) async throws {
        guard !records.isEmpty else { return }
        let logger = logger
        let rows = records.map(\.record)
        try await run { connection in
            try await connection.perform("""
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id,
                                      granted_seconds, audit_key)
                SELECT decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds, audit_key
                FROM UNNEST(\(rows.map { UnixTime.seconds($0.decidedAt) })::bigint[], \(rows.map(\.requestId))::text[],
                            \(rows.map(\.requester))::text[], \(rows.map(\.resources))::text[], \(rows.map(\.outcome))::text[],
                            \(rows.map(\.reason))::text[], \(NullableArray(rows.map(\.snapshotId)))::bigint[],
                            \(NullableArray(rows.map(\.scheduleId)))::text[],
                            \(NullableArray(rows.map { $0.grantedSeconds.map(Int64.init) }))::bigint[],
                            \(records.map(\.key))::text[])
                     WITH ORDINALITY AS d(decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id,
                                          granted_seconds, audit_key, position)
                ORDER BY position
                ON CONFLICT (audit_key) DO NOTHING
                """, logger: logger)
        }
    }

    /// An INSERT of no row: checks the privilege and that the server takes writes (a standby does
    /// not), writing nothing.
    public func checkAuditWritable(deadline: Date?) async throws {
        let logger = logger
        try await run { connection in
            try await connection.perform("""
                INSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason)
                SELECT 0, '', '', '', '', '' WHERE false
                """, logger: logger)
        }
    }

    // MARK: Reads

    public func syncState() async throws -> SyncState {
        let logger = logger
        return try await run { connection in
            let rows = try await connection.query("""
                SELECT current_snapshot_id, last_success_at, last_attempt_at, last_failure_at, last_failure_reason
                FROM sync_state WHERE id = 1
                """, logger: logger).decode((Int64?, Int64?, Int64?, Int64?, String?).self)
            for try await (current, success, attempt, failure, reason) in rows {
                return SyncState(
                    currentSnapshotId: current, lastSuccessAt: success.map(UnixTime.date), lastAttemptAt: attempt.map(UnixTime.date),
                    lastFailureAt: failure.map(UnixTime.date), lastFailureReason: reason)
            }
            return SyncState()
        }
    }

    public func currentSnapshotId() async throws -> Int64? {
        let logger = logger
        return try await run { connection in
            try await SnapshotRows.currentSnapshotId(on: connection, logger: logger)
        }
    }

    public func currentSnapshotInfo() async throws -> SnapshotInfo? {
        let logger = logger
        return try await run { connection in
            try await SnapshotRows.snapshots(where: "id = (SELECT current_snapshot_id FROM sync_state WHERE id = 1)", on: connection, logger: logger).first
        }
    }

    public func snapshots() async throws -> [SnapshotInfo] {
        let logger = logger
        return try await run { connection in
            try await SnapshotRows.snapshots(where: "true", on: connection, logger: logger)
        }
    }

    public func snapshot(id: Int64) async throws -> SnapshotContents? {
        let logger = logger
        return try await readConsistently { connection in
            try await SnapshotRows.contents(id: id, on: connection, logger: logger)
        }
    }

    public func currentSnapshot() async throws -> SnapshotContents? {
        let logger = logger
        return try await readConsistently { connection in
            guard let id = try await SnapshotRows.currentSnapshotId(on: connection, logger: logger) else { return nil }
            return try await SnapshotRows.contents(id: id, on: connection, logger: logger)
        }
    }

    /// Audit records decided at or after `since` (whole seconds, rounded down, so a record of the
    /// same second is included), oldest first; a negative `limit` means none, as in SQLite.
    public func decisions(since: Date, limit: Int) async throws -> [DecisionRecord] {
        let logger = logger
        return try await run { connection in
            let rows = try await connection.query("""
                SELECT id, decided_at, request_id, requester, resources, outcome, reason, snapshot_id, schedule_id, granted_seconds
                FROM decision WHERE decided_at >= \(UnixTime.seconds(since))
                ORDER BY decided_at, id
                LIMIT \(limit < 0 ? nil : Int64(limit))
                """, logger: logger).decode((Int64, Int64, String, String, String, String, String, Int64?, String?, Int64?).self)
            var records: [DecisionRecord] = []
            for try await (id, decidedAt, requestId, requester, resources, outcome, reason, snapshotId, scheduleId, granted) in rows {
                records.append(DecisionRecord(
                    id: id, decidedAt: UnixTime.date(decidedAt), requestId: requestId, requester: requester, resources: resources,
                    outcome: outcome, reason: reason, snapshotId: snapshotId, scheduleId: scheduleId, grantedSeconds: granted.map(Int.init)))
            }
            return records
        }
    }

    // MARK: Coordination

    /// Takes the sync's advisory lock on a connection of its own, held until `release()`. If this
    /// process dies, its connection closes and the server drops the lock with the session. (If
    /// the holder's host vanishes without closing the connection, the server notices only when TCP
    /// keepalive does: set `tcp_keepalives_idle` on the server to bound that.)
    public func takeSyncLock() async throws -> (any SyncLockHolder)? {
        var configuration = connectionConfiguration
        configuration.options.additionalStartupParameters = [("application_name", "shiftgate sync lock")]
        let connection: PostgresConnection
        do {
            connection = try await Self.connect(configuration, logger: logger)
        } catch {
            throw PostgresStoreError.describing(error, at: address)
        }
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.syncLockKey))", logger: logger)
            var taken = false
            for try await answer in rows.decode(Bool.self) { taken = answer }
            guard taken else {
                try? await connection.close()
                return nil
            }
            return PostgresSyncLock(connection: connection, logger: logger)
        } catch {
            try? await connection.close()
            throw PostgresStoreError.describing(error, at: address)
        }
    }

    /// Returns when a snapshot may have been made current (a notification), or after `timeout`.
    /// When the listening connection cannot be had, this just waits out `timeout`: the caller
    /// polls `currentSnapshotId` as it would without notifications. See `SnapshotListener`.
    public func waitForChange(timeout: TimeInterval) async {
        await listener.wait(timeout: timeout)
    }

    public func close() async {
        await listener.close()
        await connections.close()
    }
}

/// The sync's advisory lock, held by its own connection until released.
final class PostgresSyncLock: SyncLockHolder {
    private let connection: Mutex<PostgresConnection?>
    private let logger: Logger

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = Mutex(connection)
        self.logger = logger
    }

    /// Unlocks, then closes the connection. Closing alone would free the lock too, but only once
    /// the server has noticed, so the next taker could still find it held; a connection the server
    /// has already ended holds no lock, and is only closed (a query on it would never answer).
    func release() async {
        guard let connection = self.connection.withLock({ $0.take() }) else { return }
        if !connection.isClosed {
            try? await connection.perform("SELECT pg_advisory_unlock(\(PostgresCacheStore.syncLockKey))", logger: logger)
        }
        try? await connection.close()
    }
}
