import Foundation
import LineLog
import Logging
import SafeText
import Testing

/// Log lines through a real file: what a reader of standard error gets when it is redirected. (A
/// pipe would block the writer once 64 KiB wait in it.)
final class LogFile {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("linelog-\(UUID().uuidString).log").path
    let write: Int32
    private let read: Int32

    init() throws {
        write = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        read = open(path, O_RDONLY)
        guard write >= 0, read >= 0 else { throw POSIXError(.EIO) }
    }

    deinit {
        close(read)
        close(write)
        unlink(path)
    }

    /// What was written since the last call.
    func available() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(read, $0.baseAddress!, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite struct LineLogTests {
    func logger(_ sink: LineSink, label: String = "shiftgate", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { LineLogHandler(label: $0, sink: sink) }
        logger.logLevel = level
        return logger
    }

    @Test func writesStreamLogHandlersLineWithSortedMergedMetadata() throws {
        let file = try LogFile()
        var logger = logger(LineSink(fileDescriptor: file.write))
        logger[metadataKey: "component"] = "serve"
        logger[metadataKey: "zone"] = "base"
        logger.info("decision", metadata: ["outcome": "approved", "zone": "explicit", "list": ["a", "b"]])
        logger.debug("plain")

        let lines = file.available().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3 && lines[2].isEmpty)
        // 2026-11-26T05:22:23+0000 info shiftgate: component=serve list=["a", "b"] outcome=approved zone=explicit [LineLogTests] decision
        let time = #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}/#
        let first = try #require(lines.first.flatMap { try? (time.wholeMatch(in: $0.prefix(24)) != nil ? $0.dropFirst(24) : nil) })
        #expect(first == #" info shiftgate: component=serve list=["a", "b"] outcome=approved zone=explicit [LineLogTests] decision"#)
        #expect(lines[1].dropFirst(24) == " debug shiftgate: component=serve zone=base [LineLogTests] plain")
    }

    /// Issue #26: a signed request's email with a newline wrote a whole forged "approved" line. Every
    /// value and the message are escaped, so one event stays one line and no value passes for another key.
    @Test func untrustedTextCannotForgeALineOrAKey() throws {
        let file = try LogFile()
        let logger = logger(LineSink(fileDescriptor: file.write))
        let forged = "nobody@example.com\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J\u{0}"
        logger.info("decision \u{1B}]0;title\u{7}", metadata: ["requester": "\(forged)", "outcome": "not_on_call", "note": "a outcome=approved",
                                                            "schedules": .stringConvertible(forged), "path": .array(["x\ny"])])
        let text = file.available()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "\(text)")
        let line = String(lines[0])
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(line.contains(#"requester="nobody@example.com\n2026-12-07T00:00:00+0000 info shiftgate: outcome=approved requester=ceo@example.com\u{1B}[2J\u{0}""#))
        #expect(line.contains(#"note="a outcome=approved""#))
        #expect(line.contains(" outcome=not_on_call "))
        #expect(line.contains(#"path=["x\\ny"]"#), "Swift writes the array's elements escaped already; the backslash is doubled")
        #expect(line.hasSuffix(#"decision \u{1B}]0;title\u{7}"#))
    }

    @Test func printableTextIsOneLineThatATerminalCannotActOn() {
        #expect("jane@example.com".printable == "jane@example.com")
        #expect("Zoë Müller, SRE Primary".printable == "Zoë Müller, SRE Primary")
        #expect("a\r\nb\tc".printable == #"a\r\nb\tc"#)
        #expect("back\\slash".printable == #"back\\slash"#, "a backslash in the text cannot pass for an escape")
        #expect("\u{1B}[31mred\u{9B}2J\u{7F}".printable == #"\u{1B}[31mred\u{9B}2J\u{7F}"#)
        #expect("a\u{2028}b\u{202E}cba\u{2066}".printable == #"a\u{2028}b\u{202E}cba\u{2066}"#)
        #expect("\u{0}".printable == #"\u{0}"#)
        #expect("plain".logValue == "plain")
        #expect("".logValue == #""""#)
        #expect("SRE Primary".logValue == #""SRE Primary""#)
        #expect(#"say "hi"=x"#.logValue == #""say \"hi\"=x""#)
    }

    @Test func anErrorAndAProviderJoinTheMetadata() throws {
        struct Refused: Error {}
        let file = try LogFile()
        let provider = Logger.MetadataProvider { ["request": "r1", "outcome": "provided"] }
        var logger = Logger(label: "") { LineLogHandler(label: $0, sink: LineSink(fileDescriptor: file.write), metadataProvider: provider) }
        logger.logLevel = .info
        logger.error("failed", error: Refused(), metadata: ["outcome": "explicit"])
        let line = file.available()
        #expect(line.dropFirst(24).hasPrefix(#" error: error.message=Refused() error.type="LineLogTests.LineLogTests.(unknown context at"#))
        #expect(line.hasSuffix(" outcome=explicit request=r1 [LineLogTests] failed\n"))
    }

    @Test func bufferedLinesWaitForTheWriterExceptWarnings() async throws {
        let file = try LogFile()
        let sink = LineSink(fileDescriptor: file.write)
        sink.startBuffering(every: .seconds(3600))
        let logger = logger(sink)
        logger.info("first")
        logger.info("second")
        #expect(file.available().isEmpty)
        // A warning takes everything before it along, in order.
        logger.warning("third")
        #expect(file.available().split(separator: "\n").map { $0.split(separator: " ").last! } == ["first", "second", "third"])
        logger.info("fourth")
        sink.flush()
        #expect(file.available().hasSuffix("] fourth\n"))
    }

    @Test func theBackgroundWriterWritesOnItsInterval() async throws {
        let file = try LogFile()
        let sink = LineSink(fileDescriptor: file.write)
        sink.startBuffering(every: .milliseconds(20))
        logger(sink).info("later")
        var seen = ""
        for _ in 0..<200 where seen.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
            seen = file.available()
        }
        #expect(seen.hasSuffix("] later\n"))
    }

    @Test func aFullBufferIsWrittenByTheCaller() throws {
        let file = try LogFile()
        let sink = LineSink(fileDescriptor: file.write)
        sink.startBuffering(every: .seconds(3600))
        let logger = logger(sink)
        let filler = String(repeating: "x", count: 1_000)
        var logged = 0
        while logged < LineSink.maxBufferedBytes + 2_000 {
            logger.info("\(filler)")
            logged += 1_050
        }
        let written = file.available().utf8.count
        #expect(written >= LineSink.maxBufferedBytes, "only \(written) bytes were written with \(logged) logged")
    }

    @Test func linesFromManyThreadsStayWhole() async throws {
        let file = try LogFile()
        let sink = LineSink(fileDescriptor: file.write)
        sink.startBuffering(every: .milliseconds(5))
        let logger = logger(sink)
        let reader = Task.detached {
            var text = ""
            while !Task.isCancelled || !text.isEmpty {
                let more = file.available()
                if more.isEmpty, Task.isCancelled { break }
                text += more
                try? await Task.sleep(for: .milliseconds(2))
            }
            return text
        }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in 0..<500 { logger.info("line", metadata: ["worker": "\(worker)", "index": "\(index)"]) }
                }
            }
        }
        sink.flush()
        try await Task.sleep(for: .milliseconds(50))
        reader.cancel()
        let lines = await reader.value.split(separator: "\n")
        #expect(lines.count == 4_000)
        #expect(lines.allSatisfy { $0.hasSuffix("[LineLogTests] line") && $0.contains(" index=") && $0.contains(" worker=") })
        #expect(Set(lines.map { $0.dropFirst(24) }).count == 4_000)
    }
}
