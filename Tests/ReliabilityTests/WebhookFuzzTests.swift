import Approval
import Foundation
import JSON
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OnCallStore
import Server
import Testing
import TestSupport

/// One fuzzed request and what the generator knows about it. The expectations come from how the
/// input was made, not from the server's own checks.
struct FuzzInput {
    var kind: String
    var method: HTTPRequest.Method = .post
    var path = "/indent/webhook"
    var headers = HTTPFields()
    var body = Data()
    /// True: the signature header is the HMAC of exactly this timestamp header and body under the
    /// secret. False: it is not. Nil: the generator cannot say (duplicate headers).
    var validlySigned: Bool?
    /// True: the timestamp parses and is inside the allowed skew. Nil: the generator cannot say.
    var fresh: Bool? = true
    /// For bodies built whole: the claims a correct server returns. Nil for mutated bodies.
    var expectedClaims: Int?

    var isWebhookRoute: Bool { method == .post && (path == "/indent/webhook" || path == "/" || path.hasPrefix("/indent/webhook?")) }
}

/// Makes seeded, mostly-plausible Indent requests and mutates them.
struct WebhookFuzzer {
    var random: SeededRandom
    let now: Date
    /// Leading and trailing blanks are not part of a header value (RFC 9110 "OWS"; HTTPFields trims
    /// them too), so no input differs from another only by them.
    let overHTTP: Bool
    let maxBody = 1 << 20

    /// Emails, and whether the roster approves them at `baseTime` (trimmed and compared without case).
    static let emails: [(String?, Bool)] = [
        ("jane@example.com", true), ("JANE@EXAMPLE.COM", true), (" Jane@Example.com ", true), ("kate@example.com", true),
        ("omar@example.com", true), ("Omar@example.com\t", true),
        ("lee@example.com", false), ("raj@example.com", false), ("sam@example.com", false), ("nobody@example.com", false),
        ("jane@example.com\n", false), ("jane@example.co", false), ("jane", false), ("", false), ("   ", false), (nil, false),
        ("jane@example.com; kate@example.com", false), ("%6Aane@example.com", false), ("jane@example.com\u{0}", false),
        ("ja\u{301}ne@example.com", false), ("JANE@EXAMPLE.COM.", false), ("*", false), ("jane@example.com@evil.example", false),
    ]

    /// Requested durations and whether one can grant anything: none asked, a second or more, or
    /// Indent's indefinite `-1ns`; zero, other negatives, text that is not a duration and requests
    /// under a second grant nothing.
    static let durations: [(String?, grants: Bool)] = [
        (nil, true), ("1h0m0s", true), ("45m0s", true), ("-1ns", true), ("0s", false), ("1ns", false), ("999ms", false), ("1s", true),
        ("garbage", false), ("", false), ("99999999h", true), ("1.5h", true), ("+2m", true), ("1h-1m", false), ("-1h", false), ("PT1H", false),
    ]

    init(seed: UInt64, now: Date, overHTTP: Bool = false) {
        random = SeededRandom(seed: seed)
        self.now = now
        self.overHTTP = overHTTP
    }

    // MARK: Bodies

    /// JSON text for a string (JSONSerialization with sorted keys was most of the generator's time).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// One Indent event, as `accessRequest` builds it, written directly as JSON.
    static func eventJSON(email: String?, id: String, name: String, labels: [String: String], reason: String?, noResources: Bool) -> String {
        var actor = "{\"displayName\":\"Requester\",\"id\":\(quoted("U-" + id)),\"kind\":\"slack/user\""
        if let email { actor += ",\"email\":" + quoted(email) }
        actor += "}"
        var allLabels = labels
        allLabels["indent.com/workflow/origin/id"] = "run-1"
        let labelText = allLabels.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }.joined(separator: ",")
        let resources = noResources ? "[]" : "[{\"displayName\":\"prod-admin\",\"id\":\"arn:aws:iam::123456789012:role/prod-admin\",\"kind\":\"aws.iam.v1.Role\"}]"
        var event = "{\"actor\":\(actor),\"event\":\(quoted(name)),\"id\":\(quoted(id)),\"meta\":{\"labels\":{\(labelText)}}"
        if let reason { event += ",\"reason\":" + quoted(reason) }
        return event + ",\"resources\":\(resources),\"timestamp\":\"2024-03-12T18:00:00.000Z\"}"
    }

    static func body(events: [String]) -> Data {
        Data(("{\"events\":[" + events.joined(separator: ",") + "]}").utf8)
    }

    mutating func randomString(_ maxLength: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./@:+ \"\\{}[],\u{e9}\u{212A}\u{1F600}\u{0}\n")
        return String((0..<random.below(maxLength + 1)).map { _ in random.pick(alphabet) })
    }

    /// A whole Indent body and the claims it should get.
    mutating func wellFormedBody() -> (Data, Int) {
        switch random.below(10) {
        case 0: return (Data("{\"kinds\":[\"indent.v1.Bot\",\(Self.quoted(randomString(8)))]}".utf8), 0)
        case 1: return (Data("{\"info\":{\"name\":\(Self.quoted(randomString(12)))}}".utf8), 0)
        case 2:
            let apply = Self.eventJSON(email: random.pick(Self.emails).0, id: "g\(random.below(1_000_000))", name: random.pick(["access/grant", "access/revoke"]),
                                       labels: [:], reason: nil, noResources: false)
            return (Self.body(events: [apply, Self.eventJSON(email: "jane@example.com", id: "r1", name: "access/request", labels: [:], reason: nil, noResources: false)]), 0)
        default:
            var events: [String] = []
            var expected = 0
            for _ in 0..<(1 + random.below(3)) {
                let (email, approvable) = random.pick(Self.emails)
                let (duration, grantsSomething) = random.pick(Self.durations)
                var labels: [String: String] = [:]
                if let duration { labels["indent.com/time/duration"] = duration }
                let name = random.pick(["access/request", "access/request", "access/request", "access/other", "access/approve"])
                let reason = random.chance(0.2) ? randomString(40) : nil
                events.append(Self.eventJSON(email: email, id: "e\(random.below(1_000_000))", name: name, labels: labels, reason: reason, noResources: random.chance(0.1)))
                if name == "access/request", approvable, grantsSomething { expected += 1 }
            }
            return (Self.body(events: events), expected)
        }
    }

    /// JSON that is shaped wrong on purpose.
    mutating func awkwardBody() -> Data {
        switch random.below(12) {
        case 0: return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"sam@example.com\", \"email\": \"jane@example.com\"}}]}".utf8)
        case 1: return Data("{\"events\": {\"event\": \"access/request\"}}".utf8)
        case 2: return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": 42}}]}".utf8)
        case 3: return Data("{\"events\": [{\"event\": \"access/request\", \"meta\": {\"labels\": {\"indent.com/time/duration\": 5}}}]}".utf8)
        case 4:
            // Deeper nesting is its own test (aDeeplyNestedSignedBodyIsAnsweredInBoundedTime).
            let depth = 1 + random.below(64)
            return Data(("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"jane@example.com\", \"x\": " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}}]}").utf8)
        case 5: return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"jane@example.com\"}, \"timestamp\": 1e400}]}".utf8)
        case 6: return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"\\ud800@example.com\"}}]}".utf8)
        case 7: return Data("{\"events\": [null, 1, \"x\", {\"event\": \"access/request\", \"actor\": {\"email\": \"jane@example.com\"}}]}".utf8)
        case 8: return Data("{\"events\": [], \"kinds\": null, \"info\": null}".utf8)
        case 9: return Data(([0xEF, 0xBB, 0xBF] as [UInt8]) + Data("{\"events\": []}".utf8))
        case 10: return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"jane@example.com\"}}]} trailing".utf8)
        default:
            let events = (0..<(1 + random.below(100))).map { index in
                Self.eventJSON(email: random.pick(Self.emails).0, id: "m\(index)", name: "access/request", labels: [:], reason: nil, noResources: false)
            }
            return Self.body(events: events)
        }
    }

    mutating func mutate(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        for _ in 0..<(1 + random.below(4)) {
            switch random.below(7) {
            case 0 where !bytes.isEmpty: bytes[random.below(bytes.count)] ^= UInt8(1 << random.below(8))
            case 1 where !bytes.isEmpty: bytes[random.below(bytes.count)] = UInt8(random.below(256))
            case 2: bytes.insert(UInt8(random.below(256)), at: random.below(bytes.count + 1))
            case 3 where bytes.count > 1:
                let start = random.below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + random.below(16)))
            case 4: bytes = Array(bytes.prefix(random.below(bytes.count + 1)))
            case 5:
                let tokens = ["{", "}", "[", "]", ",", ":", "\"", "null", "true", "1e999", "-0", "\\u0000", "\"events\"", "\"kinds\""]
                bytes.insert(contentsOf: Array(random.pick(tokens).utf8), at: random.below(bytes.count + 1))
            default: bytes.append(contentsOf: Array(" \n\t".utf8).prefix(1 + random.below(3)))
            }
        }
        return Data(bytes)
    }

    // MARK: Headers

    mutating func timestamp(offset: Double) -> String {
        let date = now.addingTimeInterval(offset)
        return random.chance(0.5) ? IndentTime.format(date) : Date.ISO8601FormatStyle().format(date)
    }

    /// A timestamp and whether it is fresh (nil: cannot say).
    mutating func anyTimestamp() -> (String, Bool?) {
        switch random.below(10) {
        case 0: return (timestamp(offset: Double(301 + random.below(100_000)) * (random.chance(0.5) ? 1 : -1)), false)
        case 1: return (random.pick(["", " ", "now", "1800000000", "Tue, 15 Jan 2027 08:00:00 GMT", "2027-13-45T99:99:99Z", "0000-00-00T00:00:00Z", "null", randomString(30)]), false)
        default: return (timestamp(offset: Double(random.below(600)) - 300), true)
        }
    }

    static let secret = webhookSecret

    // MARK: Inputs

    mutating func next() -> FuzzInput {
        let roll = random.below(100)
        var input = FuzzInput(kind: "")
        let (timestamp, fresh) = anyTimestamp()
        input.fresh = fresh
        func sign(_ body: Data, _ stamp: String, secret: String = Self.secret) -> String {
            IndentSignature.sign(secret: secret, timestamp: stamp, body: body)
        }
        func setHeaders(_ stamp: String?, _ signature: String?) {
            if let stamp { input.headers[.indentTimestamp] = stamp }
            if let signature { input.headers[.indentSignature] = signature }
            if random.chance(0.9) { input.headers[.contentType] = random.pick(["application/json", "text/plain", "application/json; charset=utf-8"]) }
        }
        switch roll {
        case 0..<30:
            // Signed as Indent signs: the oracle knows the claims.
            let (body, expected) = wellFormedBody()
            input.kind = "signed whole body"
            input.body = body
            input.validlySigned = true
            input.expectedClaims = fresh == true ? expected : 0
            setHeaders(timestamp, sign(body, timestamp))
        case 30..<45:
            // Signed, then the body changed in transit.
            let (body, _) = wellFormedBody()
            let mutated = mutate(body)
            input.kind = "body changed after signing"
            input.body = mutated
            input.validlySigned = mutated == body
            setHeaders(timestamp, sign(body, timestamp))
        case 45..<60:
            // Signed, with a forged or damaged signature.
            let (body, _) = wellFormedBody()
            let good = sign(body, timestamp)
            var bad: String
            switch random.below(12) {
            case 0: bad = String(good.dropLast()) + (good.last == "0" ? "1" : "0")
            case 1: bad = String(good.dropLast())
            case 2: bad = good + "0"
            case 3: bad = good.uppercased()
            case 4: bad = "sha256=" + good
            case 5: bad = ""
            case 6: bad = String(repeating: "z", count: 64)
            case 7: bad = sign(body, timestamp, secret: Self.secret + " ")
            case 8: bad = sign(body, timestamp + "1")
            case 9: bad = sign(Data(), timestamp)
            case 10: bad = sign(body + Data(" ".utf8), timestamp)
            default: bad = randomString(70)
            }
            input.kind = "forged signature"
            input.body = body
            input.validlySigned = bad.lowercased() == good
            setHeaders(timestamp, bad)
        case 60..<67:
            // Signed, then the timestamp header changed.
            let (body, _) = wellFormedBody()
            let other = random.pick(["\(timestamp)0", IndentTime.format(now.addingTimeInterval(1)), "x" + timestamp, timestamp.replacingOccurrences(of: "Z", with: "+00:00")])
            input.kind = "timestamp changed after signing"
            input.body = body
            input.validlySigned = other == timestamp
            setHeaders(other, sign(body, timestamp))
        case 67..<72:
            // Headers missing, or sent twice.
            let (body, _) = wellFormedBody()
            input.kind = "missing or repeated headers"
            input.body = body
            switch random.below(4) {
            case 0: input.validlySigned = false; setHeaders(nil, sign(body, timestamp))
            case 1: input.validlySigned = false; setHeaders(timestamp, nil)
            case 2: input.validlySigned = false; setHeaders(nil, nil)
            default:
                input.validlySigned = nil
                setHeaders(timestamp, sign(body, timestamp))
                input.headers.append(HTTPField(name: .indentSignature, value: String(repeating: "0", count: 64)))
            }
        case 72..<85:
            // Signed bodies that are awkward JSON.
            let body = awkwardBody()
            input.kind = "signed awkward JSON"
            input.body = body
            input.validlySigned = true
            setHeaders(timestamp, sign(body, timestamp))
        case 85..<95:
            // Signed bodies mangled byte by byte, or random bytes.
            let body = random.chance(0.8) ? mutate(wellFormedBody().0) : Data((0..<random.below(200)).map { _ in UInt8(random.below(256)) })
            input.kind = "signed mangled bytes"
            input.body = body
            input.validlySigned = true
            setHeaders(timestamp, sign(body, timestamp))
        case 95..<98:
            // Other routes and methods.
            input.kind = "other routes"
            input.method = random.pick([.get, .put, .delete, .post, .patch])
            input.path = random.pick(["/v1/oncall?email=jane%40example.com", "/v1/oncall?email=%", "/v1/oncall", "/readyz", "/healthz", "/metrics",
                                      "/nope", "/indent/webhook/", "/indent/webhook?x=1", "//indent/webhook", "/indent/%2e%2e/webhook"])
            let (body, _) = wellFormedBody()
            input.body = body
            input.validlySigned = random.chance(0.5)
            setHeaders(timestamp, input.validlySigned == true ? sign(body, timestamp) : String(repeating: "a", count: 64))
        case 98..<100 where random.chance(0.9):
            // Unsigned junk of every size up to a few KiB.
            input.kind = "unsigned junk"
            input.body = Data((0..<random.below(4096)).map { _ in UInt8(random.below(256)) })
            input.validlySigned = false
            setHeaders(random.chance(0.5) ? timestamp : nil, random.chance(0.5) ? String(repeating: "f", count: 64) : nil)
        default:
            // Near and over the body limit (each one is large, so they are few).
            let size = random.pick([maxBody - 1, maxBody, maxBody + 1, maxBody + 4096])
            var body = Data("{\"events\": [], \"pad\": \"".utf8)
            body.append(Data(repeating: UInt8(ascii: "x"), count: max(0, size - body.count - 2)))
            body.append(Data("\"}".utf8))
            input.kind = "body at the size limit"
            input.body = body
            input.validlySigned = random.chance(0.5)
            setHeaders(timestamp, input.validlySigned == true ? sign(body, timestamp) : String(repeating: "a", count: 64))
        }
        return input
    }
}

/// What the fuzz saw, and every violation of the oracle (kept short).
struct FuzzResults {
    var inputs = 0
    var byStatus: [Int: Int] = [:]
    var byKind: [String: Int] = [:]
    var approvals = 0
    var expectedApprovals = 0
    var violations: [String] = []

    mutating func check(_ input: FuzzInput, status: Int, body: ByteBuffer) {
        inputs += 1
        byStatus[status, default: 0] += 1
        byKind[input.kind, default: 0] += 1
        func violation(_ text: String) {
            if violations.count < 25 { violations.append("[\(input.kind)] \(text); status \(status); body \(String(buffer: body).prefix(160))") }
        }
        if status >= 500 { violation("5xx") }
        // Only correctly signed bodies may produce claims: look for them in every reply.
        let reply = String(buffer: body)
        let approvesSomething = reply.contains("access/approve")
        var claimList: [[String: Any]] = []
        if approvesSomething {
            claimList = json(body)["claims"] as? [[String: Any]] ?? []
            approvals += claimList.count
        }
        guard input.isWebhookRoute else {
            if approvesSomething, input.validlySigned != true { violation("CLAIMS WITHOUT A VALID SIGNATURE on \(input.method) \(input.path)") }
            return
        }
        // The webhook's refusals carry Indent's status body (other routes may answer a bare 404).
        if status >= 400, !hasStatusReason(body) { violation("an error without a status reason") }
        if input.body.count > maxBodyBytes {
            if status != 413 { violation("an oversized body not refused with 413") }
            if approvesSomething { violation("claims for an oversized body") }
            return
        }
        switch input.validlySigned {
        case false?:
            if status != 401 { violation("a badly signed request not refused with 401") }
            if approvesSomething { violation("CLAIMS WITHOUT A VALID SIGNATURE") }
        case true?:
            if input.fresh == false {
                if status != 401 { violation("a stale or unreadable timestamp accepted") }
                if approvesSomething { violation("claims for a replayed request") }
            } else if input.fresh == true {
                if status != 200 && status != 400 { violation("a signed, fresh request answered \(status)") }
            }
        case nil:
            break
        }
        if status == 200 {
            for claim in claimList {
                guard let email = approvedEmail(claim), onCallAtBaseTime.contains(email) else {
                    violation("approved someone not on call: \(approvedEmail(claim) ?? "nobody")")
                    continue
                }
            }
        }
        if let expected = input.expectedClaims, input.validlySigned == true, input.fresh == true {
            expectedApprovals += expected
            if claimList.count != expected { violation("expected \(expected) claims, got \(claimList.count)") }
        }
    }

    let maxBodyBytes = 1 << 20

    mutating func merge(_ other: FuzzResults) {
        inputs += other.inputs
        approvals += other.approvals
        expectedApprovals += other.expectedApprovals
        for (key, value) in other.byStatus { byStatus[key, default: 0] += value }
        for (key, value) in other.byKind { byKind[key, default: 0] += value }
        violations += other.violations.prefix(max(0, 25 - violations.count))
    }

    var summary: String {
        "\(inputs) inputs; statuses \(byStatus.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")); \(approvals) claims (\(expectedApprovals) expected from whole bodies)"
    }
}

/// Fuzzes the exact production app: in process for volume, and a share over real HTTP.
@Suite(.serialized) struct WebhookFuzzTests {
    static var inputCount: Int { ProcessInfo.processInfo.environment["RELIABILITY_FUZZ_INPUTS"].flatMap(Int.init) ?? 100_000 }

    // 100,000 inputs take about 45 s alone here and 90 s beside the rest of the suite; the limit is a backstop.
    @Test(.timeLimit(.minutes(4)))
    func fuzzedRequestsInProcessNeverCrashAndNeverApproveWithoutAValidSignature() async throws {
        await politeStart()
        let runSeed = seed(0xF022_0001)
        let count = Self.inputCount
        let workers = 2
        let results = try await withWebhook(.router, contents: roster(), configuration: ServerConfiguration.forTests(reloadInterval: 5)) { client, database, clock in
            let started = Date()
            // Two seeded streams at once (the router is safe to call concurrently), one per core; each
            // yields between requests so that tests running beside this one still get their turn.
            let results = try await withThrowingTaskGroup(of: FuzzResults.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var fuzzer = WebhookFuzzer(seed: runSeed &+ UInt64(worker), now: clock.now)
                        var results = FuzzResults()
                        for _ in 0..<(count / workers + (worker < count % workers ? 1 : 0)) {
                            let input = fuzzer.next()
                            let response = try await client.execute(uri: input.path, method: input.method, headers: input.headers, body: ByteBuffer(bytes: input.body))
                            results.check(input, status: Int(response.status.code), body: response.body)
                            await Task.yield()
                        }
                        return results
                    }
                }
                var all = FuzzResults()
                for try await part in group { all.merge(part) }
                return all
            }
            let seconds = Date().timeIntervalSince(started)
            print("[reliability] webhook fuzz in process: seed \(runSeed) (\(workers) streams); \(results.summary); \(String(format: "%.1f", seconds))s (\(Int(Double(count) / seconds)) per second)")
            print("[reliability] webhook fuzz kinds: \(results.byKind.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
            // The server is still well after all that.
            let after = try await post(client, requestBody([accessRequest("jane@example.com")]), at: clock.now)
            #expect(claims(after).count == 1)
            return results
        }
        #expect(results.inputs == count)
        #expect(results.violations.isEmpty, "\(results.violations.joined(separator: "\n"))")
        #expect(results.expectedApprovals > count / 50, "the fuzz approved too little to mean anything")
    }

    @Test(.timeLimit(.minutes(2)))
    func fuzzedRequestsOverHTTPNeverCrashAndNeverApproveWithoutAValidSignature() async throws {
        let runSeed = seed(0xF022_0002)
        let count = max(500, Self.inputCount / 40)
        let results = try await withWebhook(.live, contents: roster(), configuration: ServerConfiguration.forTests(reloadInterval: 5)) { client, _, clock in
            var fuzzer = WebhookFuzzer(seed: runSeed, now: clock.now, overHTTP: true)
            var results = FuzzResults()
            var transportErrors = 0
            let started = Date()
            for _ in 0..<count {
                let input = fuzzer.next()
                do {
                    let response = try await client.execute(uri: input.path, method: input.method, headers: input.headers, body: ByteBuffer(bytes: input.body))
                    results.check(input, status: Int(response.status.code), body: response.body)
                } catch {
                    // The client refusing to send something (an invalid header value) is not the server's doing.
                    transportErrors += 1
                }
            }
            let seconds = Date().timeIntervalSince(started)
            print("[reliability] webhook fuzz over HTTP: seed \(runSeed); \(results.summary); \(transportErrors) not sendable; \(String(format: "%.1f", seconds))s")
            let after = try await post(client, requestBody([accessRequest("jane@example.com")]), at: clock.now)
            #expect(claims(after).count == 1)
            #expect(transportErrors < count / 50)
            return results
        }
        #expect(results.violations.isEmpty, "\(results.violations.joined(separator: "\n"))")
    }

    @Test(.timeLimit(.minutes(1)))
    func aDeeplyNestedSignedBodyIsAnsweredInBoundedTime() async throws {
        // Indent's actors and resources are kept as raw JSON (JSONValue), so nesting inside them
        // reaches the reader. It refuses a 33rd level as it reads, so neither the time nor the stack
        // it takes grows with the depth sent.
        try await withWebhook(.router, contents: roster(), configuration: ServerConfiguration.forTests(reloadInterval: 5)) { client, _, clock in
            var timings: [String] = []
            func nestedBody(depth: Int, copies: Int) -> Data {
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let values = (0..<copies).map { "\"x\($0)\": \(nested)" }.joined(separator: ", ")
                return Data("{\"events\": [{\"event\": \"access/request\", \"actor\": {\"email\": \"jane@example.com\", \(values)}}]}".utf8)
            }
            for depth in [16, 100, 256, 511, 1_000, 200_000] {
                let started = Date()
                let response = try await post(client, nestedBody(depth: depth, copies: 1), at: clock.now)
                timings.append("depth \(depth): \(response.status.code) in \(milliseconds(Date().timeIntervalSince(started)))")
                #expect(response.status == .ok || response.status == .badRequest)
            }
            // Four values 400 deep: 3.2 KB of signed JSON.
            let body = nestedBody(depth: 400, copies: 4)
            let started = Date()
            let response = try await post(client, body, at: clock.now)
            let seconds = Date().timeIntervalSince(started)
            timings.append("4 × depth 400 (\(body.count) bytes): \(response.status.code) in \(milliseconds(seconds))")
            print("[reliability] deeply nested signed bodies: \(timings.joined(separator: ", "))")
            // Refused as it is read: JSON nested deeper than 32 levels is not an Indent body.
            #expect(response.status == .badRequest)
            #expect(seconds < 0.25, "a \(body.count)-byte signed body took \(seconds)s to answer")
        }
    }

    @Test func aUnicodeLookalikeEmailIsNotTheOnCallUser() async throws {
        // "K" (U+212A KELVIN SIGN) lowercases to an ASCII "k": Kate's address spelled with it is
        // another mailbox, and must not be approved as Kate.
        try await withWebhook(.router, contents: roster()) { client, _, clock in
            let response = try await post(client, requestBody([accessRequest("\u{212A}ate@example.com")]), at: clock.now)
            #expect(response.status == .ok)
            #expect(claims(response).isEmpty, "a look-alike address was approved as the on-call user")
        }
    }
}
