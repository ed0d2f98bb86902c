import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where log lines go: a file descriptor (standard error unless a test says otherwise).
///
/// By default each line is written with one `write(2)` as it comes. `startBuffering(every:)` makes
/// lines wait in memory and a background thread write them in one call per interval: `serve` does
/// that, because a write per decision cost more than the rest of its log line (BENCHMARKS.md). The
/// price is that a crash loses up to one interval of lines; warnings and worse, and anything
/// logged after the buffer reaches `maxBufferedBytes`, are written at once, and the process
/// writes what waits when it exits normally.
public final class LineSink: Sendable {
    public static let standardError = LineSink(fileDescriptor: STDERR_FILENO)

    /// Held lines beyond this are written by the caller, so memory stays bounded when the reader
    /// (journald, a pipe) falls behind.
    public static let maxBufferedBytes = 1 << 20

    private let fileDescriptor: Int32
    private let state = Mutex(State())
    /// One writer at a time, so lines reach the descriptor in the order they were taken out. It holds
    /// the second of two buffers: a flush swaps it with the pending one, so both are reused at their
    /// high-water mark instead of a new buffer growing from nothing for every interval.
    private let writing = Mutex<[UInt8]>([])

    private struct State {
        var buffering = false
        var pending: [UInt8] = []
    }

    public init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Holds lines and starts a thread that writes them every `interval`. Once per sink.
    public func startBuffering(every interval: Duration) {
        let started = state.withLock { state in
            defer { state.buffering = true }
            return state.buffering
        }
        guard !started else { return }
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: seconds)
                flush()
            }
        }
        thread.name = "shiftgate-log"
        thread.start()
        atexit { LineSink.flushAllAtExit() }
        LineSink.buffered.withLock { $0.append(self) }
    }

    /// Sinks that hold lines, for the exit handler (a C function pointer cannot capture one).
    private static let buffered = Mutex<[LineSink]>([])

    private static func flushAllAtExit() {
        for sink in buffered.withLock({ $0 }) { sink.flush() }
    }

    /// Adds a line; writes it, and everything before it, now when `now` or when not buffering.
    public func write(_ line: String, now: Bool) {
        let urgent = state.withLock { state -> Bool in
            state.pending.append(contentsOf: line.utf8)
            return now || !state.buffering || state.pending.count >= Self.maxBufferedBytes
        }
        if urgent { flush() }
    }

    /// Writes every waiting line.
    public func flush() {
        writing.withLock { bytes in
            state.withLock { swap(&$0.pending, &bytes) }
            guard !bytes.isEmpty else { return }
            defer { bytes.removeAll(keepingCapacity: true) }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = systemWrite(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0, errno == EINTR {
                        continue
                    } else {
                        // Nowhere to write (closed, full and non-blocking): drop the lines, as stdio would.
                        return
                    }
                }
            }
        }
    }
}

/// `write(2)`; a method named `write` hides the C function inside the class.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// The time text for log lines (`%Y-%m-%dT%H:%M:%S%z`, local time, as `StreamLogHandler` prints it),
/// made once a second.
final class LineClock: Sendable {
    static let shared = LineClock()
    private let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    func now() -> String {
        var now = time(nil)
        if let text = cache.withLock({ $0.second == now ? $0.text : nil }) { return text }
        var parts = tm()
        var buffer = [CChar](repeating: 0, count: 64)
        let text: String
        if localtime_r(&now, &parts) != nil, strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts) > 0 {
            text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        } else {
            text = "<unknown>"
        }
        cache.withLock { $0 = (now, text) }
        return text
    }
}
