import Logging
import SafeText

/// swift-log's `StreamLogHandler` line, byte for byte, written for less:
///
///     2026-11-26T05:22:23+0000 info shiftgate: component=serve outcome=approved [Server] decision
///
/// `serve` logs one line per decision, and `StreamLogHandler` made that line a tenth of a decision's
/// CPU (BENCHMARKS.md): it merges the metadata into a new dictionary, formats the time with
/// `strftime` for every line, and writes each line with its own locked `fwrite` and `fflush`. Here the
/// metadata are merged in a small array, the time text is made once a second, and the line goes to a
/// `LineSink`, which can hold lines for a background writer.
///
/// One difference, on purpose: values and the message often carry text from a request or from
/// PagerDuty, so they are escaped (`SafeText`): control characters as `\n`, `\u{1B}` and the like,
/// and a string value with a space, `=` or `"` in double quotes. A crafted email cannot end the line
/// and write a forged one, nor pass for another `key=value` on the same line.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: LineSink

    public init(label: String, sink: LineSink, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.sink = sink
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = LineClock.shared.now()
        line.append(" ")
        line.append(event.level.rawValue)
        if !label.isEmpty {
            line.append(" ")
            line.append(label)
        }
        line.append(":")
        for (key, value) in mergedMetadata(event) {
            line.append(" ")
            line.append(key.printable)
            line.append("=")
            switch value {
            case .string(let text): line.append(text.logValue)
            case .stringConvertible(let convertible): line.append(convertible.description.logValue)
            case .array, .dictionary: line.append(value.description.printable)
            }
        }
        line.append(" [")
        line.append(event.source)
        line.append("] ")
        line.append(event.message.description.printable)
        line.append("\n")
        // Warnings and worse are written at once, with whatever waits before them.
        sink.write(line, now: event.level >= .warning)
    }

    /// The handler's metadata, then the provider's, then the event's, each key once (the later wins),
    /// sorted by key: what `StreamLogHandler` prints.
    private func mergedMetadata(_ event: LogEvent) -> [(key: String, value: Logger.Metadata.Value)] {
        let provided = metadataProvider?.get() ?? [:]
        let explicit = event.metadata ?? [:]
        var pairs: [(key: String, value: Logger.Metadata.Value)] = []
        if provided.isEmpty, event.error == nil {
            // The common case, without building a merged dictionary.
            pairs.reserveCapacity(metadata.count + explicit.count)
            for (key, value) in metadata where explicit[key] == nil { pairs.append((key, value)) }
            for (key, value) in explicit { pairs.append((key, value)) }
        } else {
            var merged = metadata
            merged.merge(provided) { _, provided in provided }
            merged.merge(explicit) { _, explicit in explicit }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            pairs = merged.map { ($0.key, $0.value) }
        }
        pairs.sort { $0.key < $1.key }
        return pairs
    }
}
