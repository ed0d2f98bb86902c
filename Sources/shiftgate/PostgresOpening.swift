import ArgumentParser
import Logging
import OnCallStore
import PostgresStore

extension DatabaseOptions {
    /// Opens a PostgreSQL cache: connects now, so that a wrong host, user, password or TLS setting
    /// fails at start with a message naming the server (never the password). A command that writes
    /// creates or migrates the schema; one that reads refuses an empty database.
    func openPostgres(_ address: PostgresAddress, access: Access, logger: Logger) async throws -> any CacheStore {
        let createIfNeeded = switch access {
        case .read: false
        case .write: true
        }
        return try await PostgresCacheStore.open(address, password: try databasePassword(), createIfNeeded: createIfNeeded, logger: logger)
    }
}
