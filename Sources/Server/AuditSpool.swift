import Foundation
import OnCallStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where approvals' audit records go when the cache cannot be written: an append-only file of one
/// JSON record a line, each batch written and `fsync`ed before `append` returns (the folder too,
/// when the file is created). The audit writer moves its records into the cache when the cache can
/// be written again, in order, and then empties the file; every record carries its key, so a move
/// repeated after a crash leaves each record in the table once.
///
/// A line without its newline at the end (a write cut short by a crash: its approval was never
/// sent) is cut off when the file is opened and reported. The file is locked (`flock`) while it is
/// appended to or moved, so two `serve` processes on one SQLite file may share it.
///
/// The file is `DurableSpool`, which holds any `Codable` record (a grants ledger's intents could use
/// one of their own); the audit's records are keyed `DurableDecision`s.
public typealias AuditSpool = DurableSpool<DurableDecision>

/// An append-only, `fsync`ed file of `Record`s, one JSON object a line: see `AuditSpool`.
public final class DurableSpool<Record: Codable & Sendable>: Sendable {
    public let path: String
    private let descriptor: Int32
    private let waiting: Mutex<Int>

    /// What opening found: the records waiting, and the bytes of a torn last line cut off.
    public struct Opening: Sendable {
        public var waiting: Int
        public var tornBytes: Int
    }

    public let opening: Opening

    /// Opens (creating with mode 0600, and syncing the folder) the spool at `path`.
    public init(path: String) throws(AuditSpoolError) {
        self.path = path
        let existed = FileManager.default.fileExists(atPath: path)
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditSpoolError("cannot open the spool \(path): \(String(cString: strerror(errno)))") }
        descriptor = fd
        if !existed {
            let folder = (path as NSString).deletingLastPathComponent
            Self.syncFolder(folder.isEmpty ? "." : folder)
        }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        let bytes = Self.readAll(fd)
        var torn = 0
        if let last = bytes.last, last != UInt8(ascii: "\n") {
            let keep = (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? 0
            torn = bytes.count - keep
            if ftruncate(fd, off_t(keep)) != 0 || fsync(fd) != 0 {
                close(fd)
                throw AuditSpoolError("cannot cut the torn last line off the spool \(path): \(String(cString: strerror(errno)))")
            }
        }
        let count = bytes.prefix(bytes.count - torn).count { $0 == UInt8(ascii: "\n") }
        waiting = Mutex(count)
        opening = Opening(waiting: count, tornBytes: torn)
    }

    deinit { close(descriptor) }

    /// Records waiting in the file.
    public var count: Int { waiting.withLock { $0 } }

    /// Appends `records` and syncs them to disk; on any failure the file is cut back to where it
    /// was (so no half line stays) and this throws: the records are not in the spool.
    public func append(_ records: [Record]) throws(AuditSpoolError) {
        guard !records.isEmpty else { return }
        var bytes = Data()
        for record in records {
            bytes.append(Self.encode(record))
            bytes.append(UInt8(ascii: "\n"))
        }
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        let start = lseek(descriptor, 0, SEEK_END)
        let written = bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let count = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        guard written, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            if start >= 0 { _ = ftruncate(descriptor, start) }
            throw AuditSpoolError("cannot write the spool \(path): \(reason)")
        }
        waiting.withLock { $0 += records.count }
    }

    /// Hands the records waiting, oldest first, to `move` while holding the file's lock; when it
    /// returns, the file is emptied and synced. A line that cannot be read is skipped and counted.
    /// Returns how many were moved and how many lines were skipped; throws what `move` threw (the
    /// file is then left as it was).
    /// Only one task of a process drains or appends at a time (the audit writer's leader): `flock`
    /// keeps other processes out, not other tasks.
    public func drain(_ move: ([Record]) async throws -> Void) async throws -> (moved: Int, skipped: Int) {
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        let bytes = Self.readAll(descriptor)
        var records: [Record] = []
        var skipped = 0
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            if let record = Self.decode(Data(line)) { records.append(record) } else { skipped += 1 }
        }
        if !records.isEmpty { try await move(records) }
        guard ftruncate(descriptor, 0) == 0, fsync(descriptor) == 0 else {
            // Moved but not emptied: the next move skips them by key.
            throw AuditSpoolError("cannot empty the spool \(path): \(String(cString: strerror(errno)))")
        }
        waiting.withLock { $0 = 0 }
        return (records.count, skipped)
    }

    /// The records waiting, oldest first, without moving them (for `status` and tests).
    public func records() -> [Record] {
        flock(descriptor, LOCK_SH)
        defer { flock(descriptor, LOCK_UN) }
        return Self.readAll(descriptor).split(separator: UInt8(ascii: "\n")).compactMap { Self.decode(Data($0)) }
    }

    /// How many complete records a spool file holds, without opening it for writing (`status`);
    /// nil when there is no file.
    public static func waitingCount(path: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return data.count { $0 == UInt8(ascii: "\n") }
    }


    private static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var offset: off_t = 0
        while true {
            let count = pread(fd, &buffer, buffer.count, offset)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: buffer[0..<count])
            offset += off_t(count)
        }
        return data
    }

    private static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func encode(_ record: Record) -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = .sortedKeys
        // Records are plain values (strings, numbers, dates): encoding them does not fail.
        return (try? encoder.encode(record)) ?? Data("{}".utf8)
    }

    static func decode(_ line: Data) -> Record? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(Record.self, from: line)
    }
}

extension DurableSpool where Record == DurableDecision {
    /// The audit spool beside a SQLite cache file.
    public static func besideCache(_ databasePath: String) -> String {
        databasePath + ".audit-spool"
    }
}

/// The spool cannot be opened or written.
public struct AuditSpoolError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
