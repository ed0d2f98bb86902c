import Approval
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OnCallStore
import SQLiteStore
import PagerDuty
import PagerDutySimulator
import Server
import Sync
import Synchronization
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

// Fixtures shared by the reliability tests. Everything here talks to loopback only, and every loop
// is bounded by a count or a deadline.

// MARK: Sharing the machine

/// When the first reliability test asked.
private let firstAsked = Date()

/// The CPU-heavy tests (the fuzz, the kill loop, the fault table) start this long after the first
/// reliability test does (`RELIABILITY_START_DELAY` seconds, default 15). `swift test` starts every
/// suite of every target at once on two cores, and other targets have tests that time one-second
/// windows; by then they are done, and the heavy tests have the machine to themselves.
func politeStart() async {
    let delay = ProcessInfo.processInfo.environment["RELIABILITY_START_DELAY"].flatMap(Double.init) ?? 15
    let wait = firstAsked.addingTimeInterval(delay).timeIntervalSinceNow
    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
}

// MARK: Clock and roster

/// A small roster around `at`:
/// - Jane (PJANE01): Primary [T−1h, T+1h), then Secondary [T+1h, T+3h), back to back.
/// - Kate (PKATE01): Primary [T−30m, T+2h).
/// - Handoff at T+10m on Secondary: Omar [T−2h, T+10m), then Raj [T+10m, T+4h).
/// - Lee (PLEE001): Primary [T−2h, T−10m), over.
/// - Sam (PSAM001): no shift.
func roster(at T: Date = baseTime, finishedAt: Date? = nil) -> SnapshotContents {
    let people = [("PJANE01", "Jane Engineer", "Jane@Example.com"), ("PKATE01", "Kate Bell", "kate@example.com"),
                  ("POMAR01", "Omar Haddad", "omar@example.com"), ("PRAJ001", "Raj Patel", "raj@example.com"),
                  ("PLEE001", "Lee Park", "lee@example.com"), ("PSAM001", "Sam Idle", "sam@example.com")]
    func shift(_ schedule: String, _ user: String, _ from: TimeInterval, _ to: TimeInterval) -> Shift {
        Shift(scheduleId: schedule, userId: user, start: T.addingTimeInterval(from), end: T.addingTimeInterval(to))
    }
    let finished = finishedAt ?? T
    return SnapshotContents(
        info: SnapshotInfo(startedAt: finished, finishedAt: finished, windowStart: T.addingTimeInterval(-86_400), windowEnd: T.addingTimeInterval(7 * 86_400)),
        users: people.map { OnCallStore.User(id: $0.0, name: $0.1, email: $0.2, timeZone: "UTC") },
        schedules: [OnCallStore.Schedule(id: "PPRIMAR", name: "Primary", timeZone: "America/New_York"),
                    OnCallStore.Schedule(id: "PSECOND", name: "Secondary", timeZone: "Asia/Kolkata")],
        shifts: [
            shift("PPRIMAR", "PJANE01", -3600, 3600), shift("PSECOND", "PJANE01", 3600, 3 * 3600),
            shift("PPRIMAR", "PKATE01", -1800, 2 * 3600),
            shift("PSECOND", "POMAR01", -2 * 3600, 600), shift("PSECOND", "PRAJ001", 600, 4 * 3600),
            shift("PPRIMAR", "PLEE001", -2 * 3600, -600),
        ],
        policies: [OnCallStore.EscalationPolicy(id: "PPOL", name: "Platform")],
        targets: [EscalationTarget(policyId: "PPOL", level: 1, ruleId: "R1", delayMinutes: 30, kind: .schedule, targetId: "PPRIMAR"),
                  EscalationTarget(policyId: "PPOL", level: 2, ruleId: "R2", delayMinutes: 30, kind: .schedule, targetId: "PSECOND")])
}

/// Who `roster(at: T)` approves at T exactly.
let onCallAtBaseTime: Set<String> = ["jane@example.com", "kate@example.com", "omar@example.com"]
let everyoneInRoster = ["jane@example.com", "kate@example.com", "omar@example.com", "raj@example.com", "lee@example.com", "sam@example.com"]

// MARK: The webhook, built as production builds it

let quietLogger: Logger = {
    var logger = Logger(label: "reliability")
    logger.logLevel = .critical
    return logger
}()

// MARK: Indent requests

/// The requester a claim approves (the first resource), lowercased and trimmed as the server reads it.
func approvedEmail(_ claim: [String: Any]) -> String? {
    ((claim["resources"] as? [[String: Any]])?.first?["email"] as? String)?.trimmingCharacters(in: .whitespaces).lowercased()
}

/// A 4xx or 5xx must carry Indent's `{"status": {"code", "message"}}` with a message.
func hasStatusReason(_ body: ByteBuffer) -> Bool {
    guard let status = json(body)["status"] as? [String: Any] else { return false }
    return status["code"] is Int && !((status["message"] as? String) ?? "").isEmpty
}

// MARK: Snapshots

/// Everything wrong with the current snapshot: counts that do not match rows, rows that point
/// nowhere. Empty for a whole snapshot.
func snapshotProblems(_ database: OnCallDatabase, expectUsers: Int? = nil, expectSchedules: Int? = nil) throws -> [String] {
    snapshotProblems(try database.currentSnapshot(), expectUsers: expectUsers, expectSchedules: expectSchedules)
}

/// Everything wrong with `current` (from any store), as above.
func snapshotProblems(_ current: SnapshotContents?, expectUsers: Int? = nil, expectSchedules: Int? = nil) -> [String] {
    guard let current else { return ["no current snapshot"] }
    var problems: [String] = []
    let info = current.info
    if info.userCount != current.users.count { problems.append("user_count \(info.userCount) but \(current.users.count) rows") }
    if info.scheduleCount != current.schedules.count { problems.append("schedule_count \(info.scheduleCount) but \(current.schedules.count) rows") }
    if info.shiftCount != current.shifts.count { problems.append("shift_count \(info.shiftCount) but \(current.shifts.count) rows") }
    if info.policyCount != current.policies.count { problems.append("policy_count \(info.policyCount) but \(current.policies.count) rows") }
    if info.onCallCount != current.onCalls.count { problems.append("oncall_count \(info.onCallCount) but \(current.onCalls.count) rows") }
    let scheduleIds = Set(current.schedules.map(\.id))
    if let orphan = current.shifts.first(where: { !scheduleIds.contains($0.scheduleId) }) { problems.append("shift in unknown schedule \(orphan.scheduleId)") }
    if let expectUsers, current.users.count != expectUsers { problems.append("\(current.users.count) users, expected \(expectUsers)") }
    if let expectSchedules, current.schedules.count != expectSchedules { problems.append("\(current.schedules.count) schedules, expected \(expectSchedules)") }
    return problems
}

/// The roster part of a snapshot, comparable across syncs of the same account and window.
struct RosterFacts: Equatable {
    var users: Set<OnCallStore.User>
    var schedules: Set<OnCallStore.Schedule>
    var members: Set<ScheduleMember>
    var shifts: Set<Shift>
    var overrides: Set<OnCallStore.Override>
    var policies: Set<OnCallStore.EscalationPolicy>
    var targets: Set<EscalationTarget>
    var onCalls: Set<OnCallStore.OnCall>

    init(_ contents: SnapshotContents) {
        users = Set(contents.users)
        schedules = Set(contents.schedules)
        members = Set(contents.members)
        shifts = Set(contents.shifts)
        overrides = Set(contents.overrides)
        policies = Set(contents.policies)
        targets = Set(contents.targets)
        onCalls = Set(contents.onCalls)
    }
}

// MARK: In-process sync

func makeSyncer(_ running: RunningSimulator, database: OnCallDatabase, key: String = testAPIKey, concurrency: Int = 4,
                requestsPerMinute: Int = 60_000, maxAttempts: Int = 4, requestTimeout: Double = 5, maxRateLimitWait: Double = 2,
                timeout: TimeInterval = 30, lookback: TimeInterval = 86_400, horizon: TimeInterval = 7 * 86_400) -> Syncer {
    let client = PagerDutyClient(configuration: PagerDutyConfiguration(
        baseURL: running.baseURL, apiKey: key, concurrency: concurrency, requestsPerMinute: requestsPerMinute, requestTimeout: requestTimeout,
        retry: RetryPolicy(maxAttempts: maxAttempts, baseDelay: 0.05, maxDelay: 0.4, maxRateLimitWait: maxRateLimitWait)), logger: quietLogger)
    return Syncer(client: client, store: SQLiteCacheStore(database), options: SyncOptions(lookback: lookback, horizon: horizon, keep: 5, timeout: timeout), logger: quietLogger)
}

// MARK: A simulator that is shut down only when its clients are done

/// `withSimulator`, but it waits a moment before shutting the simulator down. `RunningSimulator`
/// stops by cancelling its server task; a connection NIO has accepted but Hummingbird has not yet
/// taken (a client retrying as its sync is cancelled, on a busy machine) is then dropped unfinished,
/// and NIO's debug check for that ("Deinited NIOAsyncWriter without calling finish()") kills the
/// whole test process. Letting the clients' connections settle first avoids it.
func withSettledSimulator<T>(
    _ account: SimulatedAccount, options: SimulatorOptions, settle: Double = 0.5,
    _ body: (RunningSimulator, TemporaryDirectory) async throws -> T
) async throws -> T {
    try await withSimulator(account, options: options) { running, directory in
        let result: Result<T, any Error>
        do {
            result = .success(try await body(running, directory))
        } catch {
            result = .failure(error)
        }
        if settle > 0 { try? await Task.sleep(nanoseconds: UInt64(settle * 1e9)) }
        return try result.get()
    }
}

// MARK: Blocking work off the concurrency pool

/// Runs blocking work (sockets, pipes) on a thread of its own, so that Swift concurrency's few
/// threads stay free for the servers under test. Not on GCD's global queues: on Linux, Swift
/// concurrency and those queues draw from pools that only grow, slowly, when their threads block,
/// and every test in the process would stall behind a few blocked reads.
func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

// MARK: Raw TCP on loopback

/// A blocking TCP connection to 127.0.0.1, for what an HTTP client library will not do: trickle
/// bytes, send oversized headers, hold a half-sent request. Use it from `offPool`.
final class RawConnection: @unchecked Sendable {
    let descriptor: Int32

    init?(port: Int, receiveTimeout: Double = 0.1) {
        guard let fd = connectToLoopback(port: port, receiveTimeout: receiveTimeout) else { return nil }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        descriptor = fd
    }

    deinit { Glibc.close(descriptor) }

    /// False once the peer has closed (never raises SIGPIPE).
    @discardableResult
    func send(_ data: Data) -> Bool {
        data.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let sent = Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Data(text.utf8)) }

    enum Read { case data(Data), closed, nothing }

    /// One read: bytes, the peer's close (EOF or reset), or nothing within the receive timeout.
    func read() -> Read {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count > 0 { return .data(Data(buffer[0..<count])) }
        if count == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .nothing : .closed
    }

    /// Reads until the peer closes or `deadline`; returns what arrived and whether it closed.
    func drain(until deadline: Date) -> (Data, closed: Bool) {
        var received = Data()
        while Date() < deadline {
            switch read() {
            case .data(let data): received.append(data)
            case .closed: return (received, true)
            case .nothing: continue
            }
        }
        return (received, false)
    }

    /// Reads one HTTP/1.1 response with a Content-Length body; nil when the peer closes first or
    /// `deadline` passes.
    func readResponse(until deadline: Date) -> (status: Int, body: Data)? {
        var received = Data()
        let separator = Data("\r\n\r\n".utf8)
        while Date() < deadline {
            if let end = received.range(of: separator) {
                let head = String(decoding: received[..<end.lowerBound], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                var length = 0
                for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) ?? 0
                }
                if received.count - end.upperBound >= length {
                    return (status, Data(received[end.upperBound..<(end.upperBound + length)]))
                }
            }
            switch read() {
            case .data(let data): received.append(data)
            case .closed: return nil
            case .nothing: continue
            }
        }
        return nil
    }
}

/// A raw HTTP/1.1 POST of a signed webhook body, keep-alive.
func rawWebhookRequest(_ body: Data, timestamp: String, signature: String? = nil, extraHeaders: [String] = []) -> Data {
    let sig = signature ?? IndentSignature.sign(secret: webhookSecret, timestamp: timestamp, body: body)
    var head = "POST /indent/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "X-Indent-Timestamp: \(timestamp)\r\nX-Indent-Signature: \(sig)\r\nContent-Length: \(body.count)\r\n"
    for header in extraHeaders { head += header + "\r\n" }
    head += "\r\n"
    return Data(head.utf8) + body
}

/// A port nothing listens on right now (bound once by the kernel, then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { Glibc.close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

// MARK: Child processes

/// Collects a child's output as it comes (a thread of its own reads the pipe), keeping the first
/// `headLimit` bytes and the last `tailLimit`, so a chatty child never blocks on a full pipe.
final class PipeCollector: Sendable {
    private let state = Mutex<(head: Data, tail: Data, total: Int, done: Bool)>((Data(), Data(), 0, false))
    let headLimit: Int
    let tailLimit: Int

    init(_ pipe: Pipe, headLimit: Int = 4 << 20, tailLimit: Int = 64 << 10) {
        self.headLimit = headLimit
        self.tailLimit = tailLimit
        let handle = pipe.fileHandleForReading
        // A thread of its own, not GCD: see `offPool`.
        let reader = Thread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                state.withLock { state in
                    state.total += chunk.count
                    let room = max(0, headLimit - state.head.count)
                    state.head.append(chunk.prefix(room))
                    state.tail.append(chunk)
                    if state.tail.count > tailLimit { state.tail.removeFirst(state.tail.count - tailLimit) }
                }
            }
            state.withLock { $0.done = true }
        }
        reader.stackSize = 1 << 20
        reader.start()
    }

    /// Everything kept (the head, and the tail when more was written than the head holds).
    var text: String {
        state.withLock { state in
            let head = String(decoding: state.head, as: UTF8.self)
            return state.total > state.head.count ? head + "\n…\n" + String(decoding: state.tail, as: UTF8.self) : head
        }
    }

    var bytes: Data { state.withLock { $0.head + $0.tail } }
    var isDone: Bool { state.withLock { $0.done } }

    /// Waits (bounded) for the child to write `needle`.
    func wait(for needle: String, timeout: TimeInterval) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if text.contains(needle) { return true }
            if isDone { return text.contains(needle) }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }

    /// Waits (bounded) until the pipe is closed (the child exited).
    func waitUntilDone(timeout: TimeInterval) async {
        let deadline = Date().addingTimeInterval(timeout)
        while !isDone, Date() < deadline { try? await Task.sleep(nanoseconds: 10_000_000) }
    }
}

/// A running `shiftgate` (or other product) with its output collected.
final class Child: Sendable {
    let process: Process
    let stdout: PipeCollector
    let stderr: PipeCollector
    let started = Date()

    /// - Parameter niceness: added to the child's scheduling niceness, so that a busy child yields
    ///   the CPU to tests running beside this one (timing-sensitive ones among them).
    init(_ arguments: [String], product: String = "shiftgate", environment: [String: String] = [:], niceness: Int32 = 0) throws {
        let (process, out, err) = try launch(arguments, product: product, environment: environment)
        if niceness != 0 { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(process.processIdentifier), niceness) }
        self.process = process
        stdout = PipeCollector(out)
        stderr = PipeCollector(err)
    }

    /// Starts `executable` itself (a wrapper such as `setpriv`) with `arguments`.
    init(executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let (process, out, err) = try launch(executable: URL(fileURLWithPath: executable), arguments, environment: environment)
        self.process = process
        stdout = PipeCollector(out)
        stderr = PipeCollector(err)
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits for the exit, killing the child when `timeout` passes first. Returns the status.
    @discardableResult
    func finish(timeout: TimeInterval = 60) async -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline { kill(process.processIdentifier, SIGKILL) }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        await stdout.waitUntilDone(timeout: 5)
        await stderr.waitUntilDone(timeout: 5)
        return process.terminationStatus
    }

    func signal(_ number: Int32) {
        if process.isRunning { kill(process.processIdentifier, number) }
    }

    /// Resident memory (VmRSS, KiB) from /proc, nil once the process is gone.
    var residentKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// The environment for `shiftgate sync` against a simulator.
func syncEnvironment(_ running: RunningSimulator, database: String, key: String = testAPIKey) -> [String: String] {
    ["PAGERDUTY_KEY": key, "PAGERDUTY_API_URL": running.baseURL.absoluteString, "SHIFTGATE_DATABASE": database]
}

/// Holds SQLite's write lock on `path` from another process (`sqlite3`'s `BEGIN EXCLUSIVE`) until
/// `release()`.
final class ExclusiveLockHolder: Sendable {
    let child: Process
    let input: Pipe
    let output: PipeCollector

    static let sqlite3 = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    init?(path: String) async throws {
        guard let tool = Self.sqlite3 else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [path]
        let input = Pipe()
        let out = Pipe()
        process.standardInput = input
        process.standardOutput = out
        process.standardError = out
        try process.run()
        child = process
        self.input = input
        output = PipeCollector(out)
        // sqlite3 has no busy timeout of its own: without one, BEGIN EXCLUSIVE fails at once while
        // another process writes (serve's audit writer, say), the script goes on, and "locked" is
        // printed with no lock held. Any error means the lock was not taken.
        input.fileHandleForWriting.write(Data(".timeout 10000\nBEGIN EXCLUSIVE;\nINSERT INTO decision (decided_at, request_id, requester, resources, outcome, reason) VALUES (0, 'lock', '', '[]', 'lock', 'held by a test');\nSELECT 'lock' || 'ed';\n".utf8))
        guard await output.wait(for: "locked", timeout: 15), !output.text.localizedCaseInsensitiveContains("error") else {
            process.terminate()
            throw LockError.notTaken(output.text)
        }
    }

    enum LockError: Error { case notTaken(String) }

    func release() async {
        input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(10)
        while child.isRunning, Date() < deadline { try? await Task.sleep(nanoseconds: 10_000_000) }
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }
    }
}

// MARK: Small numbers

func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
}

func milliseconds(_ seconds: Double) -> String {
    String(format: "%.1f ms", seconds * 1000)
}

/// Tallies outcomes from concurrent tasks.
final class Tally: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let notes = Mutex<[String]>([])
    func add(_ key: String, _ amount: Int = 1) { counts.withLock { $0[key, default: 0] += amount } }
    func note(_ text: String) { notes.withLock { if $0.count < 20 { $0.append(text) } } }
    var all: [String: Int] { counts.withLock { $0 } }
    var problems: [String] { notes.withLock { $0 } }
    subscript(key: String) -> Int { counts.withLock { $0[key] ?? 0 } }
}
