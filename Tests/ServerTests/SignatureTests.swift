import Approval
import Foundation
import Testing
import Timestamps

/// Indent's own test vector, and the rules around it.
@Suite struct SignatureTests {
    let body = #"{"events":[{"event":"access/grant","timestamp":"2020-05-01T07:00:00Z"}]}"#
    let expected = "c27f187960625ebccc33336030b071dac1d54b1e98d9e27fe5452ee00c935fb0"

    @Test func matchesIndentsVector() {
        #expect(IndentSignature.sign(secret: "secret_123", timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)) == expected)
        #expect(IndentSignature.isValid(signature: expected, secret: "secret_123", timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)))
        #expect(IndentSignature.isValid(signature: expected.uppercased(), secret: "secret_123", timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)))
    }

    @Test(arguments: ["", "zz", String(repeating: "0", count: 64), "c27f18796062", "c27f187960625ebccc33336030b071dac1d54b1e98d9e27fe5452ee00c935fb1"])
    func rejectsOtherSignatures(signature: String) {
        #expect(!IndentSignature.isValid(signature: signature, secret: "secret_123", timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)))
    }

    @Test func theTimestampAndSecretAreSigned() {
        #expect(!IndentSignature.isValid(signature: expected, secret: "secret_124", timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)))
        #expect(!IndentSignature.isValid(signature: expected, secret: "secret_123", timestamp: "2020-05-01T07:00:01Z", body: Data(body.utf8)))
    }

    /// The server keeps one verifier for its life: one request's check must not leak into the next.
    @Test func oneVerifierChecksManyBodies() {
        let verifier = IndentSignature.Verifier(secret: "secret_123")
        let other = Data(#"{"events":[]}"#.utf8)
        let otherSignature = IndentSignature.sign(secret: "secret_123", timestamp: "2020-05-01T07:00:00Z", body: other)
        for _ in 0..<3 {
            #expect(verifier.isValid(signature: expected, timestamp: "2020-05-01T07:00:00Z", body: Data(body.utf8)))
            #expect(!verifier.isValid(signature: expected, timestamp: "2020-05-01T07:00:00Z", body: other))
            #expect(verifier.isValid(signature: otherSignature, timestamp: "2020-05-01T07:00:00Z", body: other))
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

    @Test func indentTimes() {
        #expect(RFC3339.parse("2020-05-01T07:00:00Z") == RFC3339.parse("2020-05-01T07:00:00.000Z"))
        #expect(IndentTime.format(Date(timeIntervalSince1970: 1_710_266_400)) == "2024-03-12T18:00:00.000Z")
        #expect(RFC3339.parse("yesterday") == nil)
    }
}
