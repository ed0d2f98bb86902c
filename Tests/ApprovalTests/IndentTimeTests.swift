@testable import Approval
import Foundation
import Testing

/// `IndentTime.parse` reads Indent's usual form itself and leaves the rest to Foundation's
/// ISO 8601 style; both must give the same instant for every text.
@Suite struct IndentTimeTests {
    let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    let wholeSeconds = Date.ISO8601FormatStyle()

    func foundation(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return (try? style.parse(trimmed)) ?? (try? wholeSeconds.parse(trimmed))
    }

    func same(_ a: Date?, _ b: Date?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let a?, let b?): abs(a.timeIntervalSince(b)) < 1e-6
        default: false
        }
    }

    @Test func theCommonFormIsReadAsFoundationReadsIt() {
        var generator = SystemRandomNumberGenerator()
        var fast = 0
        for _ in 0..<20_000 {
            // A day inside 1970-2099 on both ends, so no offset moves the local date out of the common form.
            let instant = Double.random(in: 86_400..<4_102_444_800 - 86_400, using: &generator).rounded(.down)
            let fractionDigits = Int.random(in: 0...9, using: &generator)
            let offsetMinutes = [0, 0, 60, -300, 330, -570, 840, -720].randomElement(using: &generator)!
            let zone = TimeZone(secondsFromGMT: offsetMinutes * 60)!
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: instant))
            var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!, parts.second!)
            if fractionDigits > 0 {
                text += "." + (0..<fractionDigits).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
            }
            if offsetMinutes == 0, Bool.random(using: &generator) {
                text += "Z"
            } else {
                text += String(format: "%@%02d:%02d", offsetMinutes < 0 ? "-" : "+", abs(offsetMinutes) / 60, abs(offsetMinutes) % 60)
            }
            if IndentTime.parseCommonForm(text) != nil { fast += 1 }
            #expect(same(IndentTime.parse(text), foundation(text)), "\(text)")
            // And with one character changed: read alike, or refused by both.
            var bytes = Array(text.utf8)
            bytes[Int.random(in: 0..<bytes.count, using: &generator)] = Array("0123456789+-:.TZ x".utf8).randomElement(using: &generator)!
            let mutated = String(decoding: bytes, as: UTF8.self)
            #expect(same(IndentTime.parse(mutated), foundation(mutated)), "\(mutated)")
        }
        #expect(fast == 20_000, "the common form went to Foundation \(20_000 - fast) times")
    }

    @Test(arguments: [
        "2026-02-29T00:00:00Z", "2026-02-30T05:00:33Z", "2026-11-26T24:00:00Z", "2026-11-26T05:00:60Z", "1969-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z", "2026-11-26T05:00:33.1234567891Z", "2026-11-26T05:00:33+0100", " 2026-11-26T05:00:33Z ",
        "2026-11-26t05:00:33z", "2026-11-26T05:00:33.Z", "2024-02-29T12:00:00.5-05:30",
    ])
    func edgesAreLeftToFoundation(text: String) {
        #expect(same(IndentTime.parse(text), foundation(text)))
    }

    @Test func leapDaysAndOffsetsInTheCommonForm() throws {
        // 12:00 at UTC-05:30 is 17:30 UTC.
        #expect(IndentTime.parseCommonForm("2024-02-29T12:00:00.5-05:30")?.timeIntervalSince1970 == 1_709_227_800.5)
        #expect(IndentTime.parseCommonForm("2026-02-29T00:00:00Z") == nil)
        #expect(IndentTime.parseCommonForm("1970-01-01T00:00:00Z")?.timeIntervalSince1970 == 0)
        #expect(IndentTime.parseCommonForm("2000-03-01T00:00:00+00:00")?.timeIntervalSince1970 == 951_868_800)
    }
}
