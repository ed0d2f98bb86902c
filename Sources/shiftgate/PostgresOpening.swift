import ArgumentParser
import Logging
import OnCallStore

extension DatabaseOptions {
    func openPostgres(_ address: PostgresAddress, access: Access, logger: Logger) async throws -> any CacheStore {
        throw ValidationError("--database: PostgreSQL is not built into this binary yet (\(address))")
    }
}
