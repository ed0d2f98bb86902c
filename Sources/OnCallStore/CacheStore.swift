import Foundation

/// The cache, whichever engine holds it: SQLite (the embedded default, one host) or PostgreSQL
/// (several `serve` replicas and one `sync` sharing one cache and one audit log). The sync writes
/// through it, `serve` reads and audits through it, the commands inspect it; none of them knows the
/// engine. Every engine keeps the same promises:
///
/// - A snapshot is written whole, in one transaction that also makes it current and prunes all but
///   the newest `keep`: readers see the old roster or the new one, never part of either, and a
///   writer killed at any point leaves the previous snapshot current.
/// - One sync at a time (`takeSyncLock`), across processes (and hosts, where the engine is shared).
/// - Reads never wait for a writer.
/// - Nothing on the calling task blocks a thread: an engine whose driver blocks does that work on a
///   thread pool of its own, so `serve`'s event loops keep answering.
/// - Errors name what is wrong in words an operator can act on, and never carry a password.
public protocol CacheStore: AnyObject, Sendable {
    /// Where the cache is, for messages: a path, or a URL without any password.
    var location: String { get }

    // MARK: Writes

    /// Writes `contents` as a new snapshot, makes it current and prunes all but the newest `keep`,
    /// in one transaction. Waits for another writer at most until `deadline` (nil: the engine's
    /// default), then throws and changes nothing.
    @discardableResult
    func writeSnapshot(_ contents: SnapshotContents, keep: Int, deadline: Date?) async throws -> SnapshotInfo

    /// Notes a failed sync; the current snapshot stays as it was.
    func recordFailure(at date: Date, reason: String, deadline: Date?) async throws

    /// Appends audit records in one transaction.
    func appendDecisions(_ records: [DecisionRecord]) async throws

    /// Appends keyed audit records in one transaction, in order, skipping any whose key the table
    /// already holds (a record moved from the spool twice, or written both directly and through the
    /// spool, is there once). Returns only once the transaction is durable: SQLite's WAL synced
    /// (`synchronous = FULL`), PostgreSQL's commit flushed (`synchronous_commit` as the server has it,
    /// `on` by default). Waits for another writer at most until `deadline`, then throws.
    func appendDurableDecisions(_ records: [DurableDecision], deadline: Date?) async throws

    /// Throws, with the reason, when audit records cannot be written now (a read-only file or
    /// database, a missing INSERT privilege, a deleted cache file, an unreachable server, another
    /// process's write lock held past `deadline`). Writes nothing.
    func checkAuditWritable(deadline: Date?) async throws

    // MARK: Reads

    func syncState() async throws -> SyncState

    /// The current snapshot's id, cheaply (the server asks often).
    func currentSnapshotId() async throws -> Int64?

    func currentSnapshotInfo() async throws -> SnapshotInfo?

    /// Every kept snapshot, oldest first.
    func snapshots() async throws -> [SnapshotInfo]

    /// One snapshot in full, read in one transaction; nil when it is not kept.
    func snapshot(id: Int64) async throws -> SnapshotContents?

    /// The current snapshot in full, or nil when no sync has completed.
    func currentSnapshot() async throws -> SnapshotContents?

    /// Audit records decided at or after `since`, oldest first, at most `limit`.
    func decisions(since: Date, limit: Int) async throws -> [DecisionRecord]

    // MARK: Coordination

    /// The right to sync, held until `release()` or the process ends; nil when another sync holds
    /// it (the caller exits 75).
    func takeSyncLock() async throws -> (any SyncLockHolder)?

    /// Returns when a new snapshot may have been made current (a notification, where the engine has
    /// them), or after `timeout` at the latest: the server's reloader calls this in a loop.
    func waitForChange(timeout: TimeInterval) async

    /// Lets go of connections and threads. The store is not used afterwards.
    func close() async

    /// Housekeeping a long-running writer (`serve`) does every so often, off its request path: SQLite
    /// checkpoints its WAL here, so that no commit an approval waits for does it. Nothing elsewhere.
    func maintain() async
}

extension CacheStore {
    public func maintain() async {}

    public func decisions(since: Date) async throws -> [DecisionRecord] {
        try await decisions(since: since, limit: 10_000)
    }

    @discardableResult
    public func writeSnapshot(_ contents: SnapshotContents, keep: Int) async throws -> SnapshotInfo {
        try await writeSnapshot(contents, keep: keep, deadline: nil)
    }
}

/// An audit record with a key of its own, so that writing it more than once leaves it in the table
/// once: the durable audit path (and its spool) uses these.
public struct DurableDecision: Sendable, Hashable, Codable {
    public var key: String
    public var record: DecisionRecord

    public init(key: String = DurableDecision.newKey(), record: DecisionRecord) {
        self.key = key
        self.record = record
    }

    /// A new key: the time in nanoseconds (16 hex digits), then 64 random bits. Keys made later sort
    /// later, so the key's unique index grows at its right edge, as the table does: a commit dirties
    /// the same few pages as the one before, and a WAL checkpoint has few to copy (random UUIDs put
    /// each key on a page of its own and made each checkpoint copy hundreds).
    public static func newKey(now: Date = Date()) -> String {
        let nanoseconds = UInt64(max(0, now.timeIntervalSince1970) * 1e9)
        let time = String(nanoseconds, radix: 16)
        let random = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - time.count) + time + "-" + String(repeating: "0", count: 16 - random.count) + random
    }
}

/// A held sync lock.
public protocol SyncLockHolder: Sendable {
    func release() async
}

/// How a store is opened by the commands: `--database` / `SHIFTGATE_DATABASE` is a path (SQLite) or
/// a `postgres://` or `postgresql://` URL (PostgreSQL).
public enum StoreAddress: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresAddress)

    /// Reads `--database`'s value. A URL whose scheme is neither is refused, as is a password in a
    /// PostgreSQL URL (it would end up in shell histories, process lists and unit files; give it in
    /// `PGPASSWORD` or a file instead).
    public init(_ text: String) throws(StoreAddressError) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            self = .postgres(try PostgresAddress(text))
        } else if let colon = text.range(of: "://"), !text[..<colon.lowerBound].contains("/") {
            throw StoreAddressError("'\(text[..<colon.lowerBound])://' is not a cache Shiftgate knows: give a file path (SQLite) or a postgres:// URL")
        } else {
            self = .sqlite(path: text)
        }
    }
}

/// A PostgreSQL cache's address, from `postgres://USER@HOST:PORT/DB?sslmode=disable|require|verify-full`.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable {
        /// Plain TCP (a private network, or loopback).
        case disable
        /// TLS, the server's certificate not checked.
        case require
        /// TLS, the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public init(user: String, host: String, port: Int = 5432, database: String, tls: TLSMode = .require) {
        self.user = user
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
    }

    public init(_ text: String) throws(StoreAddressError) {
        guard let components = URLComponents(string: text), let host = components.host, !host.isEmpty else {
            throw StoreAddressError("'\(Self.redacted(text))' is not a postgres://USER@HOST:PORT/DB URL")
        }
        guard components.password == nil else {
            throw StoreAddressError("the database URL holds a password: give it in PGPASSWORD, --database-password-file or $CREDENTIALS_DIRECTORY/database-password instead")
        }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else {
            throw StoreAddressError("the database URL names no user: postgres://USER@HOST:PORT/DB")
        }
        let database = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        guard !database.isEmpty else {
            throw StoreAddressError("the database URL names no database: postgres://USER@HOST:PORT/DB")
        }
        var tls = TLSMode.require
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw StoreAddressError("the database URL's option '\(item.name)' is not known; only sslmode=disable|require|verify-full is")
            }
            guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                throw StoreAddressError("sslmode must be disable, require or verify-full, not '\(item.value ?? "")'")
            }
            tls = mode
        }
        self.init(user: user, host: host, port: components.port ?? 5432, database: database, tls: tls)
    }

    /// The URL without a password (there never is one): safe for logs, `status` and errors.
    public var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)?sslmode=\(tls.rawValue)"
    }

    /// `text` with anything between `://` and `@` past a colon hidden, for an error about a URL
    /// that could not be read.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", range: scheme.upperBound..<text.endIndex),
              let colon = text.range(of: ":", range: scheme.upperBound..<at.lowerBound) else { return text }
        return text.replacingCharacters(in: colon.upperBound..<at.lowerBound, with: "***")
    }
}

/// A `--database` value that cannot be used.
public struct StoreAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
