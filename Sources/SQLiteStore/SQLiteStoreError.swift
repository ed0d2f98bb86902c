import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors opening or reading the SQLite cache file, in words an operator can act on (the
/// PostgreSQL engine has `PostgresStoreError`).
public enum SQLiteStoreError: Error, CustomStringConvertible, Equatable {
    case missing(path: String)
    case cannotCreate(path: String, reason: String)
    case readOnly(path: String)
    case lockUnavailable(path: String, reason: String)
    /// The path names a directory, not a file.
    case isDirectory(path: String)
    /// The file is not a SQLite database, or a damaged one.
    case notACache(path: String, reason: String)
    /// SQLite may not write the file or its directory (a reader too needs the `-shm` file beside a
    /// WAL-mode cache).
    case notWritable(path: String, reason: String)
    case gone(path: String)

    public var description: String {
        switch self {
        case .missing(let path):
            "no cache at \(path): run `shiftgate sync` first (or pass --database / SHIFTGATE_DATABASE)"
        case .cannotCreate(let path, let reason):
            "cannot create the cache at \(path): \(reason)"
        case .readOnly(let path):
            "the cache at \(path) was opened for reading only"
        case .lockUnavailable(let path, let reason):
            "cannot take the sync lock \(path): \(reason)"
                + (reason == String(cString: strerror(EACCES)) || reason == String(cString: strerror(EROFS))
                    ? "; sync creates it beside the cache: give the user running sync write access to that directory, or pass another --database" : "")
        case .isDirectory(let path):
            "\(path) is a directory, not a cache file: pass the file's path to --database (or SHIFTGATE_DATABASE), e.g. \((path as NSString).appendingPathComponent("shiftgate.sqlite"))"
        case .notACache(let path, let reason):
            "\(path) is not a usable cache (\(reason)): move it aside and run `shiftgate sync` to build a new one, or pass the right --database"
        case .notWritable(let path, let reason):
            "the cache at \(path) is read-only for this user (\(reason)): give the user running shiftgate write access to the file and its directory "
                + "(SQLite keeps \(path)-wal and \(path)-shm beside it, even for reading), or pass another --database"
        case .gone(let path):
            "the cache file \(path) was deleted or moved while open: nothing is written to the old file until a sync makes a new one there"
        }
    }
}
