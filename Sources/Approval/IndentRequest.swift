import Crypto
import Foundation
import Timestamps

/// The headers of an Indent webhook request that Shiftgate reads. A header sent twice arrives with
/// its values joined by ", ", so two signatures never pass as one.
public struct IndentRequestHeaders: Sendable, Equatable {
    public var signature: String?
    public var timestamp: String?
    public var requestId: String?

    public init(signature: String? = nil, timestamp: String? = nil, requestId: String? = nil) {
        self.signature = signature
        self.timestamp = timestamp
        self.requestId = requestId
    }
}

/// Why a webhook request is refused before its body is read: Indent's status code 9
/// (unauthenticated), HTTP 401.
public struct IndentRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case unsigned
        case badSignature = "bad_signature"
        case badTimestamp = "bad_timestamp"
        case replay
    }

    public var reason: Reason
    public var description: String
}

/// Verifies that a request comes from Indent and is fresh: `X-Indent-Signature` is the hex
/// HMAC-SHA256 of `v0:` + `X-Indent-Timestamp` + `:` + the raw body, keyed with the webhook secret and
/// compared in constant time, and the timestamp is within `maxClockSkew` of `now`. Pure: the same
/// headers, body and time give the same answer. Built once per server (the keyed HMAC state is set
/// up once and copied per request).
public struct IndentRequestVerifier: Sendable {
    private let keyed: HMAC<SHA256>
    public let maxClockSkew: TimeInterval

    public init(secret: String, maxClockSkew: TimeInterval) {
        keyed = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        self.maxClockSkew = maxClockSkew
    }

    /// The request's timestamp when the request is Indent's and fresh; else why not.
    public func verify(_ headers: IndentRequestHeaders, body: some DataProtocol, now: Date) -> Result<Date, IndentRefusal> {
        guard let signature = headers.signature, !signature.isEmpty else {
            return .failure(IndentRefusal(reason: .unsigned, description: "missing X-Indent-Signature header"))
        }
        guard let timestampText = headers.timestamp, !timestampText.isEmpty else {
            return .failure(IndentRefusal(reason: .unsigned, description: "missing X-Indent-Timestamp header"))
        }
        guard isValid(signature: signature, timestamp: timestampText, body: body) else {
            return .failure(IndentRefusal(reason: .badSignature, description: "X-Indent-Signature does not match the body"))
        }
        guard let timestamp = RFC3339.parse(timestampText) else {
            return .failure(IndentRefusal(reason: .badTimestamp, description: "X-Indent-Timestamp is not an RFC 3339 time"))
        }
        let skew = now.timeIntervalSince(timestamp)
        guard abs(skew) <= maxClockSkew else {
            return .failure(IndentRefusal(reason: .replay, description:
                "X-Indent-Timestamp is \(Int(skew.rounded()))s from the server's clock, beyond the allowed \(Int(maxClockSkew))s"))
        }
        return .success(timestamp)
    }

    /// A signature that is not 64 hex characters is simply invalid.
    func isValid(signature: String, timestamp: String, body: some DataProtocol) -> Bool {
        guard let expected = IndentSignature.hexBytes(signature), expected.count == SHA256.byteCount else { return false }
        var mac = keyed
        mac.update(data: Array("v0:\(timestamp):".utf8))
        mac.update(data: body)
        // swift-crypto compares a code with bytes in constant time.
        return mac.finalize() == expected
    }
}

/// Indent's webhook signature, as a sender computes it (the demo, benchmarks and tests sign with it).
public enum IndentSignature {
    public static func sign(secret: String, timestamp: String, body: some DataProtocol) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        mac.update(data: Data("v0:\(timestamp):".utf8))
        mac.update(data: body)
        return mac.finalize().map { String(format: "%02x", $0) }.joined()
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
            case 65...70: c - 55
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
