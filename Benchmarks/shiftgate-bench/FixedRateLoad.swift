import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One request the load generator sends, and what a right answer looks like.
struct LoadRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: [(String, String)]
    var body: [UInt8]
    /// The reply must be this status and contain this text (nil: any body).
    var expectedStatus: Int = 200
    var expectedText: String?
}

/// What a fixed-rate run saw.
struct LoadResult: Sendable {
    var requested: Int
    var completed: Int
    /// Connection failures, resets and requests still unanswered at the deadline.
    var transportErrors: Int
    /// Answers with another status or without the expected text (a fail-closed answer for someone on
    /// call counts here).
    var wrongAnswers: Int
    var seconds: Double
    /// From the moment the request was due (its slot in the schedule) to the last byte of the reply:
    /// wrk2's correction for coordinated omission, so a stall counts against every request it delayed.
    var latency: Percentiles
    /// From the moment it was written to the last byte (what an uncorrected closed-loop tool reports).
    var serviceTime: Percentiles
    /// Replies slower than 1 ms (corrected).
    var overOneMillisecond: Int
    /// The slowest reply among the requests due in each second of the run, in microseconds.
    var worstPerSecond: [Double]

    var errors: Int { transportErrors + wrongAnswers }
    var achievedRate: Double { Double(completed) / max(seconds, 1e-9) }
}

/// Latency percentiles in microseconds.
struct Percentiles: Sendable {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var p999: Double
    var max: Double

    init(nanoseconds samples: [UInt64]) {
        let sorted = samples.sorted()
        count = sorted.count
        func at(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return .nan }
            let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, rank))]) / 1000
        }
        p50 = at(0.50)
        p90 = at(0.90)
        p99 = at(0.99)
        p999 = at(0.999)
        max = sorted.last.map { Double($0) / 1000 } ?? .nan
    }
}

/// An open-loop load generator: requests are due at a fixed rate whatever the server does, over a
/// pool of keep-alive HTTP/1.1 connections (one request in flight per connection, no pipelining).
/// When every connection is busy the due requests wait in a queue, and their latency keeps counting
/// from when they were due. Plain `wrk` has no fixed rate (`-R` is wrk2's), and a closed loop at
/// saturation measures queueing, not the service: this is the measurement behind "p99 at 1,000/s".
///
/// Everything runs on one event loop of its own; the state lives on that loop only.
final class FixedRateLoad: @unchecked Sendable {
    private let loop: any EventLoop
    private let requests: [LoadRequest]
    private let encodedBodies: [ByteBuffer]
    private let intervalNanoseconds: Double
    private var total: Int
    private var startNanoseconds: UInt64 = 0
    private var endNanoseconds: UInt64 = 0
    private var nextIndex = 0
    private var due: [(index: Int, at: UInt64)] = []
    private var dueHead = 0
    private var idle: [Connection] = []
    private var inFlight = 0
    private var latencies: [UInt64] = []
    private var serviceTimes: [UInt64] = []
    private var completed = 0
    private var worstPerSecond: [UInt64] = []
    private var transportErrors = 0
    private var wrongAnswers = 0
    private var finished = false
    private let done: EventLoopPromise<Void>

    /// Touched on the load's event loop only.
    final class Connection: @unchecked Sendable {
        var channel: (any Channel)?
        var current: (index: Int, due: UInt64, sent: UInt64)?
        var status = 0
        var body = ByteBuffer()
    }

    private init(loop: any EventLoop, requests: [LoadRequest], rate: Double, total: Int) {
        self.loop = loop
        self.requests = requests
        self.encodedBodies = requests.map { ByteBuffer(bytes: $0.body) }
        self.intervalNanoseconds = 1e9 / rate
        self.total = total
        self.done = loop.makePromise()
        latencies.reserveCapacity(min(total, 4_000_000))
        serviceTimes.reserveCapacity(min(total, 4_000_000))
    }

    /// Sends `requests` in turn at `rate` per second for `seconds` over `connections` connections.
    static func run(host: String = "127.0.0.1", port: Int, requests: [LoadRequest], rate: Double, seconds: Double,
                    connections: Int = 8) async throws -> LoadResult {
        let load = try await start(host: host, port: port, requests: requests, rate: rate, maxSeconds: seconds, connections: connections)
        return try await load.finish()
    }

    /// Starts an open-ended run (stopped by `stop()`), capped at `maxSeconds`.
    static func start(host: String = "127.0.0.1", port: Int, requests: [LoadRequest], rate: Double, maxSeconds: Double,
                      connections: Int = 8) async throws -> FixedRateLoad {
        precondition(!requests.isEmpty && rate > 0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let load = FixedRateLoad(loop: loop, requests: requests, rate: rate, total: Int(rate * maxSeconds))
        load.group = group
        var opened: [Connection] = []
        for _ in 0..<max(1, connections) {
            let connection = Connection()
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ReplyHandler(load: load, connection: connection))
                    }
                }
                .connect(host: host, port: port).get()
            connection.channel = channel
            opened.append(connection)
        }
        let connectionsOpened = opened
        try await loop.submit {
            load.idle = connectionsOpened
            load.begin()
        }.get()
        return load
    }

    private var group: MultiThreadedEventLoopGroup?

    /// Stops scheduling new requests; those already due are still sent and awaited.
    func stop() {
        loop.execute {
            self.total = min(self.total, self.nextIndex)
            self.checkDone()
        }
    }

    /// Waits for the last reply (or a deadline 10 s after the last request was due) and closes.
    func finish() async throws -> LoadResult {
        let deadline = try await loop.submit { () -> Scheduled<Void> in
            let lastDue = Int64(self.dueTime(self.total)) - Int64(NIODeadline.now().uptimeNanoseconds)
            return self.loop.scheduleTask(in: .nanoseconds(max(0, lastDue)) + .seconds(10)) { self.giveUp() }
        }.get()
        try await done.futureResult.get()
        deadline.cancel()
        let result = try await loop.submit { () -> LoadResult in
            let elapsed = Double(max(self.endNanoseconds, self.startNanoseconds) - self.startNanoseconds) / 1e9
            return LoadResult(
                requested: self.nextIndex, completed: self.completed, transportErrors: self.transportErrors,
                wrongAnswers: self.wrongAnswers, seconds: elapsed,
                latency: Percentiles(nanoseconds: self.latencies), serviceTime: Percentiles(nanoseconds: self.serviceTimes),
                overOneMillisecond: self.latencies.lazy.filter { $0 > 1_000_000 }.count,
                worstPerSecond: self.worstPerSecond.map { Double($0) / 1000 })
        }.get()
        let channels = try await loop.submit { self.idle.compactMap(\.channel) }.get()
        for channel in channels { try? await channel.close().get() }
        try? await group?.shutdownGracefully()
        return result
    }

    // MARK: On the loop

    private func begin() {
        startNanoseconds = NIODeadline.now().uptimeNanoseconds + 5_000_000
        scheduleNextTick()
    }

    private func dueTime(_ index: Int) -> UInt64 {
        startNanoseconds + UInt64(Double(index) * intervalNanoseconds)
    }

    private func scheduleNextTick() {
        guard nextIndex < total else { return }
        loop.scheduleTask(deadline: .uptimeNanoseconds(dueTime(nextIndex))) { self.tick() }
    }

    private func tick() {
        let now = NIODeadline.now().uptimeNanoseconds
        while nextIndex < total, dueTime(nextIndex) <= now {
            due.append((nextIndex, dueTime(nextIndex)))
            nextIndex += 1
        }
        dispatch()
        scheduleNextTick()
        checkDone()
    }

    private func dispatch() {
        while dueHead < due.count, let connection = idle.popLast() {
            let next = due[dueHead]
            dueHead += 1
            send(next, on: connection)
        }
        if dueHead > 4096, dueHead * 2 > due.count {
            due.removeFirst(dueHead)
            dueHead = 0
        }
    }

    private func send(_ item: (index: Int, at: UInt64), on connection: Connection) {
        guard let channel = connection.channel else { return }
        let request = requests[item.index % requests.count]
        var headers = HTTPHeaders(request.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(request.body.count))
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)
        connection.current = (item.index, item.at, NIODeadline.now().uptimeNanoseconds)
        connection.status = 0
        connection.body.clear()
        inFlight += 1
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if !request.body.isEmpty {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(encodedBodies[item.index % requests.count])), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    fileprivate func replied(_ connection: Connection) {
        guard let current = connection.current else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        connection.current = nil
        inFlight -= 1
        completed += 1
        let latency = now - min(now, current.due)
        latencies.append(latency)
        let second = Int((current.due - min(current.due, startNanoseconds)) / 1_000_000_000)
        while worstPerSecond.count <= second { worstPerSecond.append(0) }
        worstPerSecond[second] = max(worstPerSecond[second], latency)
        serviceTimes.append(now - min(now, current.sent))
        endNanoseconds = max(endNanoseconds, now)
        let request = requests[current.index % requests.count]
        var right = connection.status == request.expectedStatus
        if right, let text = request.expectedText {
            right = connection.body.readableBytesView.firstRange(of: Array(text.utf8)) != nil
        }
        if !right { wrongAnswers += 1 }
        idle.append(connection)
        dispatch()
        checkDone()
    }

    fileprivate func failed(_ connection: Connection) {
        if connection.current != nil {
            connection.current = nil
            inFlight -= 1
            transportErrors += 1
        }
        connection.channel = nil
        idle.removeAll { $0 === connection }
        checkDone()
    }

    private func giveUp() {
        transportErrors += inFlight + (due.count - dueHead)
        inFlight = 0
        finish(now: NIODeadline.now().uptimeNanoseconds)
    }

    private func checkDone() {
        if nextIndex >= total, dueHead >= due.count, inFlight == 0 {
            finish(now: max(endNanoseconds, NIODeadline.now().uptimeNanoseconds))
        }
    }

    private func finish(now: UInt64) {
        guard !finished else { return }
        finished = true
        endNanoseconds = max(endNanoseconds, now)
        done.succeed(())
    }
}

/// Collects one reply at a time for its connection.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    let load: FixedRateLoad
    let connection: FixedRateLoad.Connection

    init(load: FixedRateLoad, connection: FixedRateLoad.Connection) {
        self.load = load
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            connection.status = Int(head.status.code)
        case .body(var buffer):
            connection.body.writeBuffer(&buffer)
        case .end:
            load.replied(connection)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        load.failed(connection)
    }
}
