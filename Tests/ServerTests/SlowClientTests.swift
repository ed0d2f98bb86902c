import Foundation
import Logging
import OnCallStore
import SQLiteStore
import Server
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Slow senders are cut off: a client trickling its request head or body loses the connection.
@Suite struct SlowClientTests {
    /// Connects to loopback:port, sends `parts` with `pause` between them, and returns how long the
    /// server took to close the connection (nil if it stayed open for `patience`).
    static func trickle(port: Int, parts: [String], pause: Double, patience: Double) async -> Double? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                guard let fd = connectToLoopback(port: port, receiveTimeout: 0.1) else { return continuation.resume(returning: 0) }
                defer { close(fd) }
                let started = Date()
                var parts = parts[...]
                var nextSend = started
                var buffer = [UInt8](repeating: 0, count: 4096)
                while Date().timeIntervalSince(started) < patience {
                    if let part = parts.first, Date() >= nextSend {
                        _ = part.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                        parts = parts.dropFirst()
                        nextSend = Date().addingTimeInterval(pause)
                    }
                    let received = recv(fd, &buffer, buffer.count, 0)
                    if received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                        return continuation.resume(returning: Date().timeIntervalSince(started))
                    }
                }
                continuation.resume(returning: nil)
            }
        }
    }

    func withServer(_ body: (Int) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = try OnCallDatabase(path: directory.path("cache.sqlite"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try await buildApplication(configuration: ServerConfiguration(port: 0, webhookSecret: "s", idleTimeout: 30, requestTimeout: 0.5),
                                       store: SQLiteCacheStore(database), logger: logger, onServerRunning: { continuation.yield($0) })
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { return }
        try await body(port)
    }

    @Test func aTrickledHeadIsCutOff() async throws {
        try await withServer { port in
            let parts = ["POST /indent/webhook HTTP/1.1\r\n"] + (0..<40).map { "X-Slow-\($0): y\r\n" }
            let closedAfter = await Self.trickle(port: port, parts: parts, pause: 0.1, patience: 3)
            #expect(closedAfter != nil)
            #expect((closedAfter ?? 99) < 1.5)
        }
    }

    @Test func aTrickledBodyIsCutOff() async throws {
        try await withServer { port in
            let head = "POST /indent/webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-Indent-Signature: a\r\nX-Indent-Timestamp: b\r\n\r\n"
            let closedAfter = await Self.trickle(port: port, parts: [head] + Array(repeating: "{", count: 40), pause: 0.1, patience: 3)
            #expect(closedAfter != nil)
            #expect((closedAfter ?? 99) < 1.5)
        }
    }

    @Test func aPromptClientOnAKeptAliveConnectionIsNotCutOff() async throws {
        try await withServer { port in
            let request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            // Three prompt requests 0.3 s apart on one connection: each reply re-arms the deadline.
            let closedAfter = await Self.trickle(port: port, parts: [request, request, request], pause: 0.3, patience: 0.9)
            #expect(closedAfter == nil)
        }
    }
}
