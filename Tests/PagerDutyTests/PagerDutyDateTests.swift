import Foundation
import Testing
@testable import PagerDuty

@Suite struct PagerDutyDateTests {
    @Test(arguments: [
        ("2015-11-09T08:00:00-05:00", 1_447_074_000.0),
        ("2015-11-09T13:00:00Z", 1_447_074_000.0),
        ("2015-11-09T18:30:00+05:30", 1_447_074_000.0),
        ("2024-03-12T18:00:00.000Z", 1_710_266_400.0),
        ("2024-03-12T18:00:00.250Z", 1_710_266_400.25),
        ("2020-05-01T07:00:00+0000", 1_588_316_400.0),
    ])
    func parsesAnyOffset(text: String, expected: Double) throws {
        let date = try #require(PagerDutyDate.parse(text))
        #expect(date.timeIntervalSince1970 == expected)
    }

    @Test(arguments: ["", "2015-11-09", "2015-11-09T08:00:00", "2015-13-09T08:00:00Z", "2015-11-09T08:00:00+5", "garbage-in-here-xx"])
    func rejectsWhatIsNotATimeWithOffset(text: String) {
        #expect(PagerDutyDate.parse(text) == nil)
    }

    @Test func formatsWithTheZoneOffsetAndRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_447_074_000)
        #expect(PagerDutyDate.format(date) == "2015-11-09T13:00:00Z")
        #expect(PagerDutyDate.format(date, in: TimeZone(identifier: "America/New_York")!) == "2015-11-09T08:00:00-05:00")
        #expect(PagerDutyDate.format(date, in: TimeZone(identifier: "Asia/Kolkata")!) == "2015-11-09T18:30:00+05:30")
        #expect(PagerDutyDate.format(date, fractionalSeconds: true) == "2015-11-09T13:00:00.000Z")
        for zone in ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "UTC", "Pacific/Chatham"] {
            let text = PagerDutyDate.format(date, in: TimeZone(identifier: zone)!)
            #expect(PagerDutyDate.parse(text) == date)
        }
    }

    @Test func daylightSavingChangesTheOffset() throws {
        let newYork = TimeZone(identifier: "America/New_York")!
        let summer = try #require(PagerDutyDate.parse("2026-07-01T12:00:00Z"))
        let winter = try #require(PagerDutyDate.parse("2026-12-01T12:00:00Z"))
        #expect(PagerDutyDate.format(summer, in: newYork) == "2026-07-01T08:00:00-04:00")
        #expect(PagerDutyDate.format(winter, in: newYork) == "2026-12-01T07:00:00-05:00")
    }
}
