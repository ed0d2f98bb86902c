import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Where a run keeps its files, and the binaries it drives.
struct Lab: Sendable {
    let directory: URL
    let shiftgate: String
    let wrk: String
    let luaScript: String

    init(_ settings: BenchSettings) throws {
        let fileManager = FileManager.default
        let shiftgate = URL(fileURLWithPath: settings.shiftgate).standardizedFileURL.path
        guard fileManager.isExecutableFile(atPath: shiftgate) else {
            throw BenchError("no shiftgate binary at \(shiftgate): run `swift build -c release --product shiftgate` first")
        }
        self.shiftgate = shiftgate
        wrk = settings.wrk
        // Benchmarks/webhook.lua beside this target's folder, else relative to the working directory.
        let besideSources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("webhook.lua").path
        luaScript = fileManager.fileExists(atPath: besideSources) ? besideSources : "Benchmarks/webhook.lua"
        directory = fileManager.temporaryDirectory.appendingPathComponent("shiftgate-bench-\(UUID().uuidString.prefix(8))")
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    var hasWrk: Bool { FileManager.default.isExecutableFile(atPath: wrk) }

    /// Runs the real `shiftgate sync` as a child and reaps it with its rusage.
    func sync(apiURL: URL, key: String, database: String, rateLimit: Int, label: String, extra: [String] = [],
              environment: [String: String] = [:]) async throws -> (ChildUsage, ChildProcess) {
        let child = try ChildProcess.spawnMeasured(shiftgate, [
            "sync", "--database", database, "--api-url", apiURL.absoluteString, "--rate-limit", String(rateLimit),
            "--lookback", "1d", "--horizon", "7d", "--timeout", "30m",
        ] + extra, environment: environment.merging(["PAGERDUTY_KEY": key, "LOG_LEVEL": "warning"]) { $1 },
            stdoutPath: path("\(label).out"), stderrPath: path("\(label).err"))
        return (await child.wait(), child)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// One GET on loopback, for readiness checks and the like (not on any measured path).
func httpGet(_ url: URL, timeout: Double = 5) async -> (status: Int, body: Data)? {
    var request = URLRequest(url: url)
    request.timeoutInterval = timeout
    return await withCheckedContinuation { continuation in
        URLSession.shared.dataTask(with: request) { data, response, _ in
            guard let http = response as? HTTPURLResponse else { return continuation.resume(returning: nil) }
            continuation.resume(returning: (http.statusCode, data ?? Data()))
        }.resume()
    }
}

func sleep(seconds: Double) async {
    try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
}

func runBenchmarks(_ settings: BenchSettings) async throws {
    let lab = try Lab(settings)
    let report = BenchReport(outputPath: settings.output)
    let machine = await Machine.describe()
    report.line("# Shiftgate benchmark results (\(settings.quick ? "quick" : "full") set)\n")
    report.table(["", ""], [
        ["date", machine.date],
        ["machine", "\(machine.processors) CPUs (nproc), \(machine.memory), \(machine.cpuModel), Linux \(machine.kernel)"],
        ["toolchain", machine.swift],
        ["commit", machine.commit],
        ["command", "shiftgate-bench " + CommandLine.arguments.dropFirst().joined(separator: " ")],
        ["load average at start", loadAverage()],
    ])
    if !lab.hasWrk, settings.sections.contains(.webhook) {
        report.line("**wrk is not installed** (`apt-get install -y wrk`): the throughput columns are skipped.")
    }

    let started = monotonicSeconds()
    let runsPostgres = settings.sections.contains(.postgres) && settings.postgres != nil
    if settings.sections.contains(.postgres), settings.postgres == nil {
        report.line("**The postgres section is skipped:** no server given (`--postgres-url` or SHIFTGATE_BENCH_POSTGRES_URL; `Benchmarks/run.sh` starts a private one when PostgreSQL is installed).")
    }
    let needsFixture = !settings.sections.isDisjoint(with: [.webhook, .baseline, .underSync, .drift, .rules]) || runsPostgres
    if needsFixture {
        let fixture = try await WebhookFixture.prepare(lab: lab, settings: settings, report: report)
        do {
            var cached: WebhookNumbers?
            if settings.sections.contains(.webhook) {
                cached = try await benchWebhook(fixture, lab: lab, settings: settings, report: report)
            }
            if settings.sections.contains(.baseline) {
                try await benchBaseline(fixture, cached: cached, settings: settings, report: report)
            }
            if settings.sections.contains(.underSync) {
                try await benchUnderSync(fixture, lab: lab, settings: settings, report: report)
            }
            if settings.sections.contains(.drift) {
                try await benchDrift(fixture, lab: lab, settings: settings, report: report)
            }
            if runsPostgres, let postgres = settings.postgres {
                try await benchPostgres(fixture, postgres: postgres, lab: lab, settings: settings, report: report)
            }
            if settings.sections.contains(.rules) {
                try await benchRules(fixture, lab: lab, settings: settings, report: report)
            }
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
    if settings.sections.contains(.sync) {
        try await benchSync(lab: lab, settings: settings, report: report)
    }
    report.line("\n_Whole run: \(fmt(monotonicSeconds() - started, 0)) s; load average at the end: \(loadAverage()) (other work on the machine shows here)._")
    try report.save()
    if settings.keep {
        FileHandle.standardError.write(Data("kept \(lab.directory.path)\n".utf8))
    } else {
        lab.cleanUp()
    }
}

/// /proc/loadavg's first three fields.
func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

/// Waits (up to `limit` seconds) until the rest of the machine is quiet: less than 15 % of the CPUs
/// busy over two consecutive seconds. Other builds on a shared two-core machine move every latency
/// figure; the report says how busy it was.
func waitForQuietMachine(limit: Double = 120) async -> String {
    func ticks() -> (busy: Double, total: Double) {
        let line = ((try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? "").split(separator: "\n").first ?? ""
        let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard values.count >= 5 else { return (0, 1) }
        let idle = values[3] + values[4]
        let total = values.reduce(0, +)
        return (total - idle, total)
    }
    let started = monotonicSeconds()
    var quietSeconds = 0
    var last = 1.0
    while monotonicSeconds() - started < limit {
        let a = ticks()
        await sleep(seconds: 1)
        let b = ticks()
        last = (b.busy - a.busy) / max(1, b.total - a.total)
        quietSeconds = last < 0.15 ? quietSeconds + 1 : 0
        if quietSeconds >= 2 { return "\(fmt(last * 100, 0)) % busy just before" }
    }
    return "**\(fmt(last * 100, 0)) % busy just before (other work on the machine; waited \(fmt(limit, 0)) s)**"
}
