import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished child cost, from `wait4`'s rusage: the kernel's own account, so the peak RSS is
/// the child's real high-water mark (not a sample).
struct ChildUsage: Sendable {
    /// Exit status, or minus the signal that ended it.
    var status: Int32
    var wallSeconds: Double
    /// Peak resident set size in KiB: GNU time's %M for `spawnMeasured`, else `ru_maxrss` (see there).
    var peakRSSKiB: Int
    var userSeconds: Double
    var systemSeconds: Double

    var succeeded: Bool { status == 0 }
    var peakRSSMiB: Double { Double(peakRSSKiB) / 1024 }
}

/// A child started with `posix_spawn` (stdin from /dev/null, stdout and stderr to files), reaped with
/// `wait4` so that its rusage comes back with it. Foundation's `Process` hides the rusage.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    /// Set once, right after spawning, before the object is shared.
    private(set) var timeFile: String?
    let stdoutPath: String
    let stderrPath: String
    let started: Double

    private init(pid: pid_t, stdoutPath: String, stderrPath: String, started: Double) {
        self.pid = pid
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.started = started
    }

    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                      stdoutPath: String, stderrPath: String) throws -> ChildProcess {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var pid: pid_t = 0
        let started = monotonicSeconds()
        let code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard code == 0 else {
            throw BenchError("cannot start \(executable): \(String(cString: strerror(code)))")
        }
        return ChildProcess(pid: pid, stdoutPath: stdoutPath, stderrPath: stderrPath, started: started)
    }

    /// Waits for the child on a GCD thread (never blocking Swift concurrency's small pool).
    func wait() async -> ChildUsage {
        var usage = await reap()
        if let peak = measuredPeakRSSKiB { usage.peakRSSKiB = peak }
        return usage
    }

    private func reap() async -> ChildUsage {
        let pid = self.pid
        let started = self.started
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                var usage = rusage()
                while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
                let ended = monotonicSeconds()
                let signal = status & 0x7f
                let exit = signal == 0 ? (status >> 8) & 0xff : -signal
                continuation.resume(returning: ChildUsage(
                    status: exit, wallSeconds: ended - started, peakRSSKiB: Int(usage.ru_maxrss),
                    userSeconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
                    systemSeconds: Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6))
            }
        }
    }

    /// Starts `executable` under GNU time (`/usr/bin/time -f %M`) when it is installed, so that the
    /// peak RSS is the child's own. `posix_spawn` clones with CLONE_VM|CLONE_VFORK, and at exec
    /// Linux folds the address space it leaves (the parent's) into the child's `ru_maxrss`: read
    /// directly, `wait4` would report this harness's RSS for any child smaller than it. GNU time
    /// forks its child the ordinary way, from a process of a few MiB.
    static func spawnMeasured(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                              stdoutPath: String, stderrPath: String) throws -> ChildProcess {
        let time = "/usr/bin/time"
        guard FileManager.default.isExecutableFile(atPath: time) else {
            return try spawn(executable, arguments, environment: environment, stdoutPath: stdoutPath, stderrPath: stderrPath)
        }
        let child = try spawn(time, ["-f", "%M", "-o", stdoutPath + ".time", executable] + arguments, environment: environment,
                              stdoutPath: stdoutPath, stderrPath: stderrPath)
        child.timeFile = stdoutPath + ".time"
        return child
    }

    /// With `spawnMeasured`: the child's own peak RSS in KiB, as GNU time saw it.
    var measuredPeakRSSKiB: Int? {
        guard let timeFile, let text = try? String(contentsOfFile: timeFile, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Current and peak RSS (`VmRSS`, `VmHWM`) in KiB, and CPU seconds so far, from /proc.
    func sample() -> ProcessSample? {
        ProcessSample.read(pid: pid)
    }
}

/// A look at a running process through /proc.
struct ProcessSample: Sendable {
    var rssKiB: Int
    var peakRSSKiB: Int
    /// utime + stime, seconds.
    var cpuSeconds: Double

    static func read(pid: pid_t) -> ProcessSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
        }
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th overall.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard rest.count > 13, let utime = Double(rest[11]), let stime = Double(rest[12]) else { return nil }
        return ProcessSample(rssKiB: field("VmRSS") ?? 0, peakRSSKiB: field("VmHWM") ?? 0, cpuSeconds: (utime + stime) / ticks)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// A port that was free a moment ago (bind to 0, read it, close). Loopback only.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BenchError("bind: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// CPU time spent on the machine, by this process and by one other, to tell how much of a run's
/// CPU went to processes that are not part of it (other builds on a shared machine).
struct MachineCPU {
    var busySeconds: Double
    var selfSeconds: Double
    var otherSeconds: Double
    var at: Double

    static func sample(also pid: pid_t? = nil) -> MachineCPU {
        let line = ((try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? "").split(separator: "\n").first ?? ""
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let busy = values.count >= 5 ? (values.reduce(0, +) - values[3] - values[4]) / ticks : 0
        return MachineCPU(busySeconds: busy, selfSeconds: ProcessSample.read(pid: getpid())?.cpuSeconds ?? 0,
                          otherSeconds: pid.flatMap { ProcessSample.read(pid: $0)?.cpuSeconds } ?? 0, at: monotonicSeconds())
    }

    /// Cores busy with anything but this process, `pid` and `alsoExcluded` CPU seconds, on average since `start`.
    func foreignCores(since start: MachineCPU, alsoExcluded: Double = 0) -> Double {
        let elapsed = max(1e-3, at - start.at)
        let foreign = (busySeconds - start.busySeconds) - (selfSeconds - start.selfSeconds) - (otherSeconds - start.otherSeconds) - alsoExcluded
        return max(0, foreign / elapsed)
    }
}
