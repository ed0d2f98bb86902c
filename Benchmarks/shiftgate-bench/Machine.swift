import Foundation

/// What the numbers were measured on.
struct Machine {
    var processors: Int
    var memory: String
    var cpuModel: String
    var kernel: String
    var swift: String
    var commit: String
    var date: String

    static func describe() async -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let totalKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }.flatMap { Int($0) } ?? 0
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
        let swift = await firstLine(of: ["swift", "--version"]) ?? "unknown"
        var commit = await firstLine(of: ["git", "rev-parse", "--short", "HEAD"]) ?? "unknown"
        if let status = await output(of: ["git", "status", "--porcelain", "--untracked-files=no"]), !status.isEmpty {
            commit += " (with uncommitted changes)"
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return Machine(processors: ProcessInfo.processInfo.activeProcessorCount,
                       memory: String(format: "%.1f GiB", Double(totalKiB) / 1_048_576), cpuModel: model, kernel: kernel,
                       swift: swift, commit: commit, date: formatter.string(from: Date()))
    }

    private static func output(of command: [String]) async -> String? {
        let directory = FileManager.default.temporaryDirectory.path
        let stamp = UUID().uuidString
        let out = "\(directory)/bench-\(stamp).out"
        let err = "\(directory)/bench-\(stamp).err"
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        guard let child = try? ChildProcess.spawn("/usr/bin/env", command, stdoutPath: out, stderrPath: err) else { return nil }
        let usage = await child.wait()
        guard usage.succeeded else { return nil }
        return child.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func firstLine(of command: [String]) async -> String? {
        await output(of: command)?.split(separator: "\n").first.map(String.init)
    }
}
