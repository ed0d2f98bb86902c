import Foundation

/// RFC 3339 date-times, in and out: the one codec for PagerDuty's times, Indent's and Shiftgate's own
/// machine-readable output.
///
/// Reading is strict and calendar-aware: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, a real date
/// (no February 30), hours 0–23, minutes and seconds 0–59, an offset under 24 hours; `t`, `z` and a
/// space for the `T` are accepted as RFC 3339 allows. Anything else is nil. Hand-written rather than
/// `ISO8601FormatStyle`: a large account's sync reads hundreds of thousands of these, the webhook
/// reads one per request, and Foundation's style both costs a microsecond a time and accepts
/// impossible dates.
public enum RFC3339 {
    /// The time `text` names, or nil when it is not an RFC 3339 date-time.
    public static func parse(_ text: some StringProtocol) -> Date? {
        var copy = String(text)
        return copy.withUTF8 { parse(utf8: $0) }
    }

    /// As `parse(_:)`, over UTF-8 bytes.
    public static func parse(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count >= 20, bytes[4] == .hyphen, bytes[7] == .hyphen, bytes[13] == .colon, bytes[16] == .colon,
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t") || bytes[10] == UInt8(ascii: " ") else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            var value = 0
            for index in start..<start + count {
                let digit = bytes[index] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int(digit)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }

        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            var scale = 0.1
            while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                fraction += Double(bytes[index] &- UInt8(ascii: "0")) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), .hyphen:
            guard index + 6 == bytes.count, bytes[index + 3] == .colon,
                  let hours = number(index + 1, 2), let minutes = number(index + 4, 2), hours < 24, minutes < 60 else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == .hyphen ? -1 : 1)
        default:
            return nil
        }
        let seconds = CivilDate.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Digits after the seconds.
    public enum Fraction: Sendable {
        /// `…T09:00:00Z`: Shiftgate's own output and PagerDuty's queries.
        case none
        /// `…T09:00:00.000Z`: Indent's form.
        case milliseconds
    }

    /// `date` with the offset `zone` has at that instant: `2015-11-09T08:00:00-05:00`, or `…Z` in
    /// UTC. The fraction is cut, not rounded, so a time never moves past the instant it names.
    public static func format(_ date: Date, in zone: TimeZone = .gmt, fraction: Fraction = .none) -> String {
        let offset = zone.secondsFromGMT(for: date)
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) + Int64(offset) * 1000
        let (seconds, millisecond) = floorDivision(milliseconds, 1000)
        var text = CivilDate(localSeconds: seconds).text(separator: "T", alwaysSeconds: true)
        if fraction == .milliseconds { text += "." + pad(Int(millisecond), 3) }
        if offset == 0, isUTC(zone) {
            text += "Z"
        } else {
            let magnitude = abs(offset)
            text += (offset < 0 ? "-" : "+") + pad(magnitude / 3600, 2) + ":" + pad(magnitude % 3600 / 60, 2)
        }
        return text
    }

    static func isUTC(_ zone: TimeZone) -> Bool {
        zone == .gmt || ["UTC", "GMT", "Etc/UTC", "Etc/GMT"].contains(zone.identifier)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// Times for people: `2026-11-25 14:00 UTC`, with `:SS` only when the seconds are not zero (shifts
/// start on the minute), and the same wall-clock form in another zone where a schedule's local
/// time helps. Machines get `RFC3339.format` instead.
public enum ReadableTime {
    /// `2026-11-25 14:00 UTC`.
    public static func utc(_ date: Date) -> String {
        let parts = parts(date, in: .gmt)
        return "\(parts.date) \(parts.time) UTC"
    }

    /// Date `yyyy-MM-dd` and time `HH:mm` (`HH:mm:ss` when the seconds are not zero) in a zone.
    public static func parts(_ date: Date, in zone: TimeZone) -> (date: String, time: String) {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(zone.secondsFromGMT(for: date))
        let civil = CivilDate(localSeconds: seconds)
        let text = civil.text(separator: " ", alwaysSeconds: false)
        let space = text.firstIndex(of: " ")!
        return (String(text[..<space]), String(text[text.index(after: space)...]))
    }
}

/// A wall-clock date and time, from seconds since 1970 in some zone (the offset already added).
struct CivilDate {
    var year: Int
    var month: Int
    var day: Int
    var secondOfDay: Int

    init(localSeconds: Int64) {
        let (days, secondOfDay) = floorDivision(localSeconds, 86_400)
        (year, month, day) = Self.civil(days: Int(days))
        self.secondOfDay = Int(secondOfDay)
    }

    /// `2026-11-25T14:00:00`, or with `alwaysSeconds` false `2026-11-25 14:00` (seconds when not zero).
    func text(separator: Character, alwaysSeconds: Bool) -> String {
        var text = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + String(separator)
        text += pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay % 3600 / 60, 2)
        if alwaysSeconds || secondOfDay % 60 != 0 { text += ":" + pad(secondOfDay % 60, 2) }
        return text
    }

    // Howard Hinnant's days-from-civil and its inverse (proleptic Gregorian calendar).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Division rounding towards minus infinity, and the non-negative remainder.
func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
    var quotient = value / divisor
    var remainder = value % divisor
    if remainder < 0 {
        remainder += divisor
        quotient -= 1
    }
    return (quotient, remainder)
}

func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

extension UInt8 {
    static let hyphen = UInt8(ascii: "-")
    static let colon = UInt8(ascii: ":")
}

extension JSONDecoder.DateDecodingStrategy {
    /// RFC 3339 times with any offset, as PagerDuty writes them.
    public static var rfc3339: Self {
        .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time with an offset: \(text)")
            }
            return date
        }
    }
}

extension JSONEncoder.DateEncodingStrategy {
    /// RFC 3339 in UTC, whole seconds: Shiftgate's machine format.
    public static var rfc3339: Self {
        .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339.format(date))
        }
    }
}
