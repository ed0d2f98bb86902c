import Foundation
import Logging
import OnCallStore
import PostgresNIO
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server for tests, one per test process, shared; each test takes a fresh database of
/// its own (`makeDatabase()`), so tests run in parallel.
///
/// Where it comes from:
/// - `SHIFTGATE_TEST_POSTGRES_URL` (`postgres://USER@HOST:PORT/DB?sslmode=…`, the password, if any,
///   in `SHIFTGATE_TEST_POSTGRES_PASSWORD`): that server, as CI starts it. The user must be allowed
///   to create databases.
/// - Otherwise a private cluster: `initdb` into a fresh temporary directory, started with `pg_ctl`
///   on 127.0.0.1 only, on a free port, with no Unix socket, and password (scram-sha-256)
///   authentication for a test user with a random password, so a wrong password is refused as in
///   production. The binaries are looked for in PATH, then in `/usr/lib/postgresql/*/bin` (newest
///   first). As root, they run as the `postgres` user through `runuser`, which owns the directory.
///   The cluster is stopped (`pg_ctl stop -m fast`) and its directory removed when the process
///   exits or `shutdown()` is called. A process killed with SIGKILL leaves it running.
///
/// When neither can be had, `shared()` throws `PostgresTestClusterUnavailable` saying why, and
/// `freshPostgresDatabase()` cancels the calling test with that reason: it shows as skipped with
/// the reason, never silently.
///
/// Tests that stop the database under load use `stop()` and `start()` (or `restart(after:)`) on a
/// cluster this process started. Stopping the shared cluster breaks every other PostgreSQL test
/// running at that moment, so such tests take a cluster of their own with `startPrivate()`
/// (which also works when `SHIFTGATE_TEST_POSTGRES_URL` is set, if the binaries are there) and
/// `shutdown()` it at the end.
public final class PostgresTestCluster: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let password: String?
    /// The database to connect to for administration (`CREATE DATABASE`).
    public let maintenanceDatabase: String
    public let tls: PostgresAddress.TLSMode
    /// True when the server also takes TLS connections, with a self-signed certificate for
    /// 127.0.0.1 that `sslmode=require` accepts and `verify-full` refuses (a private cluster, when
    /// `openssl` is there to make the certificate).
    public var offersSelfSignedTLS: Bool { privateCluster?.selfSignedTLS ?? false }
    /// True for a cluster this process started, whose setup (and `stop()`, `start()`) it controls.
    public var isPrivate: Bool { privateCluster != nil }
    /// What this process started, nil for a server given by `SHIFTGATE_TEST_POSTGRES_URL`.
    private let privateCluster: PrivateCluster?

    private init(host: String, port: Int, user: String, password: String?, maintenanceDatabase: String, tls: PostgresAddress.TLSMode, privateCluster: PrivateCluster?) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.maintenanceDatabase = maintenanceDatabase
        self.tls = tls
        self.privateCluster = privateCluster
    }

    private static let sharedCluster = Mutex<Task<PostgresTestCluster, any Error>?>(nil)

    /// The process's shared server, started on first use.
    public static func shared() async throws -> PostgresTestCluster {
        let task = sharedCluster.withLock { task in
            if task == nil {
                task = Task {
                    let environment = ProcessInfo.processInfo.environment
                    if let url = environment["SHIFTGATE_TEST_POSTGRES_URL"], !url.isEmpty {
                        return try external(url: url, password: environment["SHIFTGATE_TEST_POSTGRES_PASSWORD"])
                    }
                    return try await startPrivate()
                }
            }
            return task!
        }
        return try await task.value
    }

    private static func external(url: String, password: String?) throws -> PostgresTestCluster {
        let address: PostgresAddress
        do {
            address = try PostgresAddress(url)
        } catch {
            throw PostgresTestClusterUnavailable("SHIFTGATE_TEST_POSTGRES_URL cannot be used: \(error)")
        }
        return PostgresTestCluster(
            host: address.host, port: address.port, user: address.user, password: password, maintenanceDatabase: address.database,
            tls: address.tls, privateCluster: nil)
    }

    /// A new private cluster, for this caller alone; `shutdown()` it when done (it also goes when
    /// the process exits).
    public static func startPrivate() async throws -> PostgresTestCluster {
        let binaries = try PrivateCluster.findBinaries()
        let cluster = try await PrivateCluster.create(binaries: binaries)
        return PostgresTestCluster(
            host: "127.0.0.1", port: cluster.port, user: PrivateCluster.user, password: cluster.password, maintenanceDatabase: "postgres",
            tls: .disable, privateCluster: cluster)
    }

    /// A new, empty database on this server, named `shiftgate_test_<random>`, and its address.
    public func makeDatabase() async throws -> PostgresAddress {
        let name = "shiftgate_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        try await withConnection(to: maintenanceDatabase) { connection in
            for try await _ in try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Self.logger) {}
        }
        return address(database: name)
    }

    /// Drops a test's database, so that a long-lived server (SHIFTGATE_TEST_POSTGRES_URL) does not
    /// fill up. `WITH (FORCE)` ends the sessions still in it; one that connects meanwhile (a
    /// listener reconnecting) makes it fail, so it is tried again. It runs in a task of its own, so
    /// that it runs even for a test that was cancelled.
    public func dropDatabase(_ address: PostgresAddress) async {
        await Task {
            for _ in 0..<5 {
                let dropped = try? await withConnection(to: maintenanceDatabase) { connection in
                    for try await _ in try await connection.query(
                        PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(address.database) WITH (FORCE)"), logger: Self.logger) {}
                    return true
                }
                if dropped == true { return }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }.value
    }

    /// The address of `database` on this server (no password: that is `password`).
    public func address(database: String) -> PostgresAddress {
        PostgresAddress(user: user, host: host, port: port, database: database, tls: tls)
    }

    /// A connection to `database` for the length of `body`, for tests' own SQL.
    @discardableResult
    public func withConnection<T: Sendable>(to database: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await PostgresConnection.connect(configuration: configuration(database: database), id: 0, logger: Self.logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// What PostgresNIO needs to connect to `database` as the test user.
    public func configuration(database: String) throws -> PostgresConnection.Configuration {
        let tlsSetting: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable:
            tlsSetting = .disable
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tlsSetting = .require(try NIOSSLContext(configuration: configuration))
        case .verifyFull:
            tlsSetting = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tlsSetting)
    }

    /// Stops the server (`pg_ctl stop -m fast`): sessions end, new connections are refused.
    public func stop() async throws {
        try await startedHere().stop()
    }

    /// Starts the stopped server again, on the same port with the same data.
    public func start() async throws {
        try await startedHere().start()
    }

    /// Stops the server, waits `delay`, starts it again.
    public func restart(after delay: Duration) async throws {
        try await stop()
        try await Task.sleep(for: delay)
        try await start()
    }

    /// Stops the server for good and removes its directory.
    public func shutdown() async {
        await privateCluster?.shutdown()
    }

    private func startedHere() throws -> PrivateCluster {
        guard let privateCluster else {
            throw PostgresTestClusterUnavailable("the PostgreSQL server from SHIFTGATE_TEST_POSTGRES_URL was not started by the tests, so they cannot stop it: use PostgresTestCluster.startPrivate()")
        }
        return privateCluster
    }

    static let logger = Logger(label: "shiftgate.test.postgres") { _ in SwiftLogNoOpLogHandler() }
}

/// Why the tests have no PostgreSQL server.
public struct PostgresTestClusterUnavailable: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The shared test server; when there is none, the calling test is cancelled (reported as skipped)
/// with the reason, or fails when `SHIFTGATE_REQUIRE_POSTGRES` is set (CI sets it: a skip there
/// would hide a broken setup).
public func sharedPostgresCluster() async throws -> PostgresTestCluster {
    do {
        return try await PostgresTestCluster.shared()
    } catch let error as PostgresTestClusterUnavailable {
        try skipOrFail(error)
    }
}

/// A private cluster for the calling test alone (one it may stop); as `sharedPostgresCluster()`
/// when none can be started. `shutdown()` it at the end.
public func privatePostgresCluster() async throws -> PostgresTestCluster {
    do {
        return try await PostgresTestCluster.startPrivate()
    } catch let error as PostgresTestClusterUnavailable {
        try skipOrFail(error)
    }
}

private func skipOrFail(_ error: PostgresTestClusterUnavailable) throws -> Never {
    let required = ProcessInfo.processInfo.environment["SHIFTGATE_REQUIRE_POSTGRES"].map { !$0.isEmpty && $0 != "0" } ?? false
    if required { throw error }
    try Test.cancel(Comment(rawValue: "skipped, no PostgreSQL for tests: \(error)"))
}

/// A fresh database on the shared test server (see `sharedPostgresCluster()` when there is none).
public func freshPostgresDatabase() async throws -> (PostgresTestCluster, PostgresAddress) {
    let cluster = try await sharedPostgresCluster()
    return (cluster, try await cluster.makeDatabase())
}

/// A cluster this process initialised and started, and the means to stop and start it.
private final class PrivateCluster: Sendable {
    static let user = "shiftgate_test"

    struct Binaries: Sendable {
        var directory: String
        /// `runuser -u postgres --` when running as root (PostgreSQL refuses to run as root).
        var prefix: [String]
    }

    let binaries: Binaries
    let directory: String
    let port: Int
    let password: String
    let selfSignedTLS: Bool
    private let stopped = Mutex(false)

    private init(binaries: Binaries, directory: String, port: Int, password: String, selfSignedTLS: Bool) {
        self.binaries = binaries
        self.directory = directory
        self.port = port
        self.password = password
        self.selfSignedTLS = selfSignedTLS
    }

    var dataDirectory: String { directory + "/data" }

    static func findBinaries() throws -> Binaries {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        let installed = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
            .map { "/usr/lib/postgresql/\($0)/bin" }
        guard let directory = (path + installed).first(where: { directory in
            ["initdb", "pg_ctl", "postgres"].allSatisfy { FileManager.default.isExecutableFile(atPath: "\(directory)/\($0)") }
        }) else {
            throw PostgresTestClusterUnavailable("no PostgreSQL binaries (initdb, pg_ctl, postgres) in PATH or /usr/lib/postgresql/*/bin; install PostgreSQL (apt-get install postgresql) or set SHIFTGATE_TEST_POSTGRES_URL")
        }
        guard getuid() == 0 else { return Binaries(directory: directory, prefix: []) }
        guard getpwnam("postgres") != nil, FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") else {
            throw PostgresTestClusterUnavailable("running as root, and PostgreSQL will not: there is no postgres user (or no runuser) to run it as; set SHIFTGATE_TEST_POSTGRES_URL or run the tests as another user")
        }
        return Binaries(directory: directory, prefix: ["/usr/sbin/runuser", "-u", "postgres", "--"])
    }

    /// Every private cluster not yet shut down, for the exit handler.
    private static let running = Mutex<[PrivateCluster]>([])

    static func create(binaries: Binaries) async throws -> PrivateCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shiftgate-postgres-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let password = "test-\(UUID().uuidString)"
        try Data(password.utf8).write(to: URL(fileURLWithPath: directory + "/password"))
        if !binaries.prefix.isEmpty, let postgres = getpwnam("postgres") {
            for path in [directory, directory + "/password"] where chown(path, postgres.pointee.pw_uid, postgres.pointee.pw_gid) != 0 {
                throw PostgresTestClusterUnavailable("cannot give \(path) to the postgres user: \(String(cString: strerror(errno)))")
            }
        }
        let initdb = try await runTool(binaries, "initdb", [
            "-D", directory + "/data", "-U", user, "--pwfile=\(directory)/password", "--auth=scram-sha-256", "-E", "UTF8",
            "--no-sync",
        ])
        guard initdb.status == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw PostgresTestClusterUnavailable("initdb failed: \(initdb.output.suffix(500))")
        }
        let selfSignedTLS = makeCertificate(in: directory + "/data", owner: binaries.prefix.isEmpty ? nil : getpwnam("postgres"))
        // A port free now may be taken before the server binds it: try a few.
        var lastFailure = ""
        for _ in 0..<5 {
            let cluster = PrivateCluster(
                binaries: binaries, directory: directory, port: freeLoopbackPort(), password: password, selfSignedTLS: selfSignedTLS)
            do {
                try await cluster.start()
                running.withLock { $0.append(cluster) }
                _ = installExitHandler
                return cluster
            } catch {
                lastFailure = "\(error)"
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw PostgresTestClusterUnavailable("PostgreSQL did not start: \(lastFailure)")
    }

    /// A self-signed certificate and key for 127.0.0.1 in the data directory, owned by the server's
    /// user; false when `openssl` is missing or fails (the cluster then offers no TLS).
    private static func makeCertificate(in dataDirectory: String, owner: UnsafeMutablePointer<passwd>?) -> Bool {
        guard let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl"].first(where: FileManager.default.isExecutableFile) else {
            return false
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-keyout", dataDirectory + "/server.key", "-out", dataDirectory + "/server.crt",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return false }
        for file in ["server.key", "server.crt"] {
            let path = dataDirectory + "/" + file
            if let owner, chown(path, owner.pointee.pw_uid, owner.pointee.pw_gid) != 0 { return false }
            if chmod(path, 0o600) != 0 { return false }
        }
        return true
    }

    func start() async throws {
        let result = try await Self.runTool(binaries, "pg_ctl", [
            "start", "-D", dataDirectory, "-l", directory + "/server.log", "-w", "-t", "60",
            "-o", "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories='' -c max_connections=300"
                + (selfSignedTLS ? " -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key" : ""),
        ])
        guard result.status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw PostgresTestClusterUnavailable("pg_ctl start failed: \(result.output.suffix(300)) \(log.suffix(500))")
        }
        stopped.withLock { $0 = false }
    }

    func stop() async throws {
        let result = try await Self.runTool(binaries, "pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60"])
        guard result.status == 0 else {
            throw PostgresTestClusterUnavailable("pg_ctl stop failed: \(result.output.suffix(500))")
        }
        stopped.withLock { $0 = true }
    }

    func shutdown() async {
        Self.running.withLock { $0.removeAll { $0 === self } }
        if !stopped.withLock({ $0 }) { try? await stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops a cluster synchronously at exit, where nothing asynchronous runs any more.
    fileprivate func shutdownAtExit() {
        if !stopped.withLock({ $0 }) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binaries.prefix.first ?? "\(binaries.directory)/pg_ctl")
            process.arguments = Array(binaries.prefix.dropFirst()) + (binaries.prefix.isEmpty ? [] : ["\(binaries.directory)/pg_ctl"])
                + ["stop", "-D", dataDirectory, "-m", "fast", "-w"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            if (try? process.run()) != nil { process.waitUntilExit() }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static let installExitHandler: Void = {
        atexit {
            for cluster in PrivateCluster.running.withLock({ $0 }) { cluster.shutdownAtExit() }
        }
    }()

    /// Runs one of PostgreSQL's tools to its end: its exit status and what it printed.
    ///
    /// Not through Foundation's `Process`: on Linux it learns that a child ended when the last copy
    /// of a descriptor it hands the child is closed, and the server that `pg_ctl start` leaves
    /// running inherits that copy, so `pg_ctl start` would never seem to end. The tool runs
    /// through bash (dash cannot name descriptors above 9), which first closes every descriptor but the standard three, so the server
    /// holds nothing of this process (another test's `Process` included), and moves to `/`, which
    /// the postgres user can enter; the output goes to a file.
    private static func runTool(_ binaries: Binaries, _ tool: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("shiftgate-postgres-tool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let closeInherited = #"cd / && for fd in /proc/self/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$@""#
        let command = ["/bin/bash", "-c", closeInherited, "bash"] + binaries.prefix + ["\(binaries.directory)/\(tool)"] + arguments
        // PostgreSQL's tools read the locale from the environment; pin it so every machine's cluster
        // sorts the same way.
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw PostgresTestClusterUnavailable("cannot run \(tool): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0, errno != EINTR {
                throw PostgresTestClusterUnavailable("lost track of \(tool): \(String(cString: strerror(errno)))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import; a signal counts as failure.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// A TCP port on 127.0.0.1 that nothing listens on at this moment.
    private static func freeLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 ? getsockname(fd, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
