import Foundation
import Logging
import OnCallStore
import PostgresNIO

/// A snapshot's rows in and out of PostgreSQL, with SQLite's store's semantics: the same
/// duplicates dropped, the same NULLs, and the same order when read back (see `PostgresSchema` on
/// `ordinal` and collation).
///
/// Each table is written with one `INSERT … SELECT … FROM UNNEST(array binds)`: one statement and
/// one round trip per table whatever the row count, the values sent in binary. `COPY FROM STDIN`
/// (PostgresNIO 1.33's `copyFrom`, text format) was measured against it on a 10,000-user snapshot:
/// within a few percent in a release build, twice as slow in a debug one (its escaping is Swift
/// code), and it needs a hand-made text format. The server's work (indexes, foreign keys, the
/// commit) dominates either way.
enum SnapshotRows {
    static let snapshotColumns = """
        id, started_at, finished_at, window_start, window_end, user_count, schedule_count, shift_based_schedule_count,
        shift_count, policy_count, oncall_count, api_requests, rate_limited, read_kind
        """

    static func insertSnapshot(_ info: SnapshotInfo, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("""
            INSERT INTO snapshot (started_at, finished_at, window_start, window_end, user_count, schedule_count,
                                  shift_based_schedule_count, shift_count, policy_count, oncall_count, api_requests, rate_limited,
                                  read_kind)
            VALUES (\(UnixTime.seconds(info.startedAt)), \(UnixTime.seconds(info.finishedAt)), \(UnixTime.seconds(info.windowStart)),
                    \(UnixTime.seconds(info.windowEnd)), \(info.userCount), \(info.scheduleCount), \(info.shiftBasedScheduleCount),
                    \(info.shiftCount), \(info.policyCount), \(info.onCallCount), \(info.apiRequests), \(info.rateLimited),
                    \(info.read.rawValue))
            RETURNING id
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw PostgresStoreError(.server, "PostgreSQL numbered no snapshot")
    }

    /// The last of each run of elements with the same key, in the order of their last appearance:
    /// SQLite's INSERT OR REPLACE keeps the last listing of a user, schedule or policy.
    static func lastOfEach<T>(_ elements: [T], key: (T) -> String) -> [T] {
        var last: [String: Int] = [:]
        for (index, element) in elements.enumerated() { last[key(element)] = index }
        return elements.indices.filter { last[key(elements[$0])] == $0 }.map { elements[$0] }
    }

    static func insertRows(of contents: SnapshotContents, snapshot id: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        let users = lastOfEach(contents.users, key: \.id)
        if !users.isEmpty {
            try await connection.perform("""
                INSERT INTO "user" (snapshot_id, id, name, email, email_lower, time_zone)
                SELECT \(id), * FROM UNNEST(\(users.map(\.id))::text[], \(users.map(\.name))::text[], \(users.map(\.email))::text[],
                                            \(users.map(\.email.emailMatchKey))::text[], \(users.map(\.timeZone))::text[])
                """, logger: logger)
        }
        let schedules = lastOfEach(contents.schedules, key: \.id)
        if !schedules.isEmpty {
            try await connection.perform("""
                INSERT INTO schedule (snapshot_id, id, name, time_zone, description, kind, described_by_oncalls, confirmed_since, confirmed_until)
                SELECT \(id), * FROM UNNEST(\(schedules.map(\.id))::text[], \(schedules.map(\.name))::text[],
                                            \(schedules.map(\.timeZone))::text[], \(schedules.map(\.description))::text[],
                                            \(schedules.map(\.kind.rawValue))::text[], \(NullableArray(schedules.map(\.describedByOnCalls)))::boolean[],
                                            \(NullableArray(schedules.map { $0.confirmedSince?.unixSeconds }))::bigint[],
                                            \(NullableArray(schedules.map { $0.confirmedUntil?.unixSeconds }))::bigint[])
                """, logger: logger)
        }
        // A member listed twice is kept once (SQLite's INSERT OR IGNORE).
        var seenMembers = Set<ScheduleMember>()
        let members = contents.members.filter { seenMembers.insert($0).inserted }
        if !members.isEmpty {
            try await connection.perform("""
                INSERT INTO schedule_member (snapshot_id, schedule_id, user_id)
                SELECT \(id), * FROM UNNEST(\(members.map(\.scheduleId))::text[], \(members.map(\.userId))::text[])
                """, logger: logger)
        }
        for (table, times) in [("shift", contents.shifts.map(ScheduledTime.init)), ("override", contents.overrides.map(ScheduledTime.init))]
        where !times.isEmpty {
            try await connection.perform("""
                INSERT INTO \(unescaped: table) (snapshot_id, schedule_id, user_id, start, "end", ordinal)
                SELECT \(id), * FROM UNNEST(\(times.map(\.scheduleId))::text[], \(times.map(\.userId))::text[],
                                            \(times.map(\.start))::bigint[], \(times.map(\.end))::bigint[]) WITH ORDINALITY
                """, logger: logger)
        }
        let policies = lastOfEach(contents.policies, key: \.id)
        if !policies.isEmpty {
            try await connection.perform("""
                INSERT INTO escalation_policy (snapshot_id, id, name, num_loops)
                SELECT \(id), * FROM UNNEST(\(policies.map(\.id))::text[], \(policies.map(\.name))::text[],
                                            \(policies.map { Int64($0.numLoops) })::bigint[])
                """, logger: logger)
        }
        let targets = contents.targets
        if !targets.isEmpty {
            try await connection.perform("""
                INSERT INTO escalation_target (snapshot_id, policy_id, level, rule_id, delay_minutes, target_type, target_id, ordinal)
                SELECT \(id), * FROM UNNEST(\(targets.map(\.policyId))::text[], \(targets.map { Int64($0.level) })::bigint[],
                                            \(targets.map(\.ruleId))::text[], \(targets.map { Int64($0.delayMinutes) })::bigint[],
                                            \(targets.map(\.kind.rawValue))::text[], \(targets.map(\.targetId))::text[]) WITH ORDINALITY
                """, logger: logger)
        }
        let onCalls = contents.onCalls
        if !onCalls.isEmpty {
            try await connection.perform("""
                INSERT INTO oncall (snapshot_id, policy_id, level, schedule_id, user_id, start, "end", ordinal)
                SELECT \(id), * FROM UNNEST(\(onCalls.map(\.policyId))::text[], \(onCalls.map { Int64($0.level) })::bigint[],
                                            \(NullableArray(onCalls.map(\.scheduleId)))::text[], \(onCalls.map(\.userId))::text[],
                                            \(NullableArray(onCalls.map { $0.start.map(UnixTime.seconds) }))::bigint[],
                                            \(NullableArray(onCalls.map { $0.end.map(UnixTime.seconds) }))::bigint[]) WITH ORDINALITY
                """, logger: logger)
        }
    }

    /// A shift or an override, as its table stores it.
    private struct ScheduledTime {
        var scheduleId: String
        var userId: String
        var start: Int64
        var end: Int64

        init(_ entry: ScheduleEntry) {
            scheduleId = entry.scheduleId
            userId = entry.userId
            start = UnixTime.seconds(entry.start)
            end = UnixTime.seconds(entry.end)
        }
    }

    // MARK: Reads

    static func currentSnapshotId(on connection: PostgresConnection, logger: Logger) async throws -> Int64? {
        let rows = try await connection.query("SELECT current_snapshot_id FROM sync_state WHERE id = 1", logger: logger)
        for try await id in rows.decode(Int64?.self) { return id }
        return nil
    }

    /// The snapshots whose row matches `condition` (SQL written here, never a value), oldest first.
    static func snapshots(where condition: StaticString, on connection: PostgresConnection, logger: Logger) async throws -> [SnapshotInfo] {
        try await infos(connection.query(
            "SELECT \(unescaped: snapshotColumns) FROM snapshot WHERE \(unescaped: "\(condition)") ORDER BY id", logger: logger))
    }

    /// `snapshot` rows selected as `snapshotColumns`, in that order: the one place that knows it.
    private static func infos(_ rows: PostgresRowSequence) async throws -> [SnapshotInfo] {
        var snapshots: [SnapshotInfo] = []
        for try await row in rows.decode((Int64, Int64, Int64, Int64, Int64, Int, Int, Int, Int, Int, Int, Int, Int, String).self) {
            snapshots.append(SnapshotInfo(
                id: row.0, startedAt: UnixTime.date(row.1), finishedAt: UnixTime.date(row.2), windowStart: UnixTime.date(row.3),
                windowEnd: UnixTime.date(row.4), userCount: row.5, scheduleCount: row.6, shiftBasedScheduleCount: row.7,
                shiftCount: row.8, policyCount: row.9, onCallCount: row.10, apiRequests: row.11, rateLimited: row.12,
                read: SnapshotRead(rawValue: row.13) ?? .full))
        }
        return snapshots
    }

    /// One snapshot in full, in the order SQLite's store reads it back (`OnCallDatabase.contents`),
    /// ties included. Call it inside one REPEATABLE READ transaction.
    static func contents(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> SnapshotContents? {
        guard let info = try await infos(connection.query(
            "SELECT \(unescaped: snapshotColumns) FROM snapshot WHERE id = \(id)", logger: logger)).first else { return nil }
        var contents = SnapshotContents(info: info)

        for try await (userId, name, email, timeZone) in try await connection.query(
            #"SELECT id, name, email, time_zone FROM "user" WHERE snapshot_id = \#(id) ORDER BY id"#, logger: logger
        ).decode((String, String, String, String).self) {
            contents.users.append(User(id: userId, name: name, email: email, timeZone: timeZone))
        }
        for try await (scheduleId, name, timeZone, description, kind, described, confirmedSince, confirmedUntil) in try await connection.query(
            "SELECT id, name, time_zone, description, kind, described_by_oncalls, confirmed_since, confirmed_until FROM schedule WHERE snapshot_id = \(id) ORDER BY id",
            logger: logger
        ).decode((String, String, String, String, String, Bool?, Int64?, Int64?).self) {
            contents.schedules.append(Schedule(
                id: scheduleId, name: name, timeZone: timeZone, description: description, kind: ScheduleKind(rawValue: kind) ?? .layerBased,
                describedByOnCalls: described, confirmedSince: confirmedSince.map(UnixTime.date), confirmedUntil: confirmedUntil.map(UnixTime.date)))
        }
        for try await (scheduleId, userId) in try await connection.query(
            "SELECT schedule_id, user_id FROM schedule_member WHERE snapshot_id = \(id) ORDER BY schedule_id, user_id", logger: logger
        ).decode((String, String).self) {
            contents.members.append(ScheduleMember(scheduleId: scheduleId, userId: userId))
        }
        for (table, entries) in [("shift", \SnapshotContents.shifts), ("override", \SnapshotContents.overrides)] {
            for try await (scheduleId, userId, start, end) in try await connection.query(
                #"SELECT schedule_id, user_id, start, "end" FROM \#(unescaped: table) WHERE snapshot_id = \#(id) ORDER BY schedule_id, start, ordinal"#,
                logger: logger
            ).decode((String, String, Int64, Int64).self) {
                contents[keyPath: entries].append(ScheduleEntry(scheduleId: scheduleId, userId: userId, start: UnixTime.date(start), end: UnixTime.date(end)))
            }
        }
        for try await (policyId, name, numLoops) in try await connection.query(
            "SELECT id, name, num_loops FROM escalation_policy WHERE snapshot_id = \(id) ORDER BY id", logger: logger
        ).decode((String, String, Int).self) {
            contents.policies.append(EscalationPolicy(id: policyId, name: name, numLoops: numLoops))
        }
        for try await (policyId, level, ruleId, delay, kind, targetId) in try await connection.query("""
            SELECT policy_id, level, rule_id, delay_minutes, target_type, target_id FROM escalation_target WHERE snapshot_id = \(id)
            ORDER BY policy_id, level, target_type, target_id, ordinal
            """, logger: logger
        ).decode((String, Int, String, Int, String, String).self) {
            contents.targets.append(EscalationTarget(
                policyId: policyId, level: level, ruleId: ruleId, delayMinutes: delay, kind: EscalationTarget.Kind(rawValue: kind) ?? .user,
                targetId: targetId))
        }
        // SQLite finds these rows through oncall_by_snapshot (user_id, then rowid) and sorts them
        // stably; its NULLs sort first.
        for try await (policyId, level, scheduleId, userId, start, end) in try await connection.query("""
            SELECT policy_id, level, schedule_id, user_id, start, "end" FROM oncall WHERE snapshot_id = \(id)
            ORDER BY policy_id, level, start NULLS FIRST, user_id, ordinal
            """, logger: logger
        ).decode((String, Int, String?, String, Int64?, Int64?).self) {
            contents.onCalls.append(OnCall(
                policyId: policyId, level: level, scheduleId: scheduleId, userId: userId, start: start.map(UnixTime.date),
                end: end.map(UnixTime.date)))
        }
        return contents
    }
}
