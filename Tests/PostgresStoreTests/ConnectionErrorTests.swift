import Foundation
import OnCallStore
import PostgresStore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What an operator reads when the address, the user, the password, the database or TLS is wrong:
/// the server, the user, the database and SQLSTATE, never a password.
@Suite struct ConnectionErrorTests {
    func openError(_ address: PostgresAddress, password: String?) async -> PostgresStoreError? {
        await #expect(throws: PostgresStoreError.self) {
            try await PostgresCacheStore.open(address, password: password, createIfNeeded: true, logger: quietLogger)
        }
    }

    @Test func aWrongPasswordNamesTheUserAndNoPassword() async throws {
        try await withFreshDatabase { cluster, address in
            let wrong = "wrong-\(UUID().uuidString)"
            let error = try #require(await openError(address, password: wrong))
            #expect(error.kind == .authentication)
            #expect(error.description.contains("PostgreSQL at \(address.host):\(address.port) refused user '\(address.user)'"), "\(error)")
            #expect(error.description.contains("SQLSTATE 28P01"), "\(error)")
            #expect(!error.description.contains(wrong))
            if let password = cluster.password { #expect(!error.description.contains(password)) }
        }
    }

    @Test func anUnknownUserIsNamed() async throws {
        try await withFreshDatabase { cluster, address in
            var stranger = address
            stranger.user = "nobody_\(UUID().uuidString.prefix(8).lowercased())"
            let error = try #require(await openError(stranger, password: cluster.password))
            #expect(error.kind == .authentication)
            #expect(error.description.contains("refused user '\(stranger.user)'"), "\(error)")
            #expect(error.description.contains("SQLSTATE 28P01") || error.description.contains("SQLSTATE 28000"), "\(error)")
            if let password = cluster.password { #expect(!error.description.contains(password)) }
        }
    }

    @Test func aMissingDatabaseIsNamed() async throws {
        let (cluster, address) = try await freshPostgresDatabase()
        await drop(address, on: cluster)
        let error = try #require(await openError(address, password: cluster.password))
        #expect(error.kind == .noDatabase)
        #expect(error.description == "PostgreSQL at \(address.host):\(address.port) has no database '\(address.database)' (SQLSTATE 3D000): create it or fix the URL")
    }

    @Test func nothingListeningIsAnUnreachableHost() async throws {
        let port = try #require(closedLoopbackPort())
        let address = PostgresAddress(user: "shiftgate", host: "127.0.0.1", port: port, database: "shiftgate", tls: .disable)
        let error = try #require(await openError(address, password: "secret-\(port)"))
        #expect(error.kind == .unreachable)
        #expect(error.description == "cannot reach PostgreSQL at 127.0.0.1:\(port): connection refused")
        #expect(!error.description.contains("secret"))
    }

    @Test func sslmodeDecidesWhetherTLSIsUsedAndWhetherItsCertificateIsChecked() async throws {
        guard try await sharedPostgresCluster().isPrivate else {
            try Test.cancel("skipped: sslmode is tested on a private cluster, whose TLS setup is known, not on SHIFTGATE_TEST_POSTGRES_URL's")
        }
        try await withFreshDatabase { cluster, address in
            var require = address
            require.tls = .require
            var verifyFull = address
            verifyFull.tls = .verifyFull
            if cluster.offersSelfSignedTLS {
                // require: TLS, the self-signed certificate taken as it is.
                let store = try await PostgresCacheStore.open(require, password: cluster.password, createIfNeeded: true, logger: quietLogger)
                #expect(try await store.currentSnapshotId() == nil)
                await store.close()
                // verify-full: the certificate is checked against the system's roots, and refused.
                let error = try #require(await openError(verifyFull, password: cluster.password))
                #expect(error.kind == .tls, "\(error)")
                #expect(error.description.contains("TLS with PostgreSQL at \(address.host):\(address.port) failed (sslmode=verify-full)"), "\(error)")
            } else {
                let error = try #require(await openError(require, password: cluster.password))
                #expect(error.kind == .tls)
                #expect(error.description.contains("does not offer TLS, which sslmode=require asks for"), "\(error)")
            }
        }
    }

    /// A loopback port that refuses connections: bound for a moment, then released.
    func closedLoopbackPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}
