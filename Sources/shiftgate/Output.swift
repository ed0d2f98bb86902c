import ArgumentParser
#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import OnCallStore
import Timestamps

/// `--format` of the commands that print for people (text) or for machines (JSON).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// A snapshot's facts as the JSON outputs print them.
struct SnapshotInfoJSON: Encodable {
    var id: Int64
    var startedAt: String
    var finishedAt: String
    var windowStart: String
    var windowEnd: String
    var users: Int
    var schedules: Int
    var shiftBasedSchedules: Int
    var shifts: Int
    var escalationPolicies: Int
    var onCallEntries: Int
    var apiRequests: Int
    var rateLimited: Int
    /// "full" or "refresh".
    var read: String

    init(_ info: SnapshotInfo) {
        id = info.id
        startedAt = RFC3339.format(info.startedAt)
        finishedAt = RFC3339.format(info.finishedAt)
        windowStart = RFC3339.format(info.windowStart)
        windowEnd = RFC3339.format(info.windowEnd)
        users = info.userCount
        schedules = info.scheduleCount
        shiftBasedSchedules = info.shiftBasedScheduleCount
        shifts = info.shiftCount
        escalationPolicies = info.policyCount
        onCallEntries = info.onCallCount
        apiRequests = info.apiRequests
        rateLimited = info.rateLimited
        read = info.read.rawValue
    }
}

/// The JSON of every `--format json`: snake_case keys, sorted, indented, slashes left alone.
func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Standard output, checked: every command prints with `print` (C's buffered `stdout`), and `main`
/// calls `finish()` once the command is done, so that a full disk, `/dev/full` or a closed file
/// fails the command (exit 1, one line) instead of losing the output behind an exit 0.
enum StandardOutput {
    /// Flushes standard output; nil when all that was printed was written, else the failure, for
    /// one line on stderr.
    static func finish() -> String? {
        errno = 0
        let flushed = fflush(stdout) == 0
        guard !flushed || ferror(stdout) != 0 else { return nil }
        let reason = errno != 0 ? String(cString: strerror(errno)) : "a write failed"
        clearerr(stdout)
        return "cannot write to standard output: \(reason)"
    }
}

/// write(2), named apart from `OutputFile.write`.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}

/// `--output FILE`: the report written where the user means, never in place of something else.
///
/// A regular file (or a new one) is replaced atomically: written beside it and renamed over it, with
/// the old file's mode, so a reader sees the old report or the new one and a failed write leaves the
/// old one. A symbolic link is followed and its target written the same way (the link stays). A pipe,
/// a character or block device (`/dev/stdout`, `/dev/null`, a FIFO someone reads) is written in place,
/// as a shell's `>` would, since replacing it would take the node away from its reader. A directory or
/// a socket is refused.
enum OutputFile {
    struct WriteError: Error, CustomStringConvertible {
        var description: String
    }

    /// Writes `text` to `path`; the error names `path` and says what went wrong.
    static func write(_ text: String, to path: String) throws(WriteError) {
        let data = Array(text.utf8)
        var target = path
        for _ in 0..<32 {
            var info = stat()
            guard lstat(target, &info) == 0 else {
                guard errno == ENOENT else { throw failure(path, target, errno) }
                return try replace(target, with: data, existing: nil, naming: path)
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                return try replace(target, with: data, existing: info, naming: path)
            case S_IFLNK:
                target = try linkTarget(of: target, naming: path)
            case S_IFDIR:
                throw WriteError(description: "cannot write \(named(path, target)): it is a directory")
            case S_IFSOCK:
                throw WriteError(description: "cannot write \(named(path, target)): it is a socket")
            default:
                return try writeInPlace(target, data, naming: path)
            }
        }
        throw WriteError(description: "cannot write \(path): too many levels of symbolic links")
    }

    /// `path`, and what it leads to when that is another file.
    private static func named(_ path: String, _ target: String) -> String {
        path == target ? path : "\(path) (a link to \(target))"
    }

    private static func failure(_ path: String, _ target: String, _ code: Int32) -> WriteError {
        WriteError(description: "cannot write \(named(path, target)): \(String(cString: strerror(code)))")
    }

    /// Where the symbolic link `link` points, relative targets taken from the link's directory.
    private static func linkTarget(of link: String, naming path: String) throws(WriteError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(link, &buffer, buffer.count - 1)
        guard count >= 0 else { throw failure(path, link, errno) }
        let destination = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if destination.hasPrefix("/") { return destination }
        let directory = (link as NSString).deletingLastPathComponent
        return directory.isEmpty ? destination : directory + "/" + destination
    }

    /// Writes all of `data` to `descriptor`, retrying short writes and interruptions; errno on failure.
    private static func writeAll(_ descriptor: Int32, _ data: [UInt8]) -> Int32? {
        var offset = 0
        while offset < data.count {
            let written = data[offset...].withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// A pipe or device: opened for writing as it is (a FIFO waits for its reader), never replaced.
    private static func writeInPlace(_ target: String, _ data: [UInt8], naming path: String) throws(WriteError) {
        let descriptor = open(target, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(path, target, errno) }
        if let code = writeAll(descriptor, data) {
            close(descriptor)
            throw failure(path, target, code)
        }
        guard close(descriptor) == 0 else { throw failure(path, target, errno) }
    }

    /// A regular file, or none yet: a temporary file beside it, renamed over it once whole.
    private static func replace(_ target: String, with data: [UInt8], existing: stat?, naming path: String) throws(WriteError) {
        let directory = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        var template = Array(((directory.isEmpty ? "" : directory + "/") + ".\(name).XXXXXX").utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw failure(path, target, errno) }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        func abandon(_ code: Int32) -> WriteError {
            close(descriptor)
            unlink(temporary)
            return failure(path, target, code)
        }
        if let existing {
            // The old file's mode (and owner, where allowed: a root run keeps a user's file theirs).
            fchmod(descriptor, existing.st_mode & 0o7777)
            _ = fchown(descriptor, existing.st_uid, existing.st_gid)
        } else {
            let mask = umask(0)
            umask(mask)
            fchmod(descriptor, 0o666 & ~mask)
        }
        if let code = writeAll(descriptor, data) { throw abandon(code) }
        guard fsync(descriptor) == 0 else { throw abandon(errno) }
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, target, code)
        }
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure(path, target, code)
        }
    }
}
