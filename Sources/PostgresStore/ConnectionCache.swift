import Logging
import PostgresNIO
import Synchronization

/// The store's connections for queries: one per operation in flight, opened when none is idle,
/// kept for the next operation when it ends well (at most `maximumIdle`), closed when it ends badly.
///
/// Not PostgresNIO's `PostgresClient`, which was measured first: with the server stopped, its pool
/// retries in the background and answers a query only when its circuit breaker trips, after 60 s
/// (measured: 68 s to the first error), and once the server was back it took another 17 s to
/// connect again. `serve` calls the store from its reloader and its audit writer, which should learn
/// at once that the database is down, with the reason ("connection refused", a refused password),
/// and work again as soon as it is back. Opening a connection here fails at once, with PostgreSQL's
/// reason, and the next operation tries again.
///
/// Operations in flight are few (`serve`'s reloader, its audit writer, a command), so nothing
/// bounds how many run at once.
final class ConnectionCache: Sendable {
    private struct State {
        var idle: [PostgresConnection] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let maximumIdle: Int
    private let connect: @Sendable () async throws -> PostgresConnection

    init(maximumIdle: Int, connect: @escaping @Sendable () async throws -> PostgresConnection) {
        self.maximumIdle = maximumIdle
        self.connect = connect
    }

    /// Runs `body` on a connection of its own.
    func withConnection<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await lease()
        let result: T
        do {
            result = try await body(connection)
        } catch {
            // It may be broken, or in a state an error left it in: a new one costs little.
            try? await connection.close()
            throw error
        }
        await giveBack(connection)
        return result
    }

    /// Lets go of the idle connections; connections in use are closed when their operation ends.
    func close() async {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { try? await connection.close() }
    }

    /// An idle connection the server has not closed meanwhile (a restart, an idle timeout), or a
    /// new one. PostgresNIO never answers a query written to a closed connection, so a closed one
    /// must not be handed out.
    private func lease() async throws -> PostgresConnection {
        while let connection = state.withLock({ $0.idle.popLast() }) {
            if !connection.isClosed { return connection }
            try? await connection.close()
        }
        return try await connect()
    }

    private func giveBack(_ connection: PostgresConnection) async {
        let kept = state.withLock { state -> Bool in
            guard !state.closed, !connection.isClosed, state.idle.count < maximumIdle else { return false }
            state.idle.append(connection)
            return true
        }
        if !kept { try? await connection.close() }
    }
}
