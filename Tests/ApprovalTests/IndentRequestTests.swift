import Foundation
import Testing
import Timestamps
@testable import Approval

/// Request verification, pure: headers, body, the server's clock, the secret and the allowed skew
/// give a verified timestamp or a refusal, whatever HTTP carried them.
@Suite struct IndentRequestTests {
    // Indent's own test vector.
    static let body = Data(#"{"events":[{"event":"access/grant","timestamp":"2020-05-01T07:00:00Z"}]}"#.utf8)
    static let signature = "c27f187960625ebccc33336030b071dac1d54b1e98d9e27fe5452ee00c935fb0"
    static let stamp = "2020-05-01T07:00:00Z"
    static let now = RFC3339.parse(stamp)!
    let verifier = IndentRequestVerifier(secret: "secret_123", maxClockSkew: 300)

    @Test func signsLikeIndentsVector() {
        #expect(IndentSignature.sign(secret: "secret_123", timestamp: Self.stamp, body: Self.body) == Self.signature)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var headers: IndentRequestHeaders
        var body: Data = IndentRequestTests.body
        var now: Date = IndentRequestTests.now
        /// nil: verified.
        var refusal: IndentRefusal.Reason?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "Indent's vector", headers: .init(signature: signature, timestamp: stamp)),
        Case(label: "upper-case hex", headers: .init(signature: signature.uppercased(), timestamp: stamp)),
        Case(label: "the far edge of the skew", headers: .init(signature: signature, timestamp: stamp), now: now.addingTimeInterval(300)),
        Case(label: "a timestamp ahead by the skew", headers: .init(signature: signature, timestamp: stamp), now: now.addingTimeInterval(-300)),
        Case(label: "no signature", headers: .init(signature: nil, timestamp: stamp), refusal: .unsigned),
        Case(label: "an empty signature", headers: .init(signature: "", timestamp: stamp), refusal: .unsigned),
        Case(label: "no timestamp", headers: .init(signature: signature, timestamp: nil), refusal: .unsigned),
        Case(label: "not hex", headers: .init(signature: "zz", timestamp: stamp), refusal: .badSignature),
        Case(label: "too short", headers: .init(signature: "c27f18796062", timestamp: stamp), refusal: .badSignature),
        Case(label: "zeros", headers: .init(signature: String(repeating: "0", count: 64), timestamp: stamp), refusal: .badSignature),
        Case(label: "last digit changed", headers: .init(signature: String(signature.dropLast()) + "1", timestamp: stamp), refusal: .badSignature),
        Case(label: "two signatures joined", headers: .init(signature: signature + ", " + signature, timestamp: stamp), refusal: .badSignature),
        Case(label: "another timestamp than the signed one", headers: .init(signature: signature, timestamp: "2020-05-01T07:00:01Z"), refusal: .badSignature),
        Case(label: "another body", headers: .init(signature: signature, timestamp: stamp), body: Data("{}".utf8), refusal: .badSignature),
        Case(label: "signed, but not a time", headers: .init(signature: IndentSignature.sign(secret: "secret_123", timestamp: "soon", body: body), timestamp: "soon"),
             refusal: .badTimestamp),
        Case(label: "signed, but February 30", headers: .init(signature: IndentSignature.sign(secret: "secret_123", timestamp: "2020-02-30T07:00:00Z", body: body),
                                                              timestamp: "2020-02-30T07:00:00Z"), refusal: .badTimestamp),
        Case(label: "a replay, a second past the skew", headers: .init(signature: signature, timestamp: stamp), now: now.addingTimeInterval(301), refusal: .replay),
        Case(label: "from the future, past the skew", headers: .init(signature: signature, timestamp: stamp), now: now.addingTimeInterval(-301), refusal: .replay),
    ]

    @Test(arguments: cases)
    func verifies(_ check: Case) {
        switch verifier.verify(check.headers, body: check.body, now: check.now) {
        case .success(let timestamp):
            #expect(check.refusal == nil, "verified, expected \(String(describing: check.refusal))")
            #expect(timestamp == Self.now)
        case .failure(let refusal):
            #expect(refusal.reason == check.refusal, "\(refusal)")
        }
    }

    @Test func refusalsSayWhatIsWrongWithoutTheSecret() {
        guard case .failure(let refusal) = verifier.verify(.init(signature: Self.signature, timestamp: Self.stamp), body: Self.body,
                                                           now: Self.now.addingTimeInterval(3600)) else {
            Issue.record("a replay was verified")
            return
        }
        #expect(refusal.description == "X-Indent-Timestamp is 3600s from the server's clock, beyond the allowed 300s")
        #expect(!refusal.description.contains("secret_123"))
    }

    /// The server keeps one verifier for its life: one request's check must not leak into the next.
    @Test func oneVerifierChecksManyBodies() {
        let other = Data(#"{"events":[]}"#.utf8)
        let otherSignature = IndentSignature.sign(secret: "secret_123", timestamp: Self.stamp, body: other)
        for _ in 0..<3 {
            #expect(verifier.isValid(signature: Self.signature, timestamp: Self.stamp, body: Self.body))
            #expect(!verifier.isValid(signature: Self.signature, timestamp: Self.stamp, body: other))
            #expect(verifier.isValid(signature: otherSignature, timestamp: Self.stamp, body: other))
            #expect(!verifier.isValid(signature: otherSignature, timestamp: "2020-05-01T07:00:01Z", body: other))
        }
    }

    @Test(arguments: [(3600, "1h0m0s"), (10_740, "2h59m0s"), (2700, "45m0s"), (30, "30s"), (21_600, "6h0m0s"), (10_770, "2h59m30s")])
    func goDurations(seconds: Int, text: String) {
        #expect(GoDuration.format(seconds: seconds) == text)
        #expect(GoDuration.parse(text) == Double(seconds))
    }

    @Test func goDurationParsingEdgeCases() {
        #expect(GoDuration.parse("-1ns")! < 0)
        #expect(GoDuration.parse("1.5h") == 5400)
        #expect(GoDuration.parse("90m") == 5400)
        #expect(GoDuration.parse("soon") == nil)
        #expect(GoDuration.parse("") == nil)
    }

    @Test func indentTimesHaveMilliseconds() {
        #expect(IndentTime.format(Date(timeIntervalSince1970: 1_710_266_400)) == "2024-03-12T18:00:00.000Z")
    }
}
