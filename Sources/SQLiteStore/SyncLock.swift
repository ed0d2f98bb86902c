import Foundation
import OnCallStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive, non-blocking lock beside the database (`PATH.sync-lock`), held for the whole sync so
/// that overlapping cron or timer runs do not both talk to PagerDuty. The kernel drops it when the
/// process dies, SIGKILL included, so a killed sync never leaves a stale lock behind.
public final class SyncLock: SyncLockHolder {
    public let path: String
    private let descriptor: Mutex<Int32>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    /// The lock file of the cache at `databasePath`.
    public static func path(databasePath: String) -> String {
        databasePath + ".sync-lock"
    }

    /// Takes the lock, or returns nil at once when another process holds it.
    public static func acquire(databasePath: String) throws -> SyncLock? {
        let path = path(databasePath: databasePath)
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw SQLiteStoreError.lockUnavailable(path: path, reason: String(cString: strerror(errno)))
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(descriptor)
            if code == EWOULDBLOCK { return nil }
            throw SQLiteStoreError.lockUnavailable(path: path, reason: String(cString: strerror(code)))
        }
        // The holder's pid, for an operator who wonders who has it.
        _ = ftruncate(descriptor, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
        return SyncLock(path: path, descriptor: descriptor)
    }

    /// Lets go of the lock at once (also when the lock is dropped).
    public func unlock() {
        descriptor.withLock { descriptor in
            guard descriptor >= 0 else { return }
            flock(descriptor, LOCK_UN)
            close(descriptor)
            descriptor = -1
        }
    }

    public func release() async {
        unlock()
    }

    deinit {
        unlock()
    }
}
