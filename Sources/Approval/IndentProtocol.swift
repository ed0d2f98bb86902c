import Crypto
import Foundation

/// Indent's webhook signature: hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body).
public enum IndentSignature {
    public static func sign(secret: String, timestamp: String, body: some DataProtocol) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data("v0:\(timestamp):".utf8))
        mac.update(data: body)
        return mac.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Compares in constant time (swift-crypto's MAC validation). A signature that is not 64 hex
    /// characters is simply invalid.
    public static func isValid(signature: String, secret: String, timestamp: String, body: some DataProtocol) -> Bool {
        guard let expected = hexBytes(signature.lowercased()), expected.count == SHA256.byteCount else { return false }
        var message = Data("v0:\(timestamp):".utf8)
        message.append(contentsOf: body)
        return HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: message, using: SymmetricKey(data: Data(secret.utf8)))
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            default: nil
            }
        }
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

/// RFC 3339 times as Indent sends and expects them (`2024-03-12T18:00:00.000Z`).
public enum IndentTime {
    // Built once: every webhook request parses one time and formats several.
    private static let withMilliseconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let wholeSeconds = Date.ISO8601FormatStyle()

    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = try? withMilliseconds.parse(trimmed) { return date }
        return try? wholeSeconds.parse(trimmed)
    }

    public static func format(_ date: Date) -> String {
        withMilliseconds.format(date)
    }
}

/// Go's `time.Duration` text, which Indent's labels use: `6h0m0s`, `45m0s`, `30s`, `-1ns`.
public enum GoDuration {
    public static func format(seconds: Int) -> String {
        guard seconds > 0 else { return "0s" }
        let hours = seconds / 3600
        let minutes = seconds % 3600 / 60
        let rest = seconds % 60
        if hours > 0 { return "\(hours)h\(minutes)m\(rest)s" }
        if minutes > 0 { return "\(minutes)m\(rest)s" }
        return "\(rest)s"
    }

    /// Seconds, or nil for text that is not a Go duration. Negative values (Indent's `-1ns`,
    /// "indefinite") come back negative.
    public static func parse(_ text: String) -> Double? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign = 1.0
        if rest.hasPrefix("-") { sign = -1; rest = rest.dropFirst() } else if rest.hasPrefix("+") { rest = rest.dropFirst() }
        if rest == "0" { return 0 }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("h", 3600), ("m", 60), ("s", 1)]
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return sign * total
    }
}

/// The parts of an Indent webhook body Shiftgate reads. Actors and resources stay raw JSON.
public struct IndentBody: Decodable, Sendable {
    public var events: [IndentEvent]?
    public var kinds: [String]?
    public var info: JSONValue?

    public enum Call: Equatable, Sendable {
        case pullUpdate
        case getInfo
        case applyUpdate
        case getDecision
        case unknown
    }

    /// Which call a body is, by Indent's own rules.
    public var call: Call {
        if kinds != nil { return .pullUpdate }
        if info != nil { return .getInfo }
        guard let events else { return .unknown }
        if events.contains(where: { $0.event == "access/grant" || $0.event == "access/revoke" }) { return .applyUpdate }
        return .getDecision
    }
}

public struct IndentEvent: Decodable, Sendable {
    public var event: String?
    public var id: String?
    public var actor: JSONValue?
    public var reason: String?
    public var timestamp: String?
    public var resources: [JSONValue]?
    public var meta: Meta?

    public struct Meta: Decodable, Sendable {
        public var labels: [String: String]?
    }

    public var actorEmail: String? {
        guard let email = actor?["email"]?.stringValue?.trimmingCharacters(in: .whitespaces), !email.isEmpty else { return nil }
        return email
    }
}

/// The bot that signs Shiftgate's claims (the same identity the original integration used).
public let approvalBot: JSONValue = .object([
    "id": .string("pagerduty-approval-bot"),
    "kind": .string("indent.v1.Bot"),
    "displayName": .string("PagerDuty Approval Bot"),
    "email": .string("bot@indent.com"),
])
