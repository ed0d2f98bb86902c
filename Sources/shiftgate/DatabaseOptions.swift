import ArgumentParser
import Foundation
import Logging
import OnCallStore
import SQLiteStore
import Sync

/// A variable's value as the commands use it: without whitespace, CR or LF at either end (an env file
/// saved with CRLF line ends), nil when nothing is left (unset and empty mean the default alike).
func environmentSetting(_ value: String) -> String? {
    let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.isEmpty ? nil : trimmed
}

/// Options every command that reads or writes the cache takes.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The cache: a SQLite file, or postgres://USER@HOST:PORT/DB?sslmode=disable|require|verify-full (env SHIFTGATE_DATABASE).",
        valueName: "path-or-url"))
    var database: String?

    @Option(name: .long, help: ArgumentHelp(
        "PostgreSQL only: read the password from this file (else $CREDENTIALS_DIRECTORY/database-password, else PGPASSWORD).",
        valueName: "path"))
    var databasePasswordFile: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (env LOG_LEVEL).", valueName: "level"))
    var logLevel: String?

    static let defaultPath = "./shiftgate.sqlite"

    var databasePath: String {
        database ?? ProcessInfo.processInfo.environment["SHIFTGATE_DATABASE"].flatMap(environmentSetting) ?? Self.defaultPath
    }

    /// Where the cache is; a value that is neither a path nor a PostgreSQL URL is a usage error.
    var address: StoreAddress {
        get throws {
            do {
                return try StoreAddress(databasePath)
            } catch {
                throw ValidationError("--database: \(error)")
            }
        }
    }

    /// Where the cache is, for messages: the path, or the URL as `PostgresAddress` prints it (never a
    /// password, even one given in the URL by mistake).
    var location: String {
        switch try? address {
        case .sqlite(let path): path
        case .postgres(let address): address.description
        case nil: "the --database given"
        }
    }

    /// PostgreSQL's password, when one is given (none: the server may trust the host or a client
    /// certificate).
    func databasePassword() throws -> String? {
        try Self.passwordSource.readIfGiven(file: databasePasswordFile)
    }

    static let passwordSource = SecretSource(
        fileFlag: "--database-password-file", credential: "database-password", variable: "PGPASSWORD",
        missing: "no PostgreSQL password: set PGPASSWORD or pass --database-password-file")

    /// How a command uses the cache: reading only (the cache must exist), or writing (created and
    /// migrated when needed), waiting at most `busyTimeout` for another writer where that applies.
    enum Access {
        case read
        case write(busyTimeout: TimeInterval)
    }

    /// Opens the cache for `access`. The errors name the cache's location, never a password.
    func openStore(_ access: Access, logger: Logger) async throws -> any CacheStore {
        switch try address {
        case .sqlite(let path):
            switch access {
            case .read: return SQLiteCacheStore(try OnCallDatabase(path: path, mustExist: true, readOnly: true))
            case .write(let busyTimeout): return SQLiteCacheStore(try OnCallDatabase(path: path, busyTimeout: busyTimeout))
            }
        case .postgres(let address):
            return try await openPostgres(address, access: access, logger: logger)
        }
    }

    /// The cache opened for a sync, with the sync lock held: one sync at a time, and a second one
    /// exits at once (75) with `SyncError.alreadyRunning` naming where the lock is. SQLite's lock is
    /// a file beside the cache, taken before the file is opened; PostgreSQL's an advisory lock,
    /// taken once connected.
    func openStoreForSync(busyTimeout: TimeInterval, logger: Logger) async throws -> (store: any CacheStore, lock: any SyncLockHolder) {
        switch try address {
        case .sqlite(let path):
            guard let opened = try SQLiteCacheStore.openForSync(path: path, busyTimeout: busyTimeout) else {
                throw SyncError.alreadyRunning(holder: SyncLock.path(databasePath: path))
            }
            return (opened.store, opened.lock)
        case .postgres:
            let store = try await openStore(.write(busyTimeout: busyTimeout), logger: logger)
            do {
                guard let lock = try await store.takeSyncLock() else {
                    throw SyncError.alreadyRunning(holder: "the sync lock of \(store.location)")
                }
                return (store, lock)
            } catch {
                await store.close()
                throw error
            }
        }
    }

    /// Opens the cache for `access`, runs `body` with it, and closes it however `body` ends (a
    /// PostgreSQL store holds connections that must be closed before the process exits).
    func withStore<T>(_ access: Access, logger: Logger, _ body: (any CacheStore) async throws -> T) async throws -> T {
        let store = try await openStore(access, logger: logger)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    func validate() throws {
        _ = try address
        if let level = resolvedLogLevelName, Logger.Level(rawValue: level) == nil {
            // Named as the user gave it: the flag, or the variable (an env file's typo is there).
            let source = logLevel == nil ? "LOG_LEVEL" : "--log-level"
            throw ValidationError("\(source): '\(level)' is not one of trace, debug, info, notice, warning, error, critical")
        }
    }

    var resolvedLogLevelName: String? {
        logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(environmentSetting)?.lowercased()
    }

    /// Sets up swift-log once for this process (stderr; `quiet` keeps errors only).
    func bootstrapLogging(quiet: Bool = false) {
        let level: Logger.Level = quiet ? .error : (resolvedLogLevelName.flatMap(Logger.Level.init(rawValue:)) ?? .info)
        LoggingBootstrap.once(level: level)
    }
}
