import Approval
import Foundation
import HummingbirdTesting
import Server
import Testing
import TestSupport

/// Clients that hold connections open or send too much, over raw TCP on loopback.
@Suite(.serialized) struct SlowClientTests {
    /// Short, so the tests are quick; production's default is 15 s.
    static let idle: TimeInterval = 1

    /// Checks the server still answers a normal request on a fresh connection.
    static func stillServes(port: Int) async -> Bool {
        await offPool {
            guard let connection = RawConnection(port: port) else { return false }
            let body = requestBody([accessRequest("jane@example.com")])
            connection.send(rawWebhookRequest(body, timestamp: IndentTime.format(baseTime)))
            guard let reply = connection.readResponse(until: Date().addingTimeInterval(5)) else { return false }
            return reply.status == 200 && String(decoding: reply.body, as: UTF8.self).contains("access/approve")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aConnectionThatSendsNothingIsClosedAfterTheIdleTimeout() async throws {
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: Self.idle)) { client, _, _ in
            let port = try #require(client.port)
            let (closed, after) = await offPool { () -> (Bool, Double) in
                guard let connection = RawConnection(port: port) else { return (false, 0) }
                let started = Date()
                let (_, closed) = connection.drain(until: started.addingTimeInterval(Self.idle * 6))
                return (closed, Date().timeIntervalSince(started))
            }
            #expect(closed, "an idle connection was still open after \(after)s")
            #expect(after >= Self.idle * 0.8 && after <= Self.idle * 4, "closed after \(after)s")
            print("[reliability] idle connection: closed after \(String(format: "%.2f", after))s (idle timeout \(Self.idle)s)")
            #expect(await Self.stillServes(port: port))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func headersTrickledByteByByteAreCutOff() async throws {
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: Self.idle)) { client, _, _ in
            let port = try #require(client.port)
            // One header byte every 200 ms: each byte arrives well inside the idle timeout.
            let (closed, after, sent) = await offPool { () -> (Bool, Double, Int) in
                guard let connection = RawConnection(port: port, receiveTimeout: 0.2) else { return (false, 0, 0) }
                let head = Array("POST /indent/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 400)
                let started = Date()
                var sent = 0
                for byte in head {
                    if !connection.send(Data([byte])) { return (true, Date().timeIntervalSince(started), sent) }
                    sent += 1
                    if case .closed = connection.read() { return (true, Date().timeIntervalSince(started), sent) }
                    if Date().timeIntervalSince(started) > Self.idle * 8 { break }
                }
                return (false, Date().timeIntervalSince(started), sent)
            }
            print("[reliability] slow headers: \(closed ? "cut off" : "still open") after \(String(format: "%.2f", after))s and \(sent) bytes")
            #expect(closed, "a client trickling headers held the connection \(after)s")
            #expect(after <= Self.idle * 4)
            #expect(await Self.stillServes(port: port))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aBodyThatStopsHalfwayIsCutOff() async throws {
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: Self.idle)) { client, _, _ in
            let port = try #require(client.port)
            let (closed, after, reply) = await offPool { () -> (Bool, Double, String) in
                guard let connection = RawConnection(port: port) else { return (false, 0, "") }
                let body = requestBody([accessRequest("jane@example.com")])
                let request = rawWebhookRequest(body, timestamp: IndentTime.format(baseTime))
                connection.send(request.prefix(request.count - body.count / 2))
                let started = Date()
                let (data, closed) = connection.drain(until: started.addingTimeInterval(Self.idle * 6))
                return (closed, Date().timeIntervalSince(started), String(decoding: data, as: UTF8.self))
            }
            print("[reliability] half a body then silence: \(closed ? "closed" : "open") after \(String(format: "%.2f", after))s; reply \(reply.prefix(40).debugDescription)")
            #expect(closed, "a half-sent body held the connection \(after)s")
            #expect(!reply.contains("access/approve"))
            #expect(await Self.stillServes(port: port))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aBodyTrickledUnderTheIdleTimeoutIsCutOff() async throws {
        // The request deadline (ServerConfiguration.requestTimeout, 10 s by default) is 2 s here.
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: Self.idle, requestTimeout: 2)) { client, _, _ in
            let port = try #require(client.port)
            // Slowloris on the body: a byte every 0.4 s (under the 1 s idle timeout) for up to 6 s.
            let limit = Self.idle * 6
            let (closed, after, sent) = await offPool { () -> (Bool, Double, Int) in
                guard let connection = RawConnection(port: port, receiveTimeout: 0.4) else { return (false, 0, 0) }
                let body = Data(repeating: UInt8(ascii: " "), count: 4096)
                let head = "POST /indent/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Indent-Timestamp: x\r\nX-Indent-Signature: y\r\nContent-Length: \(body.count)\r\n\r\n"
                connection.send(head)
                let started = Date()
                var sent = 0
                while Date().timeIntervalSince(started) < limit {
                    if !connection.send(body[sent..<(sent + 1)]) { return (true, Date().timeIntervalSince(started), sent) }
                    sent += 1
                    if case .closed = connection.read() { return (true, Date().timeIntervalSince(started), sent) }
                }
                return (false, Date().timeIntervalSince(started), sent)
            }
            print("[reliability] body trickled at 2.5 bytes/s: \(closed ? "cut off" : "still open") after \(String(format: "%.2f", after))s and \(sent) bytes")
            #expect(closed, "a body trickled under the idle timeout held the connection for \(after)s")
            #expect(after < 4)
            #expect(await Self.stillServes(port: port))
        }
    }

    @Test(.timeLimit(.minutes(1)), arguments: [
        ("one 20 KiB header field", ["X-Big: " + String(repeating: "a", count: 20 * 1024)]),
        ("four 10 KiB fields (40 KiB in all)", (0..<4).map { "X-Big-\($0): " + String(repeating: "b", count: 10 * 1024) }),
        ("150 small fields", (0..<150).map { "X-Many-\($0): v" }),
        ("a 20 KiB signature", ["X-Indent-Signature-Extra: " + String(repeating: "0", count: 20 * 1024)]),
    ])
    func oversizedHeadersAreRefused(name: String, headers: [String]) async throws {
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: 5)) { client, _, _ in
            let port = try #require(client.port)
            let (closed, reply, after) = await offPool { () -> (Bool, String, Double) in
                guard let connection = RawConnection(port: port) else { return (false, "", 0) }
                let body = requestBody([accessRequest("jane@example.com")])
                let started = Date()
                connection.send(rawWebhookRequest(body, timestamp: IndentTime.format(baseTime), extraHeaders: headers))
                let (data, closed) = connection.drain(until: started.addingTimeInterval(4))
                return (closed, String(decoding: data, as: UTF8.self), Date().timeIntervalSince(started))
            }
            let status = reply.split(separator: " ").dropFirst().first.map(String.init) ?? "none"
            print("[reliability] oversized headers, \(name): status \(status), connection \(closed ? "closed" : "open") after \(String(format: "%.2f", after))s")
            #expect(closed, "the connection stayed open after \(name)")
            #expect(!reply.contains("access/approve"), "a request with \(name) was approved")
            #expect(status == "none" || status.hasPrefix("4"), "answered \(status)")
            #expect(await Self.stillServes(port: port))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func manyIdleConnectionsDoNotStopService() async throws {
        try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(idleTimeout: Self.idle)) { client, _, _ in
            let port = try #require(client.port)
            // 200 connections that send half a request and wait; normal requests still get through,
            // and the idle ones are all closed by the idle timeout.
            let holders = await offPool { () -> [RawConnection] in
                (0..<200).compactMap { _ in
                    let connection = RawConnection(port: port)
                    connection?.send("POST /indent/webhook HTTP/1.1\r\nHost: x\r\n")
                    return connection
                }
            }
            #expect(holders.count == 200)
            #expect(await Self.stillServes(port: port))
            let closed = await offPool { () -> Int in
                let deadline = Date().addingTimeInterval(Self.idle * 5)
                return holders.filter { $0.drain(until: deadline).closed }.count
            }
            print("[reliability] 200 half-open connections: service kept answering; \(closed) of 200 closed by the idle timeout")
            #expect(closed == holders.count)
        }
    }
}
