import Foundation
import OnCallStore
import PostgresNIO

/// What went wrong with the PostgreSQL cache, in words an operator can act on. It names the server,
/// the user and the database, never the password: `PostgresAddress` holds none, and no message
/// here is built from the driver's own error text about a connection attempt, which could
/// carry what the client sent.
public struct PostgresStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The database holds no cache yet and the command only reads.
        case missing
        /// Nothing answered at the address (refused, timed out, no such host).
        case unreachable
        /// The server refused the user or the password (SQLSTATE 28P01, 28000).
        case authentication
        /// The database named in the URL does not exist (SQLSTATE 3D000).
        case noDatabase
        /// TLS could not be set up as `sslmode` asks.
        case tls
        /// Another writer held the cache until the deadline passed (SQLSTATE 55P03).
        case lockTimeout
        /// The connection went away in the middle of the work.
        case connectionLost
        /// Anything else the server refused, with its SQLSTATE.
        case server
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    static func missing(_ address: PostgresAddress) -> Self {
        Self(.missing, "no cache at \(address): run `shiftgate sync` first (or pass --database / SHIFTGATE_DATABASE)")
    }

    /// `error`, thrown by PostgresNIO while working with the cache at `address`, in an operator's words.
    static func describing(_ error: any Error, at address: PostgresAddress) -> any Error {
        let server = "PostgreSQL at \(address.host):\(address.port)"
        switch error {
        case let error as PostgresStoreError:
            return error
        case is CancellationError:
            return error
        case let error as PostgresTransactionError:
            // The error that ended the transaction; a failed rollback matters less (the server
            // rolls back on its own when the session ends).
            let cause = error.beginError ?? error.closureError ?? error.commitError ?? error.rollbackError
            return cause.map { describing($0, at: address) } ?? Self(.server, "\(server) ended a transaction for an unknown reason")
        case let error as PSQLError:
            return describing(error, at: address, server: server)
        default:
            return Self(.server, "\(server): \(error)")
        }
    }

    private static func describing(_ error: PSQLError, at address: PostgresAddress, server: String) -> PostgresStoreError {
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? "?"
            let message = error.serverInfo?[.message] ?? "no message"
            switch state {
            case "28P01", "28000":
                return Self(.authentication, "\(server) refused user '\(address.user)' (SQLSTATE \(state): \(message)): check the user and its password")
            case "3D000":
                return Self(.noDatabase, "\(server) has no database '\(address.database)' (SQLSTATE 3D000): create it or fix the URL")
            case "55P03":
                return Self(.lockTimeout, "another writer held the cache at \(address) past the deadline (SQLSTATE 55P03); nothing was written")
            case "57P01", "57P02", "57P03":
                return Self(.connectionLost, "\(server) is shutting down or starting up (SQLSTATE \(state): \(message))")
            default:
                return Self(.server, "\(server): \(message) (SQLSTATE \(state))")
            }
        case .connectionError:
            return connectionFailure(error.underlying, at: address, server: server)
        case .sslUnsupported:
            return Self(.tls, "\(server) does not offer TLS, which sslmode=\(address.tls.rawValue) asks for: enable ssl on the server, or use sslmode=disable on a private network")
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            return Self(.tls, "TLS with \(server) could not be set up (sslmode=\(address.tls.rawValue))")
        case .authMechanismRequiresPassword:
            return Self(.authentication, "\(server) asks user '\(address.user)' for a password and none was given")
        case .unsupportedAuthMechanism, .saslError:
            return Self(.authentication, "\(server) asks user '\(address.user)' to sign in in a way Shiftgate does not support (use scram-sha-256 or md5 in pg_hba.conf)")
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            return Self(.connectionLost, "lost the connection to \(server)")
        case .poolClosed:
            return Self(.connectionLost, "the cache at \(address) was closed")
        default:
            return Self(.server, "\(server): \(error.code)")
        }
    }

    /// A connection that failed before PostgreSQL answered: the network's reason, or TLS's.
    private static func connectionFailure(_ underlying: (any Error)?, at address: PostgresAddress, server: String) -> PostgresStoreError {
        let cannotReach = "cannot reach \(server)"
        switch underlying {
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first {
                return connectionFailure(failure.error, at: address, server: server)
            }
            return Self(.unreachable, "\(cannotReach): no address found for host '\(address.host)'")
        case let error as IOError:
            return Self(.unreachable, "\(cannotReach): \(reason(errno: error.errnoCode))")
        case let error as ChannelError:
            if case .connectTimeout = error { return Self(.unreachable, "\(cannotReach): timed out") }
            return Self(.unreachable, "\(cannotReach): \(error)")
        case let error as NIOSSLError:
            return Self(.tls, "TLS with \(server) failed (sslmode=\(address.tls.rawValue)): \(error)")
        case let error as BoringSSLError:
            return Self(.tls, "TLS with \(server) failed (sslmode=\(address.tls.rawValue)): the certificate was not accepted (\(error))")
        case let error?:
            return Self(.unreachable, "\(cannotReach): \(error)")
        case nil:
            return Self(.unreachable, cannotReach)
        }
    }

    private static func reason(errno code: CInt) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ETIMEDOUT: "timed out"
        case EHOSTUNREACH, ENETUNREACH: "no route to host"
        default: String(cString: strerror(code))
        }
    }
}
