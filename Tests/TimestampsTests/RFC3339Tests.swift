import Foundation
import Testing
@testable import Timestamps

/// The one RFC 3339 codec: PagerDuty's times with any offset, Indent's with milliseconds, and
/// Shiftgate's own output.
@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("2015-11-09T08:00:00-05:00", 1_447_074_000.0),
        ("2015-11-09T13:00:00Z", 1_447_074_000.0),
        ("2015-11-09T18:30:00+05:30", 1_447_074_000.0),
        ("2024-03-12T18:00:00.000Z", 1_710_266_400.0),
        ("2024-03-12T18:00:00.250Z", 1_710_266_400.25),
        ("2024-02-29T12:00:00.5-05:30", 1_709_227_800.5),
        ("2026-11-26t05:00:33z", 1_795_669_233.0),
        ("2026-11-26 05:00:33Z", 1_795_669_233.0),
        ("1970-01-01T00:00:00Z", 0.0),
        ("2000-03-01T00:00:00+00:00", 951_868_800.0),
    ])
    func readsAnyOffset(text: String, expected: Double) throws {
        let date = try #require(RFC3339.parse(text))
        #expect(date.timeIntervalSince1970 == expected)
    }

    /// Impossible dates are refused: Foundation's ISO 8601 style takes February 30 and hour 24.
    @Test(arguments: [
        "", "2015-11-09", "2015-11-09T08:00:00", "2015-13-09T08:00:00Z", "2015-11-09T08:00:00+5", "garbage-in-here-xx",
        "2026-02-29T00:00:00Z", "2026-02-30T05:00:33Z", "2026-02-31T05:00:33Z", "2026-04-31T00:00:00Z", "2026-11-26T24:00:00Z",
        "2026-11-26T05:60:00Z", "2026-11-26T05:00:60Z", "2026-11-26T05:00:33+0100", " 2026-11-26T05:00:33Z ", "2026-11-26T05:00:33.Z",
        "2026-11-26T05:00:33+24:00", "2026-11-26T05:00:33Zjunk", "2020-05-01T07:00:00+0000",
    ])
    func refusesWhatIsNotAnRFC3339Time(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsWithTheZoneOffsetAndRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_447_074_000)
        #expect(RFC3339.format(date) == "2015-11-09T13:00:00Z")
        #expect(RFC3339.format(date, in: TimeZone(identifier: "America/New_York")!) == "2015-11-09T08:00:00-05:00")
        #expect(RFC3339.format(date, in: TimeZone(identifier: "Asia/Kolkata")!) == "2015-11-09T18:30:00+05:30")
        #expect(RFC3339.format(date, fraction: .milliseconds) == "2015-11-09T13:00:00.000Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: 1_447_074_000.9999)) == "2015-11-09T13:00:00Z", "cut, not rounded")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5), fraction: .milliseconds) == "1969-12-31T23:59:59.500Z")
        for zone in ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC", "Pacific/Chatham"] {
            let text = RFC3339.format(date, in: TimeZone(identifier: zone)!)
            #expect(RFC3339.parse(text) == date)
        }
    }

    @Test func daylightSavingChangesTheOffset() throws {
        let newYork = TimeZone(identifier: "America/New_York")!
        let summer = try #require(RFC3339.parse("2026-07-01T12:00:00Z"))
        let winter = try #require(RFC3339.parse("2026-12-01T12:00:00Z"))
        #expect(RFC3339.format(summer, in: newYork) == "2026-07-01T08:00:00-04:00")
        #expect(RFC3339.format(winter, in: newYork) == "2026-12-01T07:00:00-05:00")
    }

    /// Against Foundation's ISO 8601 style on random valid times (years 1600-9999, fractions,
    /// offsets) and one-character mutations of each: the same instant, or, where the codec refuses,
    /// a text that is not a real RFC 3339 time (which Foundation sometimes takes). Before the
    /// Gregorian reform Foundation counts Julian days, where RFC 3339 is proleptic Gregorian.
    @Test func agreesWithFoundationOnValidTimesAndRefusesOnlyInvalidOnes() {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let wholeSeconds = Date.ISO8601FormatStyle()
        func foundation(_ text: String) -> Date? { (try? style.parse(text)) ?? (try? wholeSeconds.parse(text)) }
        var generator = SystemRandomNumberGenerator()
        var agreed = 0
        for _ in 0..<20_000 {
            let instant = Double.random(in: -11_676_096_000 + 86_400..<253_402_300_799 - 86_400, using: &generator).rounded(.down)
            let offsetMinutes = [0, 0, 60, -300, 330, -570, 840, -720].randomElement(using: &generator)!
            var text = RFC3339.format(Date(timeIntervalSince1970: instant), in: TimeZone(secondsFromGMT: offsetMinutes * 60)!)
            let fractionDigits = Int.random(in: 0...6, using: &generator)
            if fractionDigits > 0 {
                let at = text.index(text.startIndex, offsetBy: 19)
                text.insert(contentsOf: "." + (0..<fractionDigits).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined(), at: at)
            }
            let mine = RFC3339.parse(text)
            #expect(mine != nil, "\(text)")
            if let theirs = foundation(text), let mine {
                #expect(abs(mine.timeIntervalSince(theirs)) < 1e-3, "\(text)")
                agreed += 1
            }
            var bytes = Array(text.utf8)
            bytes[Int.random(in: 0..<bytes.count, using: &generator)] = Array("0123456789+-:.TZ x".utf8).randomElement(using: &generator)!
            let mutated = String(decoding: bytes, as: UTF8.self)
            // A mutated year before 1600 is a Julian date to Foundation.
            if let mine = RFC3339.parse(mutated), (Int(mutated.prefix(4)) ?? 0) >= 1600 {
                #expect(foundation(mutated).map { abs($0.timeIntervalSince(mine)) < 1e-3 } ?? true, "\(mutated) from \(text)")
            }
        }
        // Foundation's style reads these years alike; nearly every text is compared.
        #expect(agreed > 19_000)
    }

    @Test func readableTimesForPeopleShowSecondsOnlyWhenThereAreSome() throws {
        let onTheMinute = try #require(RFC3339.parse("2026-11-25T14:00:00Z"))
        #expect(ReadableTime.utc(onTheMinute) == "2026-11-25 14:00 UTC")
        #expect(ReadableTime.utc(onTheMinute.addingTimeInterval(7)) == "2026-11-25 14:00:07 UTC")
        let newYork = ReadableTime.parts(onTheMinute, in: TimeZone(identifier: "America/New_York")!)
        #expect(newYork.date == "2026-11-25" && newYork.time == "09:00")
    }
}
