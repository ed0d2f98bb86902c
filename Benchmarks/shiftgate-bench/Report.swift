import Foundation

/// The run's results as Markdown: printed as each section finishes and written to one file at the
/// end, ready to paste into BENCHMARKS.md.
final class BenchReport {
    private(set) var text = ""
    let outputPath: String

    init(outputPath: String) {
        self.outputPath = outputPath
    }

    func heading(_ title: String) {
        emit("\n## \(title)\n")
    }

    func line(_ text: String) {
        emit(text)
    }

    func table(_ header: [String], _ rows: [[String]]) {
        var out = "| " + header.joined(separator: " | ") + " |\n"
        out += "|" + header.map { _ in " --- |" }.joined() + "\n"
        for row in rows { out += "| " + row.joined(separator: " | ") + " |\n" }
        emit(out)
    }

    /// Progress for the terminal only (stderr), not the report.
    func progress(_ message: String) {
        FileHandle.standardError.write(Data(("· " + message + "\n").utf8))
    }

    private func emit(_ chunk: String) {
        print(chunk)
        text += chunk + "\n"
    }

    func save() throws {
        let url = URL(fileURLWithPath: outputPath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
        FileHandle.standardError.write(Data("results written to \(outputPath)\n".utf8))
    }
}

// MARK: Number formatting

func fmt(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return "–" }
    return String(format: "%.\(digits)f", value)
}

/// Microseconds as µs below 10 ms, else ms.
func micros(_ value: Double) -> String {
    guard value.isFinite else { return "–" }
    if value < 1000 { return "\(fmt(value, 0)) µs" }
    if value < 10_000 { return "\(fmt(value / 1000, 2)) ms" }
    return "\(fmt(value / 1000, 1)) ms"
}

func grouped(_ value: Int) -> String {
    let digits = String(value)
    var out = ""
    for (offset, character) in digits.reversed().enumerated() {
        if offset > 0, offset % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}

func mib(kib: Int) -> String { fmt(Double(kib) / 1024, 1) + " MiB" }

func mib(bytes: Int) -> String { fmt(Double(bytes) / 1_048_576, 1) + " MiB" }
