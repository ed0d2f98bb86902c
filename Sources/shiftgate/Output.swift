import ArgumentParser
import Foundation
import OnCallStore
import Timestamps

/// `--format` of the commands that print for people (text) or for machines (JSON).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// A snapshot's facts as the JSON outputs print them.
struct SnapshotInfoJSON: Encodable {
    var id: Int64
    var startedAt: String
    var finishedAt: String
    var windowStart: String
    var windowEnd: String
    var users: Int
    var schedules: Int
    var shiftBasedSchedules: Int
    var shifts: Int
    var escalationPolicies: Int
    var onCallEntries: Int
    var apiRequests: Int
    var rateLimited: Int
    /// "full" or "refresh".
    var read: String

    init(_ info: SnapshotInfo) {
        id = info.id
        startedAt = RFC3339.format(info.startedAt)
        finishedAt = RFC3339.format(info.finishedAt)
        windowStart = RFC3339.format(info.windowStart)
        windowEnd = RFC3339.format(info.windowEnd)
        users = info.userCount
        schedules = info.scheduleCount
        shiftBasedSchedules = info.shiftBasedScheduleCount
        shifts = info.shiftCount
        escalationPolicies = info.policyCount
        onCallEntries = info.onCallCount
        apiRequests = info.apiRequests
        rateLimited = info.rateLimited
        read = info.read.rawValue
    }
}

/// The JSON of every `--format json`: snake_case keys, sorted, indented, slashes left alone.
func encodeJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
